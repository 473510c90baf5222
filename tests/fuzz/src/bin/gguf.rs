//! AFL++ target: `fin_r1_fuzz::targets::gguf`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::gguf(data));
}

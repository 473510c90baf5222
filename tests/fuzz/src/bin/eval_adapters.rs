//! AFL++ target: `fin_r1_fuzz::targets::eval_adapters`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::eval_adapters(data));
}

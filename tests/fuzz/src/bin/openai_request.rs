//! AFL++ target: `fin_r1_fuzz::targets::openai_request`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::openai_request(data));
}

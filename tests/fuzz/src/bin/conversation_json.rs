//! AFL++ target: `fin_r1_fuzz::targets::conversation_json`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::conversation_json(data));
}

//! AFL++ target: `fin_r1_fuzz::targets::document`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::document("pdf", data));
}

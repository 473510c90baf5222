//! AFL++ target: `fin_r1_fuzz::targets::preset_toml`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::preset_toml(data));
}

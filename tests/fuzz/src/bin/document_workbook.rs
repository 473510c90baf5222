//! AFL++ target: `fin_r1_fuzz::targets::document_workbook`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| fin_r1_fuzz::document_workbook(data));
}

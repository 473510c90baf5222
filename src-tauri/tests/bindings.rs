//! The UI's TypeScript bindings are generated from the Rust commands and types: the checked-in
//! `ui/src/bindings.ts` must be what the current code generates, so the page cannot drift from
//! the shell. `scripts/gen-bindings.sh` (FIN_R1_BLESS=1) rewrites it after a change.

use std::path::PathBuf;

#[test]
fn the_ui_bindings_are_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let generated = fin_r1_desktop::bindings::typescript().expect("generating the bindings");
    if std::env::var_os("FIN_R1_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("writing ui/src/bindings.ts");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "ui/src/bindings.ts is not what the Rust types generate: run scripts/gen-bindings.sh and commit it \
         (first differing line: {:?})",
        checked_in.lines().zip(generated.lines()).find(|(a, b)| a != b)
    );
}

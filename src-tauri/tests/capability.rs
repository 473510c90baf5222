//! Every command the UI is given (bindings.rs) has a permission (build.rs) and is allowed by the
//! window's capability: a command missing from either is "not allowed by ACL" in the window
//! only, never in a test that calls it directly (the backups' commands were, once).

use std::path::PathBuf;

fn read(rel: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)).expect(rel)
}

#[test]
fn every_command_of_the_ui_is_permitted_and_allowed() {
    let bindings = read("src/bindings.rs");
    let commands: Vec<&str> =
        bindings.lines().filter_map(|l| l.trim().strip_prefix("crate::commands::")).filter_map(|l| l.trim_end_matches(',').rsplit("::").next()).collect();
    assert!(commands.len() > 40, "{commands:?}");
    let build = read("build.rs");
    let capability = read("capabilities/default.json");
    for c in &commands {
        assert!(build.contains(&format!("\"{c}\"")), "{c} has no permission in build.rs");
        let allow = format!("\"allow-{}\"", c.replace('_', "-"));
        assert!(capability.contains(&allow), "{c} is not allowed by capabilities/default.json ({allow})");
    }
}

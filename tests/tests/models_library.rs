//! The model library: `fin-r1 models import` checks a GGUF before it joins; a malformed file is
//! refused with its reason and leaves the library as it was.

use std::process::Command;

use fin_r1_tests::{fin_r1_bin, scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};
use serde_json::Value;

fn models(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(fin_r1_bin()).arg("models").args(args).arg("--data-dir").arg(data).output().expect("run")
}

fn list(data: &std::path::Path) -> Vec<Value> {
    let out = models(data, &["list", "--json"]);
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout).expect("json").as_array().expect("array").clone()
}

#[test]
fn import_checks_the_file_and_a_bad_one_changes_nothing() {
    let data = scratch_dir().join(format!("library-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let good = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));

    let out = models(&data, &["import", "--json", good.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((m["architecture"].as_str(), m["quantization"].as_str(), m["source"].as_str()), (Some("qwen2"), Some("Q8_0"), Some("import")));
    assert_eq!(m["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(list(&data).len(), 1);

    // Cut in half: the tensor data runs past the end of the file.
    let bytes = std::fs::read(&good).expect("read");
    let truncated = scratch_dir().join("truncated-model.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let out = models(&data, &["import", truncated.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not imported") && err.contains("truncated-model.gguf"), "{err}");
    // Not a GGUF at all.
    let notes = scratch_dir().join("quarterly-notes.gguf");
    std::fs::write(&notes, "Q3 revenue up 4%").expect("write");
    let out = models(&data, &["import", notes.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a GGUF"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = models(&data, &["import", "/nonexistent/model.gguf"]);
    assert_eq!(out.status.code(), Some(1));

    let after = list(&data);
    assert_eq!(after.len(), 1, "the library is as it was");
    assert_eq!(after[0]["path"], m["path"]);

    // Importing again refreshes, it does not duplicate; remove forgets it, keeps the file.
    assert!(models(&data, &["import", good.to_str().expect("path")]).status.success());
    assert_eq!(list(&data).len(), 1);
    assert!(models(&data, &["remove", good.to_str().expect("path")]).status.success());
    assert!(list(&data).is_empty());
    assert!(good.is_file());
}

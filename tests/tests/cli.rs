//! The `fin-r1` command as a user runs it.

use std::process::Command;

use fin_r1_tests::{fin_r1_bin, fixture, scratch_dir, tiny_qwen2, TinySpec, SMOLLM2_FILE, THINKING_SCRIPT};
use serde_json::Value;

#[test]
fn chat_json_prints_reasoning_then_answer_events() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let out = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--model"])
        .arg(&model)
        .arg("What is the present value of $1,000 received in 2 years at a 5% annual discount rate?")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> =
        String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).filter(|t| *t != "prefill").collect();
    assert_eq!(types[0], "started", "the stored turn's ids come first");
    assert!(events[0]["conversation_id"].as_i64().is_some() && events[0]["answer_id"].as_i64().is_some());
    let first_answer = types.iter().position(|t| *t == "answer").expect("answer events");
    assert!(first_answer > 1 && types[1..first_answer].iter().all(|t| *t == "reasoning"), "{types:?}");
    assert_eq!(&types[types.len() - 2..], ["usage", "done"]);
    let answer: String = events.iter().filter(|e| e["type"] == "answer").map(|e| e["text"].as_str().expect("text")).collect();
    assert_eq!(answer, "The present value is about $907");
    assert_eq!(events.last().expect("done")["reason"], "end");
}

#[test]
fn chat_shows_labelled_reasoning_and_plain_answer() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let out = Command::new(fin_r1_bin()).args(["chat", "--temperature", "0", "--model"]).arg(&model).arg("PV?").output().expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "── Reasoning ──\nDiscount the cash flow twice at five percent\n── Answer ──\nThe present value is about $907\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("decode"));
}

#[test]
fn interactive_chat_keeps_the_conversation() {
    use std::io::Write;
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let mut child = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--model"])
        .arg(&model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"First question?\nAnd the second?\n/exit\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let usages: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str::<Value>(l).expect("json")).filter(|e| e["type"] == "usage").collect();
    assert_eq!(usages.len(), 2);
    // The second turn's prompt holds the first turn, most of it already cached.
    assert!(usages[1]["prompt_tokens"].as_u64() > usages[0]["prompt_tokens"].as_u64());
    assert!(usages[1]["cached_prompt_tokens"].as_u64().unwrap_or(0) > 10);
}

#[test]
fn inspect_describes_a_model_and_refuses_a_corrupt_one_in_one_line() {
    let out = Command::new(fin_r1_bin()).arg("inspect").arg(fixture(SMOLLM2_FILE)).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["architecture   llama", "Q4_1", "8192 tokens", "chat template  from the model", "sha256         b179c952"] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let bytes = std::fs::read(fixture(SMOLLM2_FILE)).expect("read");
    let corrupt = scratch_dir().join("corrupt-smollm2.gguf");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 3]).expect("write");
    let out = Command::new(fin_r1_bin()).arg("inspect").arg(&corrupt).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn chat_with_a_bad_model_fails_cleanly() {
    let not_a_model = scratch_dir().join("notes.gguf");
    std::fs::write(&not_a_model, "quarterly notes").expect("write");
    let out = Command::new(fin_r1_bin()).args(["chat", "--model"]).arg(&not_a_model).arg("hi").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a GGUF model file"));
    let out = Command::new(fin_r1_bin()).args(["chat", "--json", "--model"]).arg(&not_a_model).arg("hi").output().expect("run");
    let ev: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ev["type"], "error");
    assert_eq!(ev["kind"], "not_gguf");
}

#[test]
fn bench_json_reports_the_figures() {
    let out = Command::new(fin_r1_bin())
        .args(["bench", "--json", "--prompt-tokens", "32", "--gen-tokens", "4", "--model"])
        .arg(fixture(SMOLLM2_FILE))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in ["load_s", "prefill_tok_s", "decode_tok_s"] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {r}");
    }
    assert!(r["peak_rss_bytes"].as_u64().is_some_and(|v| v > 50_000_000), "{r}");
}

/// Issue 17 item 3: a preset's fixed prefix (system prompt and template head) is kept on disk,
/// and the next `fin-r1 chat` process runs only what the analyst typed.
#[test]
fn a_second_process_starts_from_the_presets_cached_prefix() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let root = scratch_dir().join(format!("cli-prefix-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ask = |facts: &str| -> Value {
        let out = Command::new(fin_r1_bin())
            .env("FIN_R1_CACHE_DIR", root.join("cache"))
            .args(["chat", "--json", "--temperature", "0", "--max-tokens", "4", "--scenario", "compliance"])
            .args(["--field", "rule=Funds may not promise returns.", "--field"])
            .arg(format!("facts={facts}"))
            .arg("--data-dir")
            .arg(root.join("data"))
            .arg("--model")
            .arg(&model)
            .arg("Is this allowed?")
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .find(|v| v["type"] == "usage")
            .expect("usage event")
    };
    let first = ask("An advert promised 8% a year.");
    assert_eq!(first["cached_prompt_tokens"], 0, "{first}");
    let second = ask("A salesman guaranteed the principal.");
    let cached = second["cached_prompt_tokens"].as_u64().expect("cached");
    let prompt = second["prompt_tokens"].as_u64().expect("prompt");
    assert!(cached > 150 && cached + 10 < prompt, "{second}");
    let files = std::fs::read_dir(root.join("cache").join("prompt-prefixes")).expect("cache folder").count();
    assert_eq!(files, 1, "one prefix for one preset and model");
    let _ = std::fs::remove_dir_all(&root);
}

/// Issue 17 item 7: a conversation keeps its whole first question as its title; the report's
/// heading is its first line, whole, and the list shows it short.
#[test]
fn a_long_question_is_titled_whole_and_listed_short() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = scratch_dir().join(format!("cli-long-title-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let first_line = "What is the net present value of a project costing $1m with inflows of $300k a year for five years at 8%?";
    let out = Command::new(fin_r1_bin())
        .args(["chat", "--temperature", "0", "--max-tokens", "4", "--data-dir"])
        .arg(&data)
        .arg("--model")
        .arg(&model)
        .arg(format!("{first_line}\nShow the working."))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = fin_r1_tests::export_latest_markdown(&data);
    assert!(md.starts_with(&format!("# {first_line}\n")), "{}", md.lines().next().unwrap_or(""));
    let out = Command::new(fin_r1_bin()).args(["conversations", "list", "--data-dir"]).arg(&data).output().expect("list");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("What is the net present value of a project costing $1m with…"), "{list}");
    let _ = std::fs::remove_dir_all(&data);
}

//! The evaluation harness: the rule scorer on a corpus of real-looking outputs, each adapter on a
//! slice of its real file, and runs through the `fin-r1` command (the in-process engine, resume,
//! re-scoring).

use std::collections::BTreeMap;
use std::process::Command;

use fin_r1_eval::score::{score, Output, Rules};
use fin_r1_eval::{load, Bench, Item, Kind};
use fin_r1_tests::{fin_r1_bin, repo_data, scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};
use serde_json::Value;

fn item(kind: Kind, answer: &str) -> Item {
    Item { id: "x".into(), bench: "t".into(), category: "c".into(), kind, question: "q".into(), context: None, choices: None, answer: answer.into() }
}

fn verdict(kind: Kind, gold: &str, text: &str, truncated: bool) -> (Option<String>, bool) {
    let v = score(&item(kind, gold), &Output { text, answer: None, truncated }, Rules::default());
    (v.extracted, v.correct)
}

#[test]
fn the_rule_scorer_on_real_looking_outputs() {
    use Kind::*;
    // (kind, gold, output, truncated, right?, what it read)
    type Case<'a> = (Kind, &'a str, &'a str, bool, bool, Option<&'a str>);
    let corpus: &[Case] = &[
        // Decoy numbers in the reasoning are not read.
        (Numeric, "35.8", "<think>60.94 - 25.14 = 35.80; maybe 42?</think><answer>The change is 35.8.</answer>", false, true, Some("35.8")),
        (Numeric, "35.8", "<think>The answer is 35.8 surely</think>I am not sure, perhaps 12.", false, false, Some("12")),
        // Cut off inside the reasoning: no answer at all, even with the right number in it.
        (Numeric, "907", "<think>discount twice: 1000/1.05^2 = 907.03 so the answer is", true, false, None),
        // Boxed LaTeX, thousands separators in TeX.
        (Numeric, "1234.5", "</think>\\[\\boxed{1{,}234.5}\\]", false, true, Some("1234.5")),
        (Numeric, "907.03", "<think>x</think>So the present value is \\boxed{\\$907.03}.", false, true, Some("907.03")),
        // Percent either way: a ratio gold, a percentage answer, and the other way round.
        (Numeric, "0.24408", "</think><answer>24.41%</answer>", false, true, Some("24.41%")),
        (Numeric, "24.4", "</think>The answer is 0.244", false, true, Some("0.244")),
        // Accounting negatives.
        (Numeric, "-35.2", "</think><answer>Operating income was $(35.2) million.</answer>", false, true, Some("-35.2")),
        (Numeric, "-0.09709", "</think>The answer is -9.7%.", false, true, Some("-9.7%")),
        // A unit word: tried as written and scaled.
        (Numeric, "3500000", "</think>The answer is 3.5 million.", false, true, Some("3.5")),
        (Numeric, "2.1", "</think>答案是2.1亿元。", false, true, Some("2.1")),
        // Rounding to the lesser precision; a real miss stays a miss.
        (Numeric, "1.42403", "</think>答案：1.42", false, true, Some("1.42")),
        (Numeric, "1.42403", "</think>答案：1.52", false, false, Some("1.52")),
        // No structure: the last number.
        (Numeric, "14", "<think>9 and 5</think>So we get 9 + 5 = 14", false, true, Some("14")),
        (Numeric, "14", "</think>I cannot tell from the table.", false, false, None),
        // Choice letters in prose, Chinese and English.
        (Choice, "B", "<think>A is wrong, C too</think><answer>B</answer>", false, true, Some("B")),
        (Choice, "C", "</think>综上所述，正确选项是C。", false, true, Some("C")),
        (Choice, "D", "</think>The answer is (D) because the rest are wrong.", false, true, Some("D")),
        (Choice, "A", "</think>\\boxed{A}", false, true, Some("A")),
        (Choice, "AC", "</think>答案：A、C", false, true, Some("AC")),
        (Choice, "B", "</think>A股市场的表现说明应选D。", false, false, Some("D")),
        // Yes / no, 是 / 否.
        (Yesno, "否", "<think>这涉及内幕信息</think><answer>否，不能透露。</answer>", false, true, Some("no")),
        (Yesno, "是", "</think>是的，这是合规的。", false, true, Some("yes")),
        (Yesno, "no", "</think>The answer is no: dividends fell.", false, true, Some("no")),
        (Yesno, "yes", "</think><answer>Yes.</answer>", false, true, Some("yes")),
        // Sentiment labels with synonyms.
        (Label, "bearish", "</think>The news is negative for the stock.", false, true, Some("bearish")),
        (Label, "bullish", "</think><answer>看涨</answer>", false, true, Some("bullish")),
        (Label, "neutral", "</think>Neutral.", false, true, Some("neutral")),
        // Spans.
        (Span, "fixed-price type contracts", "</think>They are mostly fixed-price type contracts.", false, true, None),
        (Span, "2019; 2018", "</think><answer>2019 and 2018</answer>", false, true, None),
        (Span, "2019; 2018", "</think><answer>2019</answer>", false, false, None),
    ];
    let mut failures = Vec::new();
    for (kind, gold, text, truncated, right, read) in corpus {
        let (extracted, correct) = verdict(*kind, gold, text, *truncated);
        let read_ok = read.is_none_or(|r| extracted.as_deref() == Some(r)) && (read.is_some() || *kind == Span || extracted.is_none());
        if correct != *right || !read_ok {
            failures.push(format!("{kind:?} gold {gold:?} from {text:?}: read {extracted:?}, {}", if correct { "right" } else { "wrong" }));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_engine_s_answer_channel_is_what_is_scored() {
    let it = item(Kind::Numeric, "907");
    let split = Output { text: "<think>1000 and 1.05</think>about 907", answer: Some("about 907"), truncated: false };
    assert!(score(&it, &split, Rules::default()).correct);
    // Reasoning only, cut off: no answer.
    let cut = Output { text: "<think>1000/1.1025 = 907", answer: Some(""), truncated: true };
    let v = score(&it, &cut, Rules::default());
    assert!(!v.correct && v.extracted.is_none(), "{v:?}");
    // FinQA's strict rule: 5 decimals, nothing else.
    let strict = Rules { strict: true };
    assert!(!score(&item(Kind::Numeric, "0.24408"), &Output { text: "24.41%", ..Default::default() }, strict).correct);
    assert!(score(&item(Kind::Numeric, "0.24408"), &Output { text: "0.244080", ..Default::default() }, strict).correct);
}

fn fixture(name: &str) -> std::path::PathBuf {
    repo_data("eval").join(name)
}

#[test]
fn each_adapter_reads_its_real_file() {
    let conv = load(Bench::Convfinqa, &fixture("convfinqa_dev.slice.json")).expect("convfinqa");
    assert_eq!(conv.len(), 9);
    let first = &conv[0];
    assert_eq!(
        (first.id.as_str(), first.category.as_str(), first.kind, first.answer.as_str()),
        ("Single_MRO/2007/page_134.pdf-1", "single", Kind::Numeric, "1.42403")
    );
    assert!(first.question.contains("Earlier questions") && first.question.ends_with("?"), "{}", first.question);
    let ctx = first.context.as_deref().expect("context");
    assert!(ctx.contains("| weighted average exercise price per share | $ 60.94 |"), "{ctx}");
    assert!(conv.iter().any(|i| i.category == "double"));
    assert!(conv.iter().any(|i| i.kind == Kind::Yesno && i.answer == "no"));

    let official = load(Bench::Convfinqa, &fixture("finqa_official.json")).expect("official layout");
    let ids: Vec<&str> = official.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["ACME/2019/page_12.pdf-1", "ACME/2019/page_40.pdf-2#qa_0", "ACME/2019/page_40.pdf-2#qa_1"]);
    assert_eq!(official[0].answer, "0.24408");
    assert!(official[0].context.as_deref().is_some_and(|c| c.contains("| operating income | 210.4 | (35.2) |") && c.contains("fixed-price")));
    assert_eq!((official[2].kind, official[2].answer.as_str()), (Kind::Yesno, "yes"));

    let tat = load(Bench::Tatqa, &fixture("tatqa_dev.slice.json")).expect("tatqa");
    assert_eq!(tat.len(), 18);
    let kinds: BTreeMap<&str, usize> = tat.iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(i.category.as_str()).or_default() += 1;
        m
    });
    assert_eq!(kinds, BTreeMap::from([("arithmetic", 7), ("multi-span", 3), ("span", 8)]));
    assert!(tat.iter().filter(|i| i.category == "arithmetic").all(|i| i.kind == Kind::Numeric));
    assert!(tat.iter().any(|i| i.category == "multi-span" && i.answer.contains("; ")));

    let tfns = load(Bench::Tfns, &fixture("tfns_valid.slice.csv")).expect("tfns");
    assert_eq!(tfns.len(), 30);
    assert_eq!((tfns[0].kind, tfns[0].answer.as_str()), (Kind::Label, "bearish"));
    assert!(tfns[0].question.starts_with("$ALLY"));

    let eva = load(Bench::FinEva, &fixture("fin-eva")).expect("fin-eva folder");
    assert_eq!(eva.len(), 24, "the answered rows only");
    let compliance: Vec<&Item> = eva.iter().filter(|i| i.category == "金融合规性").collect();
    assert_eq!(compliance.len(), 12);
    assert!(compliance.iter().all(|i| i.kind == Kind::Yesno && (i.answer == "是" || i.answer == "否")));
    let exam = eva.iter().find(|i| i.category == "银行从业资格考试").expect("exam");
    assert_eq!(exam.kind, Kind::Choice);
    assert_eq!(exam.choices.as_ref().map(|c| c.len()), Some(4));
    assert!(exam.is_chinese());

    let fineval = load(Bench::Fineval, &fixture("fineval/accounting_val.csv")).expect("fineval");
    assert_eq!(fineval.len(), 10);
    assert_eq!(fineval[0].category, "accounting");
    assert_eq!(fineval[0].answer, "B");
}

#[test]
fn a_bad_file_is_named_not_a_panic() {
    let dir = scratch_dir().join(format!("eval-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"1\"}\n").expect("write");
    let e = load(Bench::Jsonl, &bad).expect_err("incomplete item");
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = load(Bench::Convfinqa, &fixture("tfns_valid.slice.csv")).expect_err("not JSON");
    assert!(e.to_string().contains("not JSON"), "{e}");
}

fn own_items(dir: &std::path::Path) -> std::path::PathBuf {
    // The thinking fixture always answers "The present value is about $907".
    let items = [("pv-1", "907"), ("pv-2", "907.0"), ("pv-3", "1000"), ("other-1", "907")];
    let text: String = items
        .iter()
        .map(|(id, gold)| {
            let category = id.split('-').next().unwrap_or("x");
            serde_json::json!({"id": id, "bench": "own", "category": category, "kind": "numeric", "question": "PV of $1,000 in 2 years at 5%?", "answer": gold})
                .to_string()
                + "\n"
        })
        .collect();
    let path = dir.join("items.jsonl");
    std::fs::write(&path, text).expect("items");
    path
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

#[test]
fn a_run_through_the_local_engine_resumes_and_rescores() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let dir = scratch_dir().join(format!("eval-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = own_items(&dir);
    let out = dir.join("run");
    let run = |extra: &[&str]| {
        Command::new(fin_r1_bin())
            .args(["eval", "run", "--bench", "jsonl", "--data"])
            .arg(&items)
            .args(["--max-tokens", "64", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .expect("run")
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let predictions = lines(&out.join("predictions.jsonl"));
    assert_eq!(predictions.len(), 4);
    let p = &predictions[0];
    assert_eq!(p["reasoning"], "Discount the cash flow twice at five percent");
    assert_eq!(p["answer"], "The present value is about $907");
    assert_eq!(p["finish_reason"], "end", "the engine's own stop reason");
    assert!(p["completion_tokens"].as_u64().is_some_and(|n| n > 0));

    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
    let pv = &report["scores"]["own"]["pv"];
    assert_eq!((pv["num"].as_u64(), pv["correct"].as_u64()), (Some(3), Some(2)), "{report}");
    assert_eq!(report["scores"]["own"]["all"]["num"], 4);
    let reviews = lines(&out.join("reviews.jsonl"));
    let miss = reviews.iter().find(|r| r["id"] == "pv-3").expect("review");
    assert_eq!((miss["extracted"].as_str(), miss["correct"].as_bool()), (Some("907"), Some(false)));
    assert!(miss["reason"].as_str().is_some_and(|r| r.contains("1000")), "{miss}");
    let config: Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).expect("config")).expect("json");
    assert_eq!(config["model_sha256"].as_str().map(str::len), Some(64));
    assert!(config["system_prompt"].as_str().is_some_and(|s| s.contains("<answer>")));
    // Greedy unless --temperature says otherwise, as the paper's scores were made (the model's
    // own chat default is not a benchmark's); the run's seed, the flag's max tokens.
    assert_eq!(config["sampling"]["temperature"], 0.0, "{config}");
    assert_eq!((config["sampling"]["seed"].as_u64(), config["sampling"]["max_tokens"].as_u64()), (Some(42), Some(64)), "{config}");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(md.contains("| own | pv | 3 | 66.7 |"), "{md}");

    // The same folder again without --resume is refused; with it, nothing is asked again.
    let again = run(&[]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--resume"));
    let resumed = run(&["--resume"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(lines(&out.join("predictions.jsonl")).len(), 4, "nothing redone");
    // A different run into the same folder is refused, saying what differs.
    let other = run(&["--resume", "--limit", "1"]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("items chosen"), "{}", String::from_utf8_lossy(&other.stderr));

    // Re-scoring the outputs with no engine gives the same report.
    let rescored = dir.join("rescored");
    let s = Command::new(fin_r1_bin())
        .args(["eval", "score", "--items"])
        .arg(out.join("items.jsonl"))
        .arg("--predictions")
        .arg(out.join("predictions.jsonl"))
        .arg("--out")
        .arg(&rescored)
        .output()
        .expect("score");
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(rescored.join("report.json")).expect("report")).expect("json");
    assert_eq!(again["scores"], report["scores"]);

    let c = Command::new(fin_r1_bin()).args(["eval", "compare"]).arg(&out).arg(&rescored).output().expect("compare");
    let table = String::from_utf8_lossy(&c.stdout);
    assert!(c.status.success() && table.contains("| own | pv | 66.7 (n=3) | 66.7 (n=3) |"), "{table}");

    // The run as the app's Evaluate page reads it (the rescored folder holds no config: not a run).
    let listed = fin_r1_eval::runs::list(&dir);
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["run"]);
    assert_eq!((listed[0].planned, listed[0].answered, listed[0].score), (4, 4, Some(75.0)));
    let d = fin_r1_eval::runs::detail(&out).expect("detail");
    let miss = d.reviews.iter().find(|r| r.id == "pv-3").expect("pv-3");
    assert!(!miss.correct && miss.gold == "1000" && miss.extracted.as_deref() == Some("907"), "{miss:?}");
    assert_eq!(miss.reasoning, "Discount the cash flow twice at five percent");
    // And as the report it exports: provenance, the wrong answer with its reasoning, the disclaimer.
    let doc = fin_r1_eval::runs::document(&d, "test", "2026-12-02 12:00");
    let sha = config["model_sha256"].as_str().expect("sha");
    for want in [
        "## Provenance",
        "| Model SHA-256 |",
        sha,
        "items.jsonl",
        "### pv-3 (pv)",
        "> Discount the cash flow",
        "仅供参考",
        "for reference only",
        "`<think>`/`<answer>`",
    ] {
        assert!(doc.contains(want), "{want:?} in:\n{doc}");
    }
    let html = fin_r1_report::markdown_page("Evaluation", &doc);
    assert!(html.contains("<table") && html.contains("Provenance") && !html.contains("<script"), "{html}");
    let pdf = fin_r1_report::markdown_pdf("Evaluation", &doc).expect("pdf");
    assert!(pdf.starts_with(b"%PDF"));

    // Without --out a run goes where the app lists it; a folder made elsewhere can join it.
    let data_dir = dir.join("data");
    let plain = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--limit", "1", "--max-tokens", "64", "--data"])
        .arg(&items)
        .arg("--model")
        .arg(&model)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run");
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let runs_dir = data_dir.join("eval-runs");
    let listed = fin_r1_eval::runs::list(&runs_dir);
    assert!(listed.len() == 1 && listed[0].id.starts_with("jsonl-"), "{listed:?}");
    let added = fin_r1_eval::runs::import(&out, &runs_dir).expect("import");
    assert_eq!((added.run.id.as_str(), added.run.answered, added.skipped_links.len()), ("run", 4, 0));
    assert_eq!(fin_r1_eval::runs::list(&runs_dir).len(), 2);
    let no_out = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--resume", "--data"])
        .arg(&items)
        .arg("--model")
        .arg(&model)
        .output()
        .expect("run");
    assert!(!no_out.status.success() && String::from_utf8_lossy(&no_out.stderr).contains("--resume needs --out"));
}

/// A run folder written here by hand, as `fin-r1 eval run --out` leaves one: two items, one answered.
fn hand_made_run(dir: &std::path::Path) {
    use fin_r1_eval::RunConfig;
    std::fs::create_dir_all(dir).expect("run dir");
    let config = RunConfig {
        bench: "own".into(),
        data: BTreeMap::new(),
        engine: Some(fin_r1_core::store::EngineKind::Local),
        model: "tiny".into(),
        model_sha256: None,
        quantization: None,
        remote_url: None,
        sampling: Default::default(),
        system_prompt: None,
        scenario: None,
        prompt_version: fin_r1_eval::prompt::PROMPT_VERSION,
        limit: 1,
        seed: 42,
        strict: false,
        judge: None,
        items: vec!["pv-1".into(), "pv-2".into()],
    };
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&config).expect("json")).expect("config");
    let items: String = ["pv-1", "pv-2"]
        .iter()
        .map(|id| serde_json::json!({"id": id, "bench": "own", "category": "pv", "kind": "numeric", "question": "PV?", "answer": "907"}).to_string() + "\n")
        .collect();
    std::fs::write(dir.join("items.jsonl"), items).expect("items");
    // An earlier build's word for the end: it still reads.
    std::fs::write(dir.join("predictions.jsonl"), "{\"id\":\"pv-1\",\"output\":\"The answer is 907\",\"finish_reason\":\"stop\"}\n").expect("predictions");
}

/// A run's id is its folder's name, and any name opens: a space, Chinese (an imported folder, or
/// `--out` to such a folder). The id is looked up among the runs folder's own folders, so nothing
/// outside it opens.
#[test]
fn a_run_in_a_folder_named_with_spaces_or_in_chinese_opens() {
    use fin_r1_eval::runs;
    let root = scratch_dir().join(format!("eval-names-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let names = ["my run 1", "评测 运行", "convfinqa-20260101-120000"];
    for name in names {
        hand_made_run(&root.join(name));
    }
    hand_made_run(&scratch_dir().join(format!("eval-names-outside-{}", std::process::id())));
    let mut listed: Vec<String> = runs::list(&root).into_iter().map(|r| r.id).collect();
    listed.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    for name in names {
        let dir = runs::find(&root, name).unwrap_or_else(|e| panic!("{name:?} does not open: {e}"));
        let d = runs::detail(&dir).expect("detail");
        assert_eq!((d.summary.id.as_str(), d.summary.answered, d.reviews.len()), (name, 1, 1));
        assert_eq!(d.reviews[0].finish_reason, Some(fin_r1_engine::StopReason::End));
    }
    for bad in ["", ".", "..", "../eval-names-outside", &format!("../eval-names-outside-{}", std::process::id()), "my run", "/etc"] {
        assert!(runs::find(&root, bad).is_err(), "{bad:?} must not open");
    }
}

/// `import` copies the folder's own files: a link (to anything: a key file, /etc/passwd) is left
/// out and named; a run whose config is a link is refused.
#[cfg(unix)]
#[test]
fn importing_a_run_follows_no_link() {
    use fin_r1_eval::runs;
    let base = scratch_dir().join(format!("eval-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let secret = base.join("secret.txt");
    let src = base.join("从别处来的 run");
    hand_made_run(&src);
    std::fs::write(&secret, "sk-not-for-copying").expect("secret");
    std::os::unix::fs::symlink(&secret, src.join("notes.txt")).expect("link");
    std::os::unix::fs::symlink(&base, src.join("everything")).expect("dir link");
    let root = base.join("eval-runs");
    let added = runs::import(&src, &root).expect("import");
    assert_eq!(added.skipped_links, ["everything", "notes.txt"]);
    assert_eq!(added.run.id, "从别处来的 run");
    let dest = root.join("从别处来的 run");
    assert!(!dest.join("notes.txt").exists() && !dest.join("everything").exists());
    assert!(dest.join("config.json").is_file() && dest.join("predictions.jsonl").is_file());
    assert!(runs::detail(&runs::find(&root, &added.run.id).expect("opens")).is_ok());

    let linked = base.join("linked-config");
    hand_made_run(&linked);
    std::fs::remove_file(linked.join("config.json")).expect("rm");
    std::os::unix::fs::symlink(src.join("config.json"), linked.join("config.json")).expect("link");
    let e = runs::import(&linked, &root).expect_err("a linked config is refused");
    assert!(e.to_string().contains("config.json is a link"), "{e}");
    assert_eq!(runs::list(&root).len(), 1, "nothing half-copied");
}

#[test]
fn a_resumed_run_after_a_kill_loses_no_finished_item() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let dir = scratch_dir().join(format!("eval-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let text = fin_r1_tests::serve::eval_items(40);
    let items = dir.join("items.jsonl");
    std::fs::write(&items, text).expect("items");
    let out = dir.join("run");
    let cmd = |extra: &[&str]| {
        let mut c = Command::new(fin_r1_bin());
        c.args(["eval", "run", "--bench", "jsonl", "--data"])
            .arg(&items)
            .args(["--max-tokens", "64", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .args(extra);
        c
    };
    let mut child = cmd(&[]).stderr(std::process::Stdio::null()).spawn().expect("spawn");
    let predictions = out.join("predictions.jsonl");
    let t0 = std::time::Instant::now();
    while lines_count(&predictions) < 3 && t0.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let before: Vec<String> = std::fs::read_to_string(&predictions).unwrap_or_default().lines().map(str::to_owned).collect();
    assert!(before.len() >= 3 && before.len() < 40, "killed part way: {}", before.len());
    let resumed = cmd(&["--resume"]).output().expect("resume");
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let after: Vec<String> = std::fs::read_to_string(&predictions).unwrap_or_default().lines().map(str::to_owned).collect();
    let parsed: Vec<Value> = after.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ids: std::collections::BTreeSet<String> = parsed.iter().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(ids.len(), 40, "every item answered");
    assert_eq!(parsed.len(), 40, "none answered twice");
    // What was finished before the kill is kept as it was, not asked again.
    for line in before.iter().filter(|l| serde_json::from_str::<Value>(l).is_ok()) {
        assert!(after.contains(line), "lost: {line}");
    }
}

fn lines_count(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

/// `fin-r1 serve` on loopback, killed when dropped.
struct Served(std::process::Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(model: &std::path::Path) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(fin_r1_bin())
        .args(["serve", "--port", "0", "--served-model-name", "Fin-R1", "--model"])
        .arg(model)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start fin-r1 serve");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = loop {
        let line = lines.next().expect("fin-r1 serve exited before listening").expect("read");
        if let Some(rest) = line.split(" at ").nth(1) {
            break rest.split_whitespace().next().expect("address").trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let url = if base.ends_with("/v1") { base } else { format!("{base}/v1") };
    Served(child, url)
}

#[test]
fn a_run_through_a_remote_server_with_concurrent_requests() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let server = serve(&model);
    let dir = scratch_dir().join(format!("eval-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = own_items(&dir);
    let out = dir.join("run");
    let r = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--data"])
        .arg(&items)
        .args(["--max-tokens", "64", "--concurrency", "3", "--remote", &server.1, "--remote-model", "Fin-R1", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let predictions = lines(&out.join("predictions.jsonl"));
    assert_eq!(predictions.len(), 4);
    // The server's reasoning channel arrives apart, as the local engine's does.
    assert!(predictions.iter().all(|p| p["answer"] == "The present value is about $907" && p["error"].is_null()), "{predictions:?}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["engine"], "remote");
    assert_eq!(report["scores"]["own"]["pv"]["correct"], 2);
    let config: Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).expect("config")).expect("json");
    assert_eq!(config["remote_url"].as_str(), Some(server.1.as_str()));

    // A server that is gone: every item fails in words, and --resume asks them again later.
    drop(server);
    let dead = dir.join("dead");
    let r = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--data"])
        .arg(&items)
        .args(["--max-tokens", "8", "--timeout-s", "20", "--remote", "http://127.0.0.1:9/v1", "--out"])
        .arg(&dead)
        .output()
        .expect("run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let failed = lines(&dead.join("predictions.jsonl"));
    assert!(!failed.is_empty() && failed.iter().all(|p| p["error"].as_str().is_some_and(|e| e.contains("127.0.0.1:9"))), "{failed:?}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dead.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["scores"]["own"]["all"]["errors"], 4);
}

/// The LLM judge on a loopback server: a judge that answers in JSON decides; one that does not
/// is counted as a judge error and leaves the score, never counted wrong.
#[test]
fn an_llm_judge_on_loopback_decides_and_an_unreadable_one_is_a_judge_error() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let judge_model = tiny_qwen2(&TinySpec { name: "tiny-qwen2-judge".into(), ..TinySpec::thinking("Grading</think>{\"correct\": true}") });
    let judge = serve(&judge_model);
    let dir = scratch_dir().join(format!("eval-judge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = own_items(&dir);
    let run = |out: &std::path::Path, mode: &str, url: &str| {
        let r = Command::new(fin_r1_bin())
            .args(["eval", "run", "--bench", "jsonl", "--data"])
            .arg(&items)
            .args(["--max-tokens", "64", "--model"])
            .arg(&model)
            .args(["--judge", mode, "--judge-remote", url, "--judge-model", "Fin-R1", "--out"])
            .arg(out)
            .output()
            .expect("run");
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
        report
    };
    // llm: the judge says right to all four, the rules said wrong to one.
    let llm = run(&dir.join("llm"), "llm", &judge.1);
    assert_eq!(llm["scores"]["own"]["pv"]["correct"], 3, "{llm}");
    assert_eq!(lines(&dir.join("llm/judgements.jsonl")).len(), 4);
    let reviews = lines(&dir.join("llm/reviews.jsonl"));
    assert!(reviews.iter().all(|r| r["reason"].as_str().is_some_and(|t| t.starts_with("judge: right"))), "{reviews:?}");
    // llm-recall: asked only where the rules said wrong.
    let recall = run(&dir.join("recall"), "llm-recall", &judge.1);
    assert_eq!(recall["scores"]["own"]["pv"]["correct"], 3);
    assert_eq!(lines(&dir.join("recall/judgements.jsonl")).len(), 1);
    assert!(std::fs::read_to_string(dir.join("recall/report.md")).expect("md").contains("Judge: llm-recall"));
    drop(judge);
    // A judge that answers in prose: every item a judge error, none counted wrong.
    let prose = serve(&model);
    let bad = run(&dir.join("prose"), "llm", &prose.1);
    let pv = &bad["scores"]["own"]["pv"];
    assert_eq!((pv["judge_errors"].as_u64(), pv["correct"].as_u64()), (Some(3), Some(0)), "{bad}");
    let reviews = lines(&dir.join("prose/reviews.jsonl"));
    assert!(reviews.iter().all(|r| r["judge_error"] == true && r["reason"].as_str().is_some_and(|t| t.contains("not a JSON verdict"))), "{reviews:?}");
}

/// `--judge reasoning`: each reasoning chain graded on the seven criteria; the report gives the
/// share of good chains and each criterion's pass rate, and the answers keep their rule scores.
#[test]
fn a_reasoning_judge_grades_chains_on_seven_criteria() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    // Seven booleans repeat tokens, which the scripted tiny model cannot: a stub server says them.
    let verdict = r#"{"internal_consistency": true, "term_overlap": false, "three_steps": true, "consistent_with_reference": true, "no_repetition": true, "relevant": true, "follows_instructions": true}"#;
    let judge = stub_server(verdict);
    let dir = scratch_dir().join(format!("eval-reasoning-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = own_items(&dir);
    let out = dir.join("run");
    let r = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--data"])
        .arg(&items)
        .args(["--max-tokens", "64", "--model"])
        .arg(&model)
        .args(["--judge", "reasoning", "--judge-remote", &judge.1, "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
    let rs = &report["reasoning"];
    assert_eq!((rs["judged"].as_u64(), rs["good"].as_f64()), (Some(4), Some(0.0)), "{report}");
    assert_eq!(rs["criteria"]["term_overlap"], 0.0);
    assert_eq!(rs["criteria"]["three_steps"], 100.0);
    assert_eq!(report["scores"]["own"]["pv"]["correct"], 2, "answers keep their rule scores");
    assert!(std::fs::read_to_string(out.join("report.md")).expect("md").contains("| term_overlap | 0.0 |"));
}

/// An OpenAI-compatible server on loopback that streams `reply` to every chat request.
fn stub_server(reply: &'static str) -> Served {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (mut stream, _) = fin_r1_tests::http::read_request(stream);
            let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": reply}}]});
            let end = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
            let sse = format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n");
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sse}", sse.len());
        }
    });
    // No process to stop: the listener lives as long as the test.
    Served(Command::new("true").spawn().expect("true"), url)
}

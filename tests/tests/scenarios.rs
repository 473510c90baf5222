//! Scenario presets: the seven built-ins validate and fill as written; broken files each give an
//! error that names the file, the field and the fix; presets round-trip through export/import.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fin_r1_core::scenario::{self, FillError, Lang, Scenario};
use fin_r1_tests::{fin_r1_bin, scratch_dir};

fn preset_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/core/scenarios")
}

fn compliance_text() -> String {
    std::fs::read_to_string(preset_dir().join("compliance.toml")).expect("compliance.toml")
}

#[test]
fn every_built_in_validates() {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(preset_dir()).expect("presets") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = scenario::read_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.system_prompt.contains("<think>") && s.system_prompt.contains("</answer>"));
            assert!(s.starter_questions.len() >= 3, "{}: give at least three starter questions", s.id);
            assert!(!s.report.lead_sections.is_empty(), "{}", s.id);
            // The report leads with headings the system prompt asks the model to write.
            for sec in &s.report.lead_sections {
                assert!(s.system_prompt.contains(&format!("## {}", sec.zh)) || s.system_prompt.contains(&format!("## {}", sec.en)), "{}: {:?}", s.id, sec);
            }
            ids.push(s.id);
        }
    }
    ids.sort();
    assert_eq!(ids, ["calculation", "compliance", "english-finance", "esg", "financial-code", "investment-advisory", "risk-control"]);
    assert_eq!(scenario::built_in().len(), 7, "a built-in failed to parse at run time");
}

#[test]
fn broken_files_name_their_field() {
    let good = compliance_text();
    let cases: Vec<(&str, String, &str)> = vec![
        ("newer format", good.replace("format = 1", "format = 2"), "`format`"),
        ("bad id", good.replace("id = \"compliance\"", "id = \"Compliance Review\""), "`id`"),
        ("empty English name", good.replace("en = \"Compliance review\"", "en = \"\""), "`name.en`"),
        ("no Fin-R1 format", good.replace("<think>", "<thinking>"), "`system_prompt`"),
        ("unknown placeholder", good.replace("{facts}", "{fact}"), "`prompt_template`"),
        ("unused field", good.replace("{jurisdiction}", "Mainland"), "`fields[3]`"),
        ("no question", good.replace("{question}", ""), "`prompt_template`"),
        ("stray brace", good.replace("【问题 / Question】", "【问题 } Question】"), "`prompt_template`"),
        ("duplicate field", good.replace("name = \"facts\"", "name = \"rule\""), "`fields[2].name`"),
        ("select without options", good.replace("options = [\"中国内地", "# options = [\"中国内地"), "`fields[3].options`"),
        ("temperature out of range", good.replace("temperature = 0.6", "temperature = 5.0"), "`sampling.temperature`"),
        ("typo in a key", good.replace("top_p = 0.8", "top_pp = 0.8"), "top_pp"),
        ("missing table", good.replace("[report]", "[reports]"), "reports"),
        ("not TOML", "this is { not toml".into(), "broken.toml"),
    ];
    for (what, text, needle) in cases {
        assert_ne!(text, good, "{what}: the mutation did not apply");
        let err = Scenario::parse(&text, "broken.toml").expect_err(what).to_string();
        assert!(err.starts_with("broken.toml"), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err:?} should name {needle}");
    }
}

#[test]
fn forms_fill_the_prompt_template() {
    let lib = scenario::Library::load(None);
    let calc = lib.get("calculation").expect("calculation");
    let q = "What is the present value of $1,000 received in 2 years at a 5% annual discount rate?";
    let filled = calc.fill(q, &BTreeMap::new(), Lang::En).expect("fill");
    assert_eq!(filled, q, "empty optional fields leave no trace");
    let mut v = BTreeMap::new();
    v.insert("rate".to_owned(), "5".to_owned());
    v.insert("cash_flows".to_owned(), "Year 2: 1,000".to_owned());
    let filled = calc.fill(q, &v, Lang::En).expect("fill");
    assert!(filled.contains("Year 2: 1,000") && filled.contains("(%)：5"), "{filled}");
    v.insert("rate".to_owned(), "five".to_owned());
    assert!(matches!(calc.fill(q, &v, Lang::En), Err(FillError::NotANumber { field, .. }) if field == "rate"));

    let comp = lib.get("compliance").expect("compliance");
    let err = comp.fill("Is this allowed?", &BTreeMap::new(), Lang::Zh).expect_err("rule is required");
    assert_eq!(err.to_string(), "\"法规或制度条文\" is required");
    let mut v = BTreeMap::new();
    v.insert("rule".to_owned(), "第二十四条 不得承诺保本保收益".to_owned());
    v.insert("facts".to_owned(), "朋友圈宣传年化8%保本".to_owned());
    v.insert("jurisdiction".to_owned(), "Mars".to_owned());
    assert!(matches!(comp.fill("合规吗？", &v, Lang::Zh), Err(FillError::NotAnOption { .. })));
    v.insert("jurisdiction".to_owned(), "中国内地 Mainland China".to_owned());
    let filled = comp.fill("合规吗？", &v, Lang::Zh).expect("fill");
    assert!(filled.contains("第二十四条") && filled.contains("朋友圈") && filled.ends_with("合规吗？"), "{filled}");

    let code = lib.get("financial-code").expect("code");
    let mut v = BTreeMap::new();
    v.insert("existing_code".to_owned(), "def f(x):\n    return x".to_owned());
    assert!(code.fill("Fix it", &v, Lang::En).expect("fill").contains("Existing code：\n```\ndef f(x):\n    return x\n```"));
}

#[test]
fn cli_exports_validates_and_imports_a_preset() {
    let dir = scratch_dir().join(format!("scenarios-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let data = dir.join("data");
    let file = dir.join("credit.toml");
    let out = Command::new(fin_r1_bin()).args(["scenarios", "export", "risk-control", "-o"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).expect("exported").replace("id = \"risk-control\"", "id = \"credit-review\"");
    std::fs::write(&file, text).expect("write");

    let out = Command::new(fin_r1_bin()).args(["scenarios", "validate"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(fin_r1_bin()).args(["scenarios", "import", "--data-dir"]).arg(&data).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(fin_r1_bin()).args(["scenarios", "list", "--data-dir"]).arg(&data).output().expect("run");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("credit-review") && listed.contains("compliance"), "{listed}");

    // Importing a built-in's id is refused; a broken file names its field in one line.
    let out = Command::new(fin_r1_bin()).args(["scenarios", "import", "--data-dir"]).arg(&data).arg(preset_dir().join("esg.toml")).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, compliance_text().replace("temperature = 0.6", "temperature = -1.0")).expect("write");
    let out = Command::new(fin_r1_bin()).args(["scenarios", "validate"]).arg(&broken).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("broken.toml") && err.contains("`sampling.temperature`"), "{err}");
}

#[test]
fn chat_runs_a_scenario_and_refuses_an_incomplete_form() {
    use fin_r1_tests::{tiny_qwen2, TinySpec, THINKING_SCRIPT};
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let out = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--scenario", "calculation", "--field", "rate=5", "--model"])
        .arg(&model)
        .arg("PV of $1,000 in 2 years?")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let usage: serde_json::Value =
        stdout.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")).find(|v| v["type"] == "usage").expect("usage event");
    // The scenario's system prompt and the filled form are in the prompt.
    assert!(usage["prompt_tokens"].as_u64().expect("prompt tokens") > 150, "{usage}");

    let out = Command::new(fin_r1_bin()).args(["chat", "--scenario", "compliance", "--model"]).arg(&model).arg("Is this allowed?").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is required"));
}

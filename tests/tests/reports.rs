//! Reports from a conversation that holds Chinese and English, a table, math, code and an
//! interrupted answer: Markdown and HTML carry the provenance and the disclaimer, the HTML is
//! one file that fetches nothing and runs nothing (checked in headless Chromium, screenshot
//! not blank), and JSON export → import → export gives the same file.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fin_r1_core::store::{EngineKind, EngineRef, Outcome, Provenance, Store};
use fin_r1_engine::{SamplingParams, Usage};
use fin_r1_tests::{fin_r1_bin, scratch_dir};

const ANSWER: &str = "## 结论 / Verdict\n\n不合规 (not compliant): 适当性评估缺失。\n\n| 条款 / Clause | 事实 / Fact | 判断 / Finding |\n|---|---|---|\n| 第6条 | 未做风险测评 | 违反 |\n\n## 计算 / Calculation\n\n$$PV = \\frac{1000}{(1+0.05)^2} = \\boxed{907.03}$$\n\n```python\ndef pv(fv, r, n):\n    return fv / (1 + r) ** n\n```\n\n## 风险与整改建议 / Risks and remediation\n\n补做风险测评，暂停销售。";

fn data_dir(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A compliance conversation: one complete answer, one cut off by a crash.
fn seed(dir: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let (store, _) = Store::open(dir).await.expect("open");
        let c = store.create_conversation("理财产品销售合规审查 / Sales compliance review", Some("compliance"), None, Some("Fin-R1-Q4_K_M.gguf")).await.expect("conversation");
        let form: fin_r1_core::store::QuestionForm = serde_json::from_value(serde_json::json!({ "question": "这笔理财产品销售是否合规？ Is this sale compliant?", "fields": { "facts": "向C1保守型客户销售R4产品", "rule": "《证券期货投资者适当性管理办法》" } })).expect("form");
        let q = store.add_question(c.id, None, "filled prompt", Some("compliance"), Some(&form)).await.expect("question");
        let p = Provenance {
            engine: EngineRef { engine: EngineKind::Local, model_file: Some("Fin-R1-Q4_K_M.gguf".into()), model_sha256: Some("ab".repeat(32)), quantization: Some("Q4_K_M".into()), remote_url: None },
            system_prompt: Some("You are Fin-R1".into()),
            sampling: Some(SamplingParams { temperature: 0.7, top_p: 0.8, top_k: 20, repetition_penalty: 1.05, max_tokens: 4000, seed: Some(42), stop: vec![] }),
            scenario_id: Some("compliance".into()),
        };
        let a = store.begin_answer(c.id, q.id, &p).await.expect("begin");
        let usage = Usage { prompt_tokens: 120, cached_prompt_tokens: 0, reasoning_tokens: 300, answer_tokens: 180, time_to_first_token_ms: 850.0, prefill_tok_s: 140.0, decode_tok_s: 9.5, total_ms: 52_000.0 };
        let o = Outcome { reasoning: "先找适用条款，再逐条对照事实。Check the clause, then the facts. 损失 = 200,000 × 12% = 25,000。".into(), answer: ANSWER.into(), stop_reason: Some(fin_r1_engine::StopReason::End), usage: Some(usage), seed: Some(42), ..Default::default() };
        store.finish_answer(a.id, &o).await.expect("finish");
        let q2 = store.add_question(c.id, Some(a.id), "Summarise the remediation in English.", None, None).await.expect("q2");
        let a2 = store.begin_answer(c.id, q2.id, &p).await.expect("begin 2");
        store.checkpoint(a2.id, "", "Remediation: re-run the suitability test and").await.expect("checkpoint");
        // The process died: its row went stale.
        sqlx::query("UPDATE messages SET updated_at = 0 WHERE id = ?1").bind(a2.id).execute(store.pool()).await.expect("age");
        store.mark_interrupted().await.expect("interrupted");
        store.close().await;
    });
}

fn export(dir: &Path, format: &str, reasoning: &str, out: &Path) {
    let o = Command::new(fin_r1_bin())
        .args(["export", "--conversation", "latest", "--format", format, "--reasoning", reasoning, "--data-dir"])
        .arg(dir)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn markdown_and_html_reports_carry_the_answer_provenance_and_disclaimer() {
    let dir = data_dir("md");
    seed(&dir);
    let md_path = dir.join("report.md");
    export(&dir, "md", "full", &md_path);
    let md = std::fs::read_to_string(&md_path).expect("md");
    for want in [
        "# 理财产品销售合规审查 / Sales compliance review",
        "时区 / Time zone",
        "合规审查 / Compliance review",
        "这笔理财产品销售是否合规？ Is this sale compliant?",
        // The preset's labels, in its form's order.
        "| 法规或制度条文 / Regulation or policy text | 《证券期货投资者适当性管理办法》 |\n| 业务事实 / Business facts | 向C1保守型客户销售R4产品 |",
        "> 先找适用条款",
        "| 第6条 | 未做风险测评 | 违反 |",
        "\\boxed{907.03}",
        "```python",
        &"ab".repeat(32),
        "temperature 0.7 · top-p 0.8",
        "| Seed | 42 |",
        "120 prompt · 300 reasoning · 180 answer",
        "Interrupted",
        "Remediation: re-run the suitability test and",
        "仅供参考",
        "for reference only",
    ] {
        assert!(md.contains(want), "the Markdown lacks {want:?}:\n{md}");
    }
    // The calculation check: the answer's PV agrees, the reasoning's loss does not.
    for want in [
        "计算核对 / Calculation check: 1 个回答含计算 / answers with calculations, 1 个有不一致 / with a differing result",
        "**计算核对 / Calculations checked: 2 · 1 一致 / agree · 1 不一致 / differ**",
        "- ≠ 推理 / Reasoning: `200,000 × 12% = 25,000` → 24000",
    ] {
        assert!(md.contains(want), "the Markdown lacks {want:?}:\n{md}");
    }
    // The compliance preset leads with its verdict.
    let summary = md.find("## 摘要 / Summary").expect("summary");
    assert!(summary < md.find("## 问题 1").expect("question"), "the summary comes first");
    assert!(md[summary..].find("不合规").expect("verdict") < md.find("## 问题 1").expect("q") - summary);

    let html_path = dir.join("report.html");
    export(&dir, "html", "collapsed", &html_path);
    let html = std::fs::read_to_string(&html_path).expect("html");
    assert!(html.contains("<details class=\"reasoning\"><summary>"), "collapsed reasoning");
    assert!(html.contains("<math") && html.contains("menclose"), "math as MathML");
    assert!(html.contains("<table>") && html.contains("hl-"), "a table and highlighted code");
    assert!(html.contains("@media print") && html.contains("break-inside:avoid"));
    assert!(
        html.contains("<mark class=\"calc-differs\">25,000</mark><span class=\"calc-recomputed\" title=\"24000\">≠ 24000</span>"),
        "the differing result marked in the reasoning"
    );
    assert!(html.contains("不一致 / differ") && html.contains("calc-overview"));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script") && !lower.contains(" src=\"http") && !lower.contains("url(http") && !lower.contains("<link"), "self-contained");
    export(&dir, "html", "none", &html_path);
    assert!(!std::fs::read_to_string(&html_path).expect("html").contains("先找适用条款"), "reasoning left out");
}

/// Opens `page` in headless Chromium with every request sent to a counting proxy; returns the
/// requests the page made (Chromium's own calls home to Google's update, time and account
/// services are not the page's and are left out) and the screenshot.
fn open_in_chromium(page: &Path, dir: &Path, name: &str) -> (Vec<String>, PathBuf) {
    let proxy = TcpListener::bind("127.0.0.1:0").expect("proxy");
    let port = proxy.local_addr().expect("addr").port();
    proxy.set_nonblocking(true).expect("nonblocking");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let stop = Arc::new(AtomicUsize::new(0));
    let done = stop.clone();
    let listener = std::thread::spawn(move || {
        while done.load(Ordering::Relaxed) == 0 {
            match proxy.accept() {
                Ok((mut s, _)) => {
                    let mut buf = [0u8; 1024];
                    let n = s.read(&mut buf).unwrap_or(0);
                    let line = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_owned();
                    log.lock().expect("lock").push(line);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let shot = dir.join(format!("{name}.png"));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", dir.join(format!("profile-{name}")).display()))
        .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (scripts/setup.sh installs it)");
    assert!(shot.is_file(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    stop.store(1, Ordering::Relaxed);
    let _ = listener.join();
    let own = ["google.com", "googleapis.com", "gstatic.com", "gvt1.com"];
    let page_requests = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| {
            let host = l.split_whitespace().nth(1).unwrap_or("").trim_start_matches("http://").split(['/', ':']).next().unwrap_or("").to_owned();
            !own.iter().any(|o| host == *o || host.ends_with(&format!(".{o}")))
        })
        .cloned()
        .collect();
    (page_requests, shot)
}

#[test]
fn the_html_report_opens_in_chromium_without_touching_the_network() {
    let dir = data_dir("chromium");
    seed(&dir);
    let html = dir.join("report.html");
    export(&dir, "html", "full", &html);
    // The check can fail: a page with a remote image is caught.
    let control = dir.join("control.html");
    std::fs::write(&control, "<html><body><img src=\"http://remote-image.example/x.png\">x</body></html>").expect("control");
    let (requests, _) = open_in_chromium(&control, &dir, "control");
    assert!(requests.iter().any(|r| r.contains("remote-image.example")), "the proxy saw no request from the control page: {requests:?}");

    let (requests, shot) = open_in_chromium(&html, &dir, "report");
    assert!(requests.is_empty(), "the report made network requests: {requests:?}");
    // Not blank: the pixels vary.
    let sd = Command::new("convert").arg(&shot).args(["-colorspace", "gray", "-format", "%[fx:standard_deviation]", "info:"]).output().expect("imagemagick");
    let sd: f64 = String::from_utf8_lossy(&sd.stdout).trim().parse().expect("a number");
    assert!(sd > 0.05, "the screenshot looks blank (standard deviation {sd})");
}

#[test]
fn json_export_import_export_is_the_same_file() {
    let dir = data_dir("json");
    seed(&dir);
    let first = dir.join("one.json");
    export(&dir, "json", "full", &first);
    let other = data_dir("json-import");
    let imported = Command::new(fin_r1_bin()).arg("import").arg(&first).arg("--data-dir").arg(&other).output().expect("import");
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let second = dir.join("two.json");
    export(&other, "json", "full", &second);
    let norm = |p: &Path| -> String {
        std::fs::read_to_string(p).expect("read").lines().filter(|l| !l.trim_start().starts_with("\"exported_at\"")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(norm(&first), norm(&second), "the round trip lost or changed something");
    // Importing into the same store again keeps both (a new uid for the copy).
    let again = Command::new(fin_r1_bin()).arg("import").arg(&first).arg("--data-dir").arg(&other).output().expect("import");
    assert!(again.status.success());
    // A file of another kind is refused clearly.
    let bogus = dir.join("bogus.json");
    std::fs::write(&bogus, r#"{"format":"something-else","version":1}"#).expect("write");
    let bad = Command::new(fin_r1_bin()).arg("import").arg(&bogus).arg("--data-dir").arg(&other).output().expect("import");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a Fin-R1 conversation"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn the_pdf_report_holds_chinese_text_and_every_page_renders() {
    let dir = data_dir("pdf");
    seed(&dir);
    let pdf = dir.join("report.pdf");
    export(&dir, "pdf", "full", &pdf);
    assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF-"));
    // Selectable text: the Chinese question comes back as Chinese, not boxes.
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for want in
        ["这笔理财产品销售是否合规", "Is this sale compliant?", "仅供参考", "for reference only", "第6条", "Interrupted", "1 / ", "不一致 / differ", "→ 24000"]
    {
        assert!(text.contains(want), "the PDF's text lacks {want:?}:\n{text}");
    }
    // The CJK font is embedded (as a subset), so the reader needs none of its own.
    let fonts = Command::new("pdffonts").arg(&pdf).output().expect("pdffonts");
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.lines().any(|l| l.contains("CJK") || l.contains("Droid")), "{fonts}");
    assert!(fonts.lines().skip(2).all(|l| l.split_whitespace().rev().nth(4) == Some("yes")), "every font embedded: {fonts}");
    // Every page renders.
    let info = Command::new("pdfinfo").arg(&pdf).output().expect("pdfinfo");
    let pages: usize =
        String::from_utf8_lossy(&info.stdout).lines().find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().expect("pages"))).expect("page count");
    assert!(pages >= 2, "{pages} pages");
    let prefix = dir.join("page");
    let out = Command::new("pdftoppm").args(["-r", "60", "-png"]).arg(&pdf).arg(&prefix).output().expect("pdftoppm");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rendered = std::fs::read_dir(&dir).expect("dir").filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("page-"))).count();
    assert_eq!(rendered, pages);
}

#[test]
fn the_word_report_reads_back_with_its_tables_provenance_and_disclaimer() {
    let dir = data_dir("docx");
    seed(&dir);
    let docx = dir.join("report.docx");
    export(&dir, "docx", "full", &docx);
    // Read back by the app's own Word reader, as an analyst's Word would open it.
    let doc = fin_r1_core::documents::extract(&docx).expect("the .docx reads back");
    let md = doc.to_markdown();
    for want in [
        "理财产品销售合规审查 / Sales compliance review",
        "这笔理财产品销售是否合规？ Is this sale compliant?",
        "向C1保守型客户销售R4产品",
        "先找适用条款",
        "第6条",
        "未做风险测评",
        &"ab".repeat(32),
        "Interrupted",
        "仅供参考",
        "for reference only",
    ] {
        assert!(md.contains(want), "the Word report lacks {want:?}:\n{md}");
    }
    // Its tables are Word tables (the form's, the answer's, the provenance), each with a header
    // row that repeats on every page it runs onto.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&docx).expect("open")).expect("a zip package");
    let mut xml = String::new();
    zip.by_name("word/document.xml").expect("the body").read_to_string(&mut xml).expect("read");
    assert!(xml.matches("<w:tbl>").count() >= 3, "tables");
    assert_eq!(xml.matches("<w:tbl>").count(), xml.matches("<w:tblHeader/>").count());
    let mut core = String::new();
    zip.by_name("docProps/core.xml").expect("the properties").read_to_string(&mut core).expect("read");
    assert!(core.contains("Fin-R1 Desktop") && core.contains("for reference only"), "{core}");
}

/// Issue 30: a preset's long form table moved whole to page 2 and left page 1 mostly blank.
#[test]
fn a_long_form_table_starts_on_the_first_page_and_runs_on_with_its_header() {
    let dir = data_dir("long-form");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let (store, _) = Store::open(&dir).await.expect("open");
        let c = store.create_conversation("Suitability review", Some("compliance"), None, None).await.expect("conversation");
        let facts: String = (1..=90).map(|i| format!("Fact {i}: the client signed form {i} on day {i}; ")).collect();
        let form: fin_r1_core::store::QuestionForm =
            serde_json::from_value(serde_json::json!({ "question": "Is this sale compliant?", "fields": { "facts": facts, "rule": "Suitability rules" } }))
                .expect("form");
        let q = store.add_question(c.id, None, "filled prompt", Some("compliance"), Some(&form)).await.expect("question");
        let a = store.begin_answer(c.id, q.id, &Provenance::default()).await.expect("begin");
        let o = Outcome { answer: "Not compliant.".into(), stop_reason: Some(fin_r1_engine::StopReason::End), ..Default::default() };
        store.finish_answer(a.id, &o).await.expect("finish");
        store.close().await;
    });
    let pdf = dir.join("long.pdf");
    export(&dir, "pdf", "full", &pdf);
    let page = |n: u32| {
        let out = Command::new("pdftotext").args(["-f", &n.to_string(), "-l", &n.to_string()]).arg(&pdf).arg("-").output().expect("pdftotext");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = page(1);
    assert!(first.contains("Field") && first.contains("Fact 1:"), "the table starts on page 1:\n{first}");
    let second = page(2);
    assert!(second.contains("Fact 90") || page(3).contains("Fact 90"), "the table runs on");
    assert!(second.contains("Field"), "its header row repeats on the next page:\n{second}");
}

#[test]
fn every_conversation_exports_into_a_folder() {
    let dir = data_dir("all");
    seed(&dir);
    seed(&dir);
    let out = dir.join("reports");
    let run = Command::new(fin_r1_bin()).args(["export", "--all", "--format", "md", "--data-dir"]).arg(&dir).arg("-o").arg(&out).output().expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut files: Vec<String> =
        std::fs::read_dir(&out).expect("folder").filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".md") && f.contains("理财产品销售合规审查")), "{files:?}");
    for f in &files {
        assert!(std::fs::read_to_string(out.join(f)).expect("report").contains("仅供参考"));
    }
}

/// Conversation file format v1 is pinned by a checked-in file (written by the first v1 build's
/// layout): it imports, and exports back the same bytes apart from the export time and the app
/// version. A renamed store field can no longer change the format unnoticed. (Its interrupted
/// answer once carried the stop reason "interrupted": the status says it, and a stop reason
/// is now one the engine gives, so an older file's reads back as null.)
#[test]
fn the_v1_conversation_file_is_pinned() {
    let pinned = fin_r1_tests::repo_data("conversation-v1.json");
    let dir = data_dir("json-pinned");
    let imported = Command::new(fin_r1_bin()).arg("import").arg(&pinned).arg("--data-dir").arg(&dir).output().expect("import");
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let out = dir.join("again.json");
    export(&dir, "json", "full", &out);
    let norm = |p: &Path| -> String {
        std::fs::read_to_string(p)
            .expect("read")
            .lines()
            .filter(|l| !l.trim_start().starts_with("\"exported_at\"") && !l.trim_start().starts_with("\"app_version\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(norm(&pinned), norm(&out), "conversation file v1 changed");
}

/// A conversation file from elsewhere is held to the app's own bounds (issue 27): a title of
/// 50 MB, an answer past 16 MB or a hundred thousand and one messages are refused, the field
/// named; nothing is stored.
#[test]
fn a_conversation_file_past_its_bounds_is_refused_naming_the_field() {
    let pinned = std::fs::read_to_string(fin_r1_tests::repo_data("conversation-v1.json")).expect("pinned");
    let file = fin_r1_report::from_json(&pinned).expect("the pinned file reads");
    assert!(fin_r1_report::check_bounds(&file).is_ok());
    let mut long_title = file.clone();
    long_title.conversation.title = "x".repeat(50 << 20);
    let e = fin_r1_report::check_bounds(&long_title).expect_err("a 50 MB title");
    assert!(e.to_string().starts_with("the title is 52428800 characters; a conversation file may have at most 10000"), "{e}");
    let mut long_answer = file.clone();
    long_answer.messages[1].answer = "9".repeat((16 << 20) + 1);
    let e = fin_r1_report::check_bounds(&long_answer).expect_err("an answer past 16 MB");
    assert!(e.to_string().starts_with("message 1's answer is 16777217 bytes"), "{e}");
    // Tool calls: more than an answer could make, and a name past its bound.
    let call = fin_r1_report::FileToolCall {
        call: fin_r1_engine::ToolCall { id: "call_1".into(), name: "calculate".into(), arguments: serde_json::json!({"expression": "3*9"}) },
        result: fin_r1_engine::ToolResult {
            id: "call_1".into(),
            name: "calculate".into(),
            source: "calculator".into(),
            status: fin_r1_engine::ToolStatus::Done,
            content: "27".into(),
            ms: 0,
        },
    };
    let mut many_calls = file.clone();
    many_calls.messages[1].tool_calls = vec![call.clone(); 257];
    let e = fin_r1_report::check_bounds(&many_calls).expect_err("257 calls");
    assert!(e.to_string().starts_with("message 1's tool call list is 257 calls"), "{e}");
    let mut long_name = file.clone();
    let mut named = call;
    named.call.name = "n".repeat(1001);
    long_name.messages[1].tool_calls = vec![named];
    let e = fin_r1_report::check_bounds(&long_name).expect_err("a 1001-character tool name");
    assert!(e.to_string().starts_with("message 1's tool name is 1001 characters"), "{e}");

    // Through the CLI: refused with the reason, the store left without it.
    let dir = data_dir("json-bounds");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("long-title.json");
    std::fs::write(&path, serde_json::to_string(&long_title).expect("json")).expect("write");
    let out = Command::new(fin_r1_bin()).arg("import").arg(&path).arg("--data-dir").arg(&dir).output().expect("import");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the title is 52428800 characters"), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = Command::new(fin_r1_bin()).args(["conversations", "list", "--data-dir"]).arg(&dir).output().expect("list");
    assert!(listed.stdout.len() < 4096, "{} bytes listed", listed.stdout.len());
}

/// Issue 30 item 4: an edited question's versions go into the report as the analyst chooses,
/// each beside the others under its question, and said to be which version; the branch on show
/// alone is numbered plainly.
#[test]
fn the_versions_of_an_edited_question_chosen_for_the_report_stand_together() {
    let dir = data_dir("versions");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let (store, _) = Store::open(&dir).await.expect("open");
        let c = store.create_conversation("Margin", None, None, None).await.expect("conversation");
        let answer = |text: &str| Outcome { answer: text.into(), stop_reason: Some(fin_r1_engine::StopReason::End), ..Default::default() };
        let q1 = store.add_question(c.id, None, "Margin at a 5% rate?", None, None).await.expect("q1");
        let a1 = store.begin_answer(c.id, q1.id, &Provenance::default()).await.expect("a1");
        store.finish_answer(a1.id, &answer("First: 12%.")).await.expect("finish");
        let q2 = store.add_question(c.id, Some(a1.id), "And in 2025?", None, None).await.expect("q2");
        let a2 = store.begin_answer(c.id, q2.id, &Provenance::default()).await.expect("a2");
        store.finish_answer(a2.id, &answer("2025: 13%.")).await.expect("finish");
        // Edited later: the rate was 6%, answered twice (regenerated).
        let q1b = store.add_question(c.id, None, "Margin at a 6% rate?", None, None).await.expect("edit");
        let a1b = store.begin_answer(c.id, q1b.id, &Provenance::default()).await.expect("a1b");
        store.finish_answer(a1b.id, &answer("Edited: 11%.")).await.expect("finish");
        let a1c = store.begin_answer(c.id, q1b.id, &Provenance::default()).await.expect("a1c");
        store.finish_answer(a1c.id, &answer("Regenerated: 11.2%.")).await.expect("finish");

        let opts = fin_r1_report::ReportOptions { messages: Some(vec![a2.id, a1c.id, a1.id]), ..Default::default() };
        let r = fin_r1_report::Report::build(&store, c.id, None, &opts).await.expect("build");
        let md = fin_r1_report::to_markdown(&r);
        let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s:?} missing from\n{md}"));
        // Question 1's versions together (oldest first), then question 2, whatever order asked.
        assert!(at("Question 1 (version 1 of 3)") < at("First: 12%."), "{md}");
        assert!(at("First: 12%.") < at("Question 1 (version 3 of 3)"), "{md}");
        assert!(at("Regenerated: 11.2%.") < at("## 问题 2 / Question 2"), "{md}");
        assert!(at("2025: 13%.") > at("## 问题 2 / Question 2"));
        assert!(!md.contains("Edited: 11%."), "a version not chosen stays out");
        assert!(md.contains("Margin at a 6% rate?"), "the edited question is shown with its answer");

        // The branch on show alone: plain numbers, no versions said.
        let r = fin_r1_report::Report::build(&store, c.id, None, &fin_r1_report::ReportOptions::default()).await.expect("build");
        let md = fin_r1_report::to_markdown(&r);
        assert!(md.contains("## 问题 1 / Question 1\n") && !md.contains("version"), "{md}");
        store.close().await;
    });
}

//! Issue 29's library of filings: a folder of real documents (tests/fixtures/documents) read
//! once by the reader child, read again only where it changed, searched in English and
//! Chinese within a budget, and a question asked of it answered with numbered sources that the
//! answer cites and the store keeps (after the folder is gone too). Hostile files in the folder
//! are refused with their reason and the rest is read.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use fin_r1_core::backend::Backend;
use fin_r1_core::filings::{self, Reader};
use fin_r1_core::runner::{LibraryScope, Runner, TurnRequest, TurnSink, TurnStarted};
use fin_r1_core::store::Store;
use fin_r1_engine::{Engine, GenerationEvent, LoadOptions};
use fin_r1_tests::{fin_r1_bin, repo_data, scratch_dir, tiny_qwen2};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn fresh(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("library-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// The reader child of the fin-r1 binary, as the app and the CLI read.
fn child() -> Reader {
    Arc::new(|path: &Path, stop: &AtomicBool| {
        use fin_r1_core::documents::child::{extract_in_child, ChildLimits};
        extract_in_child(&fin_r1_bin(), path, ChildLimits::default(), &mut |_, _| {}, stop)
    })
}

/// A folder of filings: the repository's real documents, a hostile PDF that lies about its
/// sizes, a hidden file and a link.
fn filings_folder(name: &str) -> PathBuf {
    let dir = fresh(name).join("filings");
    std::fs::create_dir_all(dir.join("2023")).expect("dir");
    for f in ["annual-report.pdf", "zh-loans.pdf", "policy.docx", "income.xlsx", "scanned-report.pdf", "encrypted.pdf"] {
        std::fs::copy(repo_data(&format!("documents/{f}")), dir.join(f)).expect("copy");
    }
    std::fs::copy(repo_data("documents/two-column-tex.pdf"), dir.join("2023/two-column-tex.pdf")).expect("copy");
    let mut liar = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 4000000000 /Kids [3 0 R] >> endobj\n3 0 obj << /Length 999999999999 >> stream\n".to_vec();
    liar.resize(2048, b'x');
    std::fs::write(dir.join("liar.pdf"), liar).expect("liar");
    std::fs::write(dir.join(".hidden.csv"), "a,b\n1,2\n").expect("hidden");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", dir.join("etc-link")).expect("link");
    dir
}

#[test]
fn a_folder_is_read_once_and_again_only_where_it_changed() {
    let dir = filings_folder("scan");
    let data = dir.parent().expect("parent").join("data");
    rt().block_on(async {
        let (store, _) = Store::open(&data).await.expect("store");
        let folder = filings::add_folder(&store, &dir).await.expect("add");
        let mut seen = Vec::new();
        assert!(fin_r1_core::documents::ocr::Ocr::find().is_some(), "OCR needs tesseract-ocr and poppler-utils: scripts/setup.sh installs them");
        let report = filings::scan(&store, folder.id, child(), &mut |p| seen.push(p.clone()), &Arc::new(AtomicBool::new(false))).await.expect("scan");
        assert_eq!((report.added, report.refused, report.updated, report.missing), (6, 2, 0, 0), "{report:?}");
        assert!(report.notes.iter().any(|n| n.contains("etc-link") && n.contains("not followed")), "{:?}", report.notes);
        assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((8, 8)));
        let files = store.library_files(folder.id).await.expect("files");
        let by_name = |n: &str| files.iter().find(|f| f.file_name == n).cloned().unwrap_or_else(|| panic!("{n} in {files:?}"));
        assert!(!files.iter().any(|f| f.file_name.starts_with('.')), "hidden files are not read");
        assert_eq!(by_name("encrypted.pdf").status, "refused");
        assert!(by_name("encrypted.pdf").error.as_deref().unwrap_or("").contains("password"), "{:?}", by_name("encrypted.pdf"));
        assert_eq!(by_name("liar.pdf").status, "refused");
        assert!(by_name("income.xlsx").notes.iter().any(|n| n.contains("hidden")));
        // The scanned report is read by OCR (Tesseract: scripts/setup.sh installs it), and its
        // passage says so wherever it is cited.
        let scan = by_name("scanned-report.pdf");
        assert!(scan.status == "indexed" && scan.notes[0].contains("read by OCR"), "{scan:?}");
        let hits = filings::retrieve(&store, LibraryScope::default(), "scanned net income 43,870", 4000).await.expect("search");
        let ocr_hit = hits.iter().find(|h| h.file_name == "scanned-report.pdf").expect("the scanned page found");
        assert!(ocr_hit.text.contains("read by OCR") && ocr_hit.label.contains("p. 1"), "{ocr_hit:?}");
        let report_pdf = by_name("annual-report.pdf");
        assert_eq!((report_pdf.status.as_str(), report_pdf.pages), ("indexed", Some(5)));
        assert!(report_pdf.parts > 3);
        let listed = store.library_folders().await.expect("folders");
        assert_eq!((listed[0].files, listed[0].indexed, listed[0].refused), (8, 6, 2));

        // Nothing changed: nothing is read but the refused files, which are tried again.
        let again = filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("rescan");
        assert_eq!((again.added, again.updated, again.unchanged, again.refused, again.missing), (0, 0, 6, 2, 0), "{again:?}");
        // A new time on the same bytes is not a change; new bytes are; a file gone is marked and
        // its parts leave the index.
        let policy = dir.join("policy.docx");
        let bytes = std::fs::read(&policy).expect("read");
        std::fs::write(&policy, &bytes).expect("rewrite");
        std::fs::write(dir.join("2023/notes.csv"), "Item,2023,2024\nRevenue,4286,4822\nNet interest income,912,1004\n").expect("csv");
        std::fs::remove_file(dir.join("zh-loans.pdf")).expect("remove");
        let third = filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("third");
        assert_eq!((third.added, third.updated, third.missing), (1, 0, 1), "{third:?}");
        // A folder inside one in the library (or holding one) is refused: a file is read once.
        let inner = filings::add_folder(&store, &dir.join("2023")).await;
        assert!(matches!(inner, Err(filings::FilingsError::Nested { .. })), "{inner:?}");
        let outer = filings::add_folder(&store, dir.parent().expect("parent")).await;
        assert!(matches!(outer, Err(filings::FilingsError::Nested { .. })), "{outer:?}");
        // A subfolder that cannot be listed keeps what was read from it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let sub = dir.join("2023");
            std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o000)).expect("chmod");
            let listed = std::fs::read_dir(&sub).is_err();
            let r = filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("unlisted");
            std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
            // (root reads any folder: then there is nothing to show.)
            if listed {
                assert_eq!(r.missing, 0, "{r:?}");
                assert!(r.notes.iter().any(|n| n.contains("could not be listed")), "{r:?}");
            }
        }
        assert!(
            filings::retrieve(&store, LibraryScope::default(), "贷款利率是多少", 4000).await.expect("search").is_empty(),
            "a gone file's parts are not found"
        );
        let files = store.library_files(folder.id).await.expect("files");
        assert_eq!(files.iter().find(|f| f.file_name == "zh-loans.pdf").map(|f| f.status.as_str()), Some("missing"));

        // The folder goes: marked, what was read stays until the analyst removes it.
        let moved = dir.with_file_name("moved");
        std::fs::rename(&dir, &moved).expect("move");
        let gone = filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("gone");
        assert!(gone.folder_missing);
        assert_eq!(store.library_folder(folder.id).await.expect("folder").map(|f| f.status), Some("missing".into()));
        assert!(!filings::retrieve(&store, LibraryScope::default(), "net interest income", 4000).await.expect("search").is_empty());
        assert!(store.remove_library_folder(folder.id).await.expect("remove"));
        assert!(filings::retrieve(&store, LibraryScope::default(), "net interest income", 4000).await.expect("search").is_empty());
        store.close().await;
    });
}

#[test]
fn retrieval_finds_english_and_chinese_parts_within_its_budget() {
    let dir = filings_folder("search");
    let data = dir.parent().expect("parent").join("data");
    rt().block_on(async {
        let (store, _) = Store::open(&data).await.expect("store");
        let folder = filings::add_folder(&store, &dir).await.expect("add");
        filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("scan");
        let hits =
            filings::retrieve(&store, LibraryScope { folder: Some(folder.id), collection: None }, "What was revenue and the cost of revenue in 2024?", 4000)
                .await
                .expect("search");
        let top: Vec<&str> = hits.iter().take(2).map(|h| h.label.as_str()).collect();
        assert!(top.iter().any(|l| l.starts_with("annual-report.pdf · p. 3")), "{top:?}");
        let zh = filings::retrieve(&store, LibraryScope::default(), "贷款利率是多少？", 4000).await.expect("search");
        assert_eq!(zh[0].file_name, "zh-loans.pdf");
        assert!(zh[0].text.contains("4.35%"), "{}", zh[0].text);
        // The budget holds: a small one gives fewer parts, none past it.
        let small = filings::retrieve(&store, LibraryScope::default(), "revenue income interest loans", 300).await.expect("search");
        assert!(small.iter().map(|h| h.tokens).sum::<i64>() <= 300, "{small:?}");
        assert!(filings::retrieve(&store, LibraryScope::default(), "？！", 4000).await.expect("search").is_empty());
        store.close().await;
    });
}

#[test]
fn a_collection_scopes_a_question_to_the_files_picked_and_keeps_them_when_read_again() {
    let dir = filings_folder("collection");
    let data = dir.parent().expect("parent").join("data");
    rt().block_on(async {
        let (store, _) = Store::open(&data).await.expect("store");
        let folder = filings::add_folder(&store, &dir).await.expect("add");
        let stop = Arc::new(AtomicBool::new(false));
        filings::scan(&store, folder.id, child(), &mut |_| {}, &stop).await.expect("scan");
        // Named by any path that leads to it (here through a `..`).
        let loans = dir.join("2023").join("..").join("zh-loans.pdf");
        let c = filings::add_to_collection(&store, " Loans ", &[loans, dir.join("policy.docx")]).await.expect("collection");
        assert_eq!(c.name, "Loans");
        assert_eq!(c.files.len(), 2, "{c:?}");
        let scope = LibraryScope { folder: None, collection: Some(c.id) };
        let hits = filings::retrieve(&store, scope, "What was revenue and the cost of revenue in 2024? 贷款利率", 4000).await.expect("search");
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|h| h.file_name == "zh-loans.pdf" || h.file_name == "policy.docx"), "{:?}", hits.iter().map(|h| &h.label).collect::<Vec<_>>());
        let everywhere = filings::retrieve(&store, LibraryScope::default(), "What was revenue and the cost of revenue in 2024?", 4000).await.expect("search");
        assert!(everywhere.iter().any(|h| h.file_name == "annual-report.pdf"));

        // A file read again (a new row in the store) stays in its collection.
        let pdf = dir.join("zh-loans.pdf");
        let mut bytes = std::fs::read(&pdf).expect("read");
        bytes.extend_from_slice(b"\n% revised\n");
        std::fs::write(&pdf, bytes).expect("write");
        let r = filings::scan(&store, folder.id, child(), &mut |_| {}, &stop).await.expect("rescan");
        assert_eq!(r.updated, 1, "{r:?}");
        let zh = filings::retrieve(&store, scope, "贷款利率是多少？", 4000).await.expect("search");
        assert_eq!(zh.first().map(|h| h.file_name.as_str()), Some("zh-loans.pdf"));

        // A file the library does not hold, no name: each said.
        let outside = data.join("elsewhere.pdf");
        std::fs::write(&outside, b"%PDF-1.4").expect("outside");
        let e = filings::add_to_collection(&store, "Loans", &[outside]).await.expect_err("not in the library");
        assert!(e.to_string().contains("is not in the library"), "{e}");
        assert!(filings::add_to_collection(&store, "  ", &[dir.join("policy.docx")]).await.is_err());
        // Gone from the library: kept, shown as missing.
        std::fs::remove_file(dir.join("policy.docx")).expect("rm");
        filings::scan(&store, folder.id, child(), &mut |_| {}, &stop).await.expect("rescan");
        let c = filings::collection_named(&store, "Loans").await.expect("named");
        assert!(c.files.iter().any(|f| f.path.ends_with("policy.docx") && f.status == "missing"), "{c:?}");
        assert!(store.remove_from_collection(c.id, &[c.files[0].path.clone()]).await.expect("take out").is_empty());
        assert_eq!(filings::collection_named(&store, "Loans").await.expect("named").files.len(), 1);
        assert!(store.delete_collection(c.id).await.expect("delete"));
        assert!(filings::collection_named(&store, "Loans").await.is_err());
        assert!(
            !filings::retrieve(&store, LibraryScope::default(), "贷款利率是多少？", 4000).await.expect("search").is_empty(),
            "its files stay in the library"
        );
        store.close().await;
    });
}

#[test]
fn a_cited_file_is_checked_before_its_page_is_shown() {
    use fin_r1_core::filings::SourceState;
    let dir = fresh("cited");
    let pdf = dir.join("annual-report.pdf");
    std::fs::copy(repo_data("documents/annual-report.pdf"), &pdf).expect("copy");
    let bytes = std::fs::read(&pdf).expect("read");
    let source = fin_r1_core::store::AnswerSource {
        message_id: 1,
        n: 1,
        part_id: None,
        path: pdf.to_string_lossy().into_owned(),
        file_name: "annual-report.pdf".into(),
        page: Some(3),
        label: "annual-report.pdf · p. 3".into(),
        sha256: fin_r1_engine::digest::sha256_hex(&bytes),
        text: "Revenue 482,210".into(),
    };
    let c = filings::check_source(&source);
    assert_eq!((c.state, c.paged, c.ocr), (SourceState::Same, true, false));
    assert_eq!(filings::read_source(&source).expect("bytes"), bytes);
    std::fs::write(&pdf, [bytes.as_slice(), b"\n"].concat()).expect("change");
    assert_eq!(filings::check_source(&source).state, SourceState::Changed);
    std::fs::remove_file(&pdf).expect("rm");
    assert_eq!(filings::check_source(&source).state, SourceState::Missing);
    assert!(filings::read_source(&source).is_err());
    // A sheet is shown as its passage, never read whole by the window.
    let sheet = fin_r1_core::store::AnswerSource { path: dir.join("income.xlsx").to_string_lossy().into_owned(), ..source.clone() };
    std::fs::copy(repo_data("documents/income.xlsx"), &sheet.path).expect("copy");
    assert!(!filings::check_source(&sheet).paged);
    assert!(filings::read_source(&sheet).is_err());
    let ocr = fin_r1_core::store::AnswerSource { text: "[p. 2: read by OCR, confidence 91%]\nNet income".into(), ..source };
    assert!(filings::check_source(&ocr).ocr);
}

#[derive(Default)]
struct Collect {
    started: Option<TurnStarted>,
    answer: String,
}

impl TurnSink for Collect {
    fn started(&mut self, t: &TurnStarted) {
        self.started = Some(t.clone());
    }
    fn event(&mut self, ev: &GenerationEvent) {
        if let GenerationEvent::Answer { text } = ev {
            self.answer.push_str(text);
        }
    }
}

#[test]
fn a_question_asked_of_the_library_is_answered_with_sources_it_cites_and_keeps() {
    let dir = filings_folder("ask");
    let data = dir.parent().expect("parent").join("data");
    let model = tiny_qwen2(&fin_r1_tests::citer());
    let engine = Arc::new(Engine::load(&model, LoadOptions::default()).expect("load"));
    rt().block_on(async {
        let (store, _) = Store::open(&data).await.expect("store");
        let folder = filings::add_folder(&store, &dir).await.expect("add");
        filings::scan(&store, folder.id, child(), &mut |_| {}, &Arc::new(AtomicBool::new(false))).await.expect("scan");
        let runner = Runner::new(store.clone(), Arc::new(Backend::Local(engine)), None);
        let mut req = TurnRequest::ask(None, "What was revenue in 2024?");
        req.library = Some(LibraryScope::default());
        req.sampling.temperature = Some(0.0);
        req.sampling.max_tokens = Some(64);
        let mut sink = Collect::default();
        let r = runner.run(req, &mut sink).await.expect("turn");
        let sources = sink.started.expect("started").sources;
        assert!(!sources.is_empty() && sources.len() < 9, "{sources:?}");
        assert_eq!(sources[0].n, 1);
        assert!(sources.iter().any(|s| s.file_name == "annual-report.pdf" && s.page == Some(3)), "{sources:?}");
        assert_eq!(sources[0].sha256.len(), 64);
        assert_eq!(sink.answer, "Revenue grew [1]; see([9])");
        let cited = filings::citations(&sink.answer, sources.len());
        assert_eq!(cited.iter().map(|c| (c.n, c.known)).collect::<Vec<_>>(), vec![(1, true), (9, false)]);
        // The prompt carried them, numbered (the stored question is as typed).
        let stored = store.conversation_sources(r.conversation_id).await.expect("sources");
        assert_eq!(stored, sources);
        // The report lists what the answer cited, with the file's hash, and what it cited wrongly.
        let report = fin_r1_report::Report::build(&store, r.conversation_id, None, &fin_r1_report::ReportOptions::default()).await.expect("report");
        let md = fin_r1_report::to_markdown(&report);
        assert!(md.contains("#### 来源 / Sources"), "{md}");
        assert!(md.contains(&format!("\\[1\\] {} — SHA-256 {}", sources[0].label, sources[0].sha256)), "{md}");
        assert!(md.contains("Cites sources it was not given: \\[9\\]"), "{md}");
        // The folder removed: the answer's sources stay.
        store.remove_library_folder(folder.id).await.expect("remove");
        let kept = store.conversation_sources(r.conversation_id).await.expect("sources");
        assert_eq!(kept.len(), sources.len());
        assert_eq!(kept[0].part_id, None);
        assert_eq!(kept[0].text, sources[0].text);
        store.close().await;
    });
}

#[test]
fn the_cli_adds_lists_searches_and_asks_the_library() {
    let dir = filings_folder("cli");
    let data = dir.parent().expect("parent").join("data");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(fin_r1_bin()).args(args).arg("--data-dir").arg(&data).output().expect("fin-r1");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = run(&["library", "add", &dir.to_string_lossy()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("6 added") && out.contains("2 refused"), "{out}");
    let (_, out, _) = run(&["library", "list"]);
    assert!(out.contains("8 files (6 read, 2 refused)"), "{out}");
    let (_, out, _) = run(&["library", "files", "1"]);
    assert!(out.contains("refused") && out.contains("password-protected"), "{out}");
    let (_, out, _) = run(&["library", "search", "贷款利率"]);
    assert!(out.starts_with("[1] zh-loans.pdf · p. 1"), "{out}");
    let (code, _, err) = run(&["library", "add", "/nonexistent/folder"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not a folder"), "{err}");

    let model = tiny_qwen2(&fin_r1_tests::citer());
    let (code, out, err) =
        run(&["chat", "--model", &model.to_string_lossy(), "--temperature", "0", "--max-tokens", "64", "--library", "What was revenue in 2024?"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Revenue grew [1]"), "{out}");
    assert!(err.contains("[1] ") && err.contains("sha256"), "{err}");
    assert!(err.contains("[cites [9], which it was not given]"), "{err}");
    assert!(!err.contains("no library passage matches"), "{err}");
    // A question nothing in the library matches: said before the answer.
    let (code, _, err) = run(&["chat", "--model", &model.to_string_lossy(), "--temperature", "0", "--max-tokens", "8", "--library", "zzqx wvvk"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("[no library passage matches this question"), "{err}");

    // A collection: made from the CLI, searched, asked; a name it does not know refused.
    let loans = dir.join("zh-loans.pdf");
    let (code, out, err) = run(&["library", "collection", "add", "Loans", &loans.to_string_lossy()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("Loans (1 file)"), "{out}");
    let (code, out, err) = run(&["library", "search", "--collection", "Loans", "What was revenue in 2024? 贷款"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let found: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
    assert!(!found.is_empty() && found.iter().all(|l| l.contains("zh-loans.pdf")), "{out}");
    let (code, _, err) = run(&["library", "collection", "remove", "Loans", "/nowhere/report.pdf"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not hold /nowhere/report.pdf"), "{err}");
    let (code, out, err) = run(&[
        "chat",
        "--model",
        &model.to_string_lossy(),
        "--temperature",
        "0",
        "--max-tokens",
        "64",
        "--library-collection",
        "Loans",
        "What was revenue in 2024?",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("[1] zh-loans.pdf"), "{err}");
    let (code, _, err) = run(&["chat", "--model", &model.to_string_lossy(), "--library-collection", "Nope", "Hi"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no collection is named \"Nope\""), "{err}");
    let (code, _, err) = run(&["library", "collection", "add", "Loans", "/etc/hostname"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not in the library"), "{err}");
    let (code, out, _) = run(&["library", "collection", "delete", "Loans"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("its files stay in the library"), "{out}");
}

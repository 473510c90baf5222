//! A full disk (issue 27): the data folder on a tiny tmpfs the test mounts (as root, as CI
//! runs). A question that can no longer be saved stops with a clear error, what was saved
//! stays, and once space returns the store goes on; an export onto a full disk fails and
//! leaves no partial file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fin_r1_core::store::{Store, DB_FILE};
use fin_r1_tests::{fin_r1_bin, scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};

/// A tmpfs of `kb` KB, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, kb: u64) -> Option<Self> {
        let dir = scratch_dir().join(format!("tmpfs-{name}-{}", std::process::id()));
        let _ = Command::new("umount").arg(&dir).output();
        std::fs::create_dir_all(&dir).expect("mount point");
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"]).arg(&dir).output();
        match out {
            Ok(o) if o.status.success() => Some(Self(dir)),
            // Only where mounting is not allowed at all (not root): said, not passed silently.
            _ if !is_root() => {
                eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
                None
            }
            other => panic!("mount tmpfs on {}: {other:?}", dir.display()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Fills the filesystem of `dir` to its last byte; returns the filler to remove.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&chunk[..1]).is_ok() {}
    let _ = f.sync_all();
    path
}

fn chat(data: &Path, model: &Path, question: &str) -> Output {
    Command::new(fin_r1_bin())
        .env("FIN_R1_CACHE_DIR", data.join("cache"))
        .args(["chat", "--temperature", "0", "--max-tokens", "64", "--data-dir"])
        .arg(data)
        .arg("--model")
        .arg(model)
        .arg(question)
        .output()
        .expect("fin-r1 chat")
}

fn integrity(data: &Path) -> (String, usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (store, _) = Store::open(data).await.expect("open");
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(store.pool()).await.expect("check");
        let n = store.list_conversations(1000).await.expect("list").len();
        store.close().await;
        (verdict, n)
    })
}

#[test]
fn a_question_on_a_full_disk_stops_clearly_and_the_store_goes_on_after() {
    let Some(fs) = Tmpfs::mount("chat", 8 << 10) else { return };
    let data = fs.0.join("data");
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let first = chat(&data, &model, "What is the PV of $1,000 in two years at 5%?");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(data.join(DB_FILE).is_file());

    let filler = fill(&fs.0);
    let full = chat(&data, &model, "And in three years?");
    let said = String::from_utf8_lossy(&full.stderr);
    assert!(!full.status.success(), "a question on a full disk did not fail: {said}");
    assert!(said.contains("disk is full"), "{said}");

    std::fs::remove_file(&filler).expect("space back");
    let (verdict, n) = integrity(&data);
    assert_eq!(verdict, "ok");
    assert!(n >= 1, "what was saved stays");
    let again = chat(&data, &model, "And in four years?");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(integrity(&data), ("ok".to_owned(), n + 1));
}

#[test]
fn an_export_onto_a_full_disk_fails_and_leaves_no_partial_file() {
    let Some(fs) = Tmpfs::mount("export", 8 << 10) else { return };
    let data = scratch_dir().join(format!("full-export-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let first = chat(&data, &model, "What is the PV of $1,000 in two years at 5%?");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out_dir = fs.0.join("reports");
    std::fs::create_dir_all(&out_dir).expect("dir");
    let _filler = fill(&fs.0);
    for format in ["md", "html", "json"] {
        let out = out_dir.join(format!("report.{format}"));
        let done = Command::new(fin_r1_bin())
            .args(["export", "--conversation", "latest", "--format", format, "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("export");
        assert!(!done.status.success(), "{format}: exported onto a full disk?");
        let said = String::from_utf8_lossy(&done.stderr);
        assert!(said.contains("No space left") || said.contains("disk is full"), "{format}: {said}");
        let left: Vec<_> = std::fs::read_dir(&out_dir).expect("dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{format}: left behind {left:?}");
    }
}

/// An OpenAI-compatible server on loopback that streams a word every 50 ms for 20 s: an
/// answer long enough for the disk to fill while it is written.
fn slow_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let (mut stream, _) = fin_r1_tests::http::read_request(stream);
                if write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n").is_err() {
                    return;
                }
                for i in 0..400 {
                    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": format!("figure{i} ")}}]});
                    if write!(stream, "data: {chunk}\n\n").and_then(|()| stream.flush()).is_err() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let end = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                let _ = write!(stream, "data: {end}\n\ndata: [DONE]\n\n");
            });
        }
    });
    url
}

/// The disk fills while an answer streams: the answer stops with "the disk is full" (not 20 s
/// later), what was checkpointed before stays, and the store goes on once space returns.
#[test]
fn an_answer_stops_when_the_disk_fills_under_it_and_keeps_what_was_saved() {
    use std::io::BufRead;
    let Some(fs) = Tmpfs::mount("streaming", 8 << 10) else { return };
    let data = fs.0.join("data");
    let url = slow_server();
    let started = std::time::Instant::now();
    let mut child = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--remote", &url, "--data-dir"])
        .arg(&data)
        .arg("What was the operating margin?")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fin-r1 chat");
    let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut filler = None;
    let mut answered = 0;
    let mut error: Option<serde_json::Value> = None;
    for line in out.lines() {
        let Ok(line) = line else { break };
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        match ev["type"].as_str() {
            Some("answer") => {
                answered += 1;
                // A checkpoint or two first (one a second), then no room left.
                if answered == 40 && filler.is_none() {
                    filler = Some(fill(&fs.0));
                }
            }
            Some("error") => error = Some(ev),
            _ => {}
        }
    }
    let status = child.wait().expect("exit");
    let took = started.elapsed();
    let error = error.expect("an error event");
    assert_eq!(error["kind"], "disk_full", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("disk is full")), "{error}");
    assert!(!status.success());
    assert!(took < std::time::Duration::from_secs(15), "the answer ran on for {took:?}");
    std::fs::remove_file(filler.expect("filled")).expect("space back");
    std::thread::sleep(fin_r1_core::store::STALE_AFTER + std::time::Duration::from_secs(1));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (store, report) = Store::open(&data).await.expect("open");
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(store.pool()).await.expect("check");
        assert_eq!(verdict, "ok");
        let c = store.latest_conversation().await.expect("latest").expect("the conversation was kept");
        let answer = store.messages(c.id).await.expect("messages").into_iter().find(|m| m.role == fin_r1_core::store::MessageRole::Assistant).expect("answer");
        assert!(answer.answer.starts_with("figure0 figure1 "), "what was saved stays: {:?}", &answer.answer);
        assert!(report.interrupted <= 1);
        store.close().await;
    });
}

struct NoProgress;
impl fin_r1_core::hub::Progress for NoProgress {
    fn start(&self, _file: &str, _total: u64, _resumed_from: u64) {}
    fn advance(&self, _bytes: u64) {}
}

/// Files of `dir` and below whose names end with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

/// The disk fills while a model downloads: the download stops with the disk named, its partial
/// file is removed (it held the space), and once space returns the download completes.
#[test]
fn a_download_stopped_by_a_full_disk_removes_its_partial_file() {
    use fin_r1_core::hub::{download, DownloadError, DownloadRequest};
    let Some(fs) = Tmpfs::mount("download", 24 << 10) else { return };
    let hub = fin_r1_tests::hub::Hub::start();
    let bytes: Vec<u8> = (0..12u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    hub.add("SUFE-AIFLM-Lab/tiny-test", "model.gguf", bytes.clone());
    hub.pace(4 << 20);
    let cache = fs.0.join("hub");
    let req =
        DownloadRequest { endpoint: Some(hub.endpoint()), cache_dir: Some(cache.clone()), ..DownloadRequest::new("SUFE-AIFLM-Lab/tiny-test", "model.gguf") };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let running = {
        let req = req.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(download(&req, std::sync::Arc::new(NoProgress)))
        })
    };
    // Once the download is writing, the disk fills.
    let t0 = std::time::Instant::now();
    while files_ending(&cache, ".sync.part").is_empty() && t0.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let filler = fill(&fs.0);
    let err = running.join().expect("download thread").expect_err("a download onto a full disk");
    assert!(matches!(err, DownloadError::DiskFilled { .. }), "{err}");
    assert_eq!(err.kind(), fin_r1_engine::ErrorKind::DiskFull);
    assert!(err.to_string().contains("filled"), "{err}");
    assert!(files_ending(&cache, ".sync.part").is_empty(), "the partial file is left: {:?}", files_ending(&cache, ".part"));

    std::fs::remove_file(filler).expect("space back");
    let done = rt.block_on(download(&req, std::sync::Arc::new(NoProgress))).expect("the download after space returns");
    assert_eq!(std::fs::read(&done.path).expect("model"), bytes);
}

/// The prefix cache on a disk too small for a snapshot: the answer is given and stored as
/// ever, and no half-written cache file is left.
#[test]
fn a_prefix_cache_on_a_full_disk_costs_only_the_reuse() {
    let Some(fs) = Tmpfs::mount("prefix-cache", 256) else { return };
    let data = scratch_dir().join(format!("full-prefix-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let ask = |cache: &Path| {
        Command::new(fin_r1_bin())
            .env("FIN_R1_CACHE_DIR", cache)
            .args(["chat", "--temperature", "0", "--max-tokens", "32", "--scenario", "calculation", "--data-dir"])
            .arg(&data)
            .arg("--model")
            .arg(&model)
            .arg("What is the PV of $1,000 in two years at 5%?")
            .output()
            .expect("fin-r1 chat")
    };
    // Where there is room, the preset's prompt prefix is kept: a write is attempted.
    let roomy = scratch_dir().join(format!("full-prefix-roomy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&roomy);
    let first = ask(&roomy);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(!files_ending(&roomy, ".kv").is_empty(), "no prefix was cached where there is room: {:?}", std::fs::read_dir(&roomy).map(|d| d.count()));

    let _filler = fill(&fs.0);
    let full = ask(&fs.0.join("cache"));
    assert!(full.status.success(), "the cache's disk being full failed the answer: {}", String::from_utf8_lossy(&full.stderr));
    assert_eq!(integrity(&data), ("ok".to_owned(), 2));
    let left: Vec<PathBuf> = files_ending(&fs.0, ".tmp").into_iter().chain(files_ending(&fs.0, ".kv")).collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");
}

/// An evaluation run whose folder's disk fills: it stops with the disk named, every prediction
/// it wrote is whole or skipped, and `--resume` after space returns finishes without redoing one.
/// (80 items: the run must still be going when the disk fills, on a slow machine too.)
#[test]
fn an_evaluation_stopped_by_a_full_disk_resumes_after() {
    let Some(fs) = Tmpfs::mount("eval", 4 << 10) else { return };
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let dir = scratch_dir().join(format!("full-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let items = dir.join("items.jsonl");
    let text = fin_r1_tests::serve::eval_items(80);
    std::fs::write(&items, text).expect("items");
    let out = fs.0.join("run");
    let run = |extra: &[&str]| {
        let mut c = Command::new(fin_r1_bin());
        c.args(["eval", "run", "--bench", "jsonl", "--data"])
            .arg(&items)
            .args(["--max-tokens", "48", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .args(extra);
        c
    };
    let child = run(&[]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("eval");
    let predictions = out.join("predictions.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&predictions).map(|t| t.lines().count()).unwrap_or(0) < 3 && t0.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let filler = fill(&fs.0);
    let stopped = child.wait_with_output().expect("eval");
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(!stopped.status.success(), "a run onto a full disk finished? {said}");
    assert!(said.contains("No space left") || said.contains("disk is full"), "{said}");
    let before = std::fs::read_to_string(&predictions).unwrap_or_default();

    std::fs::remove_file(filler).expect("space back");
    let resumed = run(&["--resume"]).output().expect("resume");
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let after = std::fs::read_to_string(&predictions).expect("predictions");
    let parsed: Vec<serde_json::Value> = after.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ids: std::collections::BTreeSet<&str> = parsed.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!((ids.len(), parsed.len()), (80, 80), "every item once");
    for line in before.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()) {
        assert!(after.contains(line), "a whole prediction was redone: {line}");
    }
}

//! Downloads from a hub served on loopback, as `fin-r1 models download` and the app do them:
//! the whole file, the cache reused, a connection cut mid-file then resumed (and nothing left
//! fetching after a cut or a cancel), a corrupted file
//! caught by its hash, and clear errors for 404 and 401.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fin_r1_core::hub::{download, DownloadError, DownloadRequest, Progress};
use fin_r1_tests::hub::{Hub, COMMIT};
use fin_r1_tests::{fin_r1_bin, scratch_dir};

const MIB: usize = 1 << 20;

/// Deterministic bytes that are not all alike (so a misplaced chunk shows).
fn content(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn cache(name: &str) -> std::path::PathBuf {
    let d = scratch_dir().join(format!("hf-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[derive(Default)]
struct Count {
    total: AtomicU64,
    done: AtomicU64,
    resumed: AtomicU64,
}
impl Progress for Count {
    fn start(&self, _file: &str, total: u64, resumed_from: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.resumed.store(resumed_from, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn request(hub: &Hub, cache: &std::path::Path, file: &str) -> DownloadRequest {
    DownloadRequest { endpoint: Some(hub.endpoint()), cache_dir: Some(cache.to_owned()), token: None, ..DownloadRequest::new("SUFE-AIFLM-Lab/tiny-test", file) }
}

#[test]
fn the_cli_downloads_with_progress_prints_the_path_and_reuses_the_cache() {
    let hub = Hub::start();
    let bytes = content(20 * MIB + 123);
    hub.add("SUFE-AIFLM-Lab/tiny-test", "model.Q4_K_M.gguf", bytes.clone());
    let dir = cache("cli");
    let run = || {
        Command::new(fin_r1_bin())
            .args(["models", "download", "SUFE-AIFLM-Lab/tiny-test", "model.Q4_K_M.gguf", "--endpoint", &hub.endpoint(), "--cache-dir"])
            .arg(&dir)
            .env_remove("HF_TOKEN")
            .output()
            .expect("run")
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().expect("the path as the last line");
    assert!(path.ends_with(&format!("models--SUFE-AIFLM-Lab--tiny-test/snapshots/{COMMIT}/model.Q4_K_M.gguf")), "{path}");
    assert_eq!(std::fs::read(path).expect("read"), bytes);
    assert!(stderr.contains("100.0%") && stderr.contains("/s") && stderr.contains("left"), "a progress line: {stderr}");
    assert!(stderr.contains("matches the hub's"), "{stderr}");
    // The standard cache layout: a later run (or another tool) finds it and fetches nothing.
    let served = hub.state.bytes_served.load(Ordering::Relaxed);
    let again = run();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("Already in the cache"));
    assert_eq!(String::from_utf8_lossy(&again.stdout).lines().last(), Some(path));
    assert!(hub.state.bytes_served.load(Ordering::Relaxed) - served <= 1, "only the size probe");
}

#[test]
fn a_download_cut_mid_file_resumes_where_it_stopped() {
    let hub = Hub::start();
    let bytes = content(20 * MIB);
    hub.add("SUFE-AIFLM-Lab/tiny-test", "big.gguf", bytes.clone());
    let dir = cache("resume");
    // The second 8 MiB chunk breaks off after 1 MiB; the first completes.
    hub.cut_once(8 * MIB as u64, MIB as u64);
    let rt = rt();
    let err = rt.block_on(download(&request(&hub, &dir, "big.gguf"), Arc::new(Count::default()))).expect_err("cut");
    assert!(matches!(err, DownloadError::Interrupted { .. }), "{err}");
    assert!(err.to_string().contains("run it again to resume"), "{err}");
    // In words an analyst reads, not only reqwest's.
    assert!(err.to_string().contains("the connection dropped in the middle of the file"), "{err}");
    let first = hub.state.bytes_served.load(Ordering::Relaxed);

    let progress = Arc::new(Count::default());
    let done = rt.block_on(download(&request(&hub, &dir, "big.gguf"), progress.clone())).expect("resumed");
    assert_eq!(std::fs::read(&done.path).expect("read"), bytes, "the resumed file is whole and in order");
    assert_eq!(progress.resumed.load(Ordering::Relaxed), 8 * MIB as u64, "picked up after the first chunk");
    let second = hub.state.bytes_served.load(Ordering::Relaxed) - first;
    // 12 MiB of data, plus a byte for each size probe (ours and hf-hub's).
    assert!(second <= 12 * MIB as u64 + 2, "the second run fetched {second} bytes, not the whole file again");
    assert_eq!(done.sha256.as_deref(), Some(fin_r1_tests::hub::sha256_hex(&bytes).as_str()));
}

/// Bytes the hub serves over two seconds, half a second after a download ended.
fn served_after(hub: &Hub) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = hub.state.bytes_served.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_secs(2));
    hub.state.bytes_served.load(Ordering::Relaxed) - before
}

/// Regression: hf-hub leaves its chunk tasks running when its download ends early. After a cut
/// (or a cancelled job) they went on fetching into the partial file, beside the next try.
#[test]
fn a_cut_or_cancelled_download_stops_fetching() {
    let hub = Hub::start();
    hub.add("SUFE-AIFLM-Lab/tiny-test", "slow.gguf", content(40 * MIB));
    hub.pace(6_000_000);
    hub.cut_once(8 * MIB as u64, MIB as u64);
    let rt = rt();
    let err = rt.block_on(download(&request(&hub, &cache("orphans-cut"), "slow.gguf"), Arc::new(Count::default()))).expect_err("cut");
    assert!(matches!(err, DownloadError::Interrupted { .. }), "{err}");
    // Left running, the three other chunks would bring some 36 MB in those two seconds.
    let after = served_after(&hub);
    assert!(after <= 4 * 65_536, "{after} bytes fetched after the download failed");

    let cancelled = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(1), download(&request(&hub, &cache("orphans-cancel"), "slow.gguf"), Arc::new(Count::default())))
            .await
    });
    assert!(cancelled.is_err(), "the paced download cannot finish in a second");
    let after = served_after(&hub);
    assert!(after <= 4 * 65_536, "{after} bytes fetched after the download was dropped");
}

#[test]
fn a_corrupted_file_is_caught_by_its_hash_and_removed() {
    let hub = Hub::start();
    let good = content(3 * MIB);
    let mut bad = good.clone();
    bad[MIB] ^= 0xff;
    hub.add_corrupt("SUFE-AIFLM-Lab/tiny-test", "model.gguf", bad, &good);
    let dir = cache("corrupt");
    let err = rt().block_on(download(&request(&hub, &dir, "model.gguf"), Arc::new(Count::default()))).expect_err("corrupt");
    let DownloadError::HashMismatch { want, .. } = &err else { panic!("{err}") };
    assert_eq!(want, &fin_r1_tests::hub::sha256_hex(&good));
    assert!(err.to_string().contains("corrupt"), "{err}");
    let snapshot = dir.join("models--SUFE-AIFLM-Lab--tiny-test").join("snapshots").join(COMMIT).join("model.gguf");
    assert!(!snapshot.exists(), "no corrupt file left where the app would load it");
}

#[test]
fn missing_files_and_refused_tokens_are_clear_errors() {
    let hub = Hub::start();
    hub.add("SUFE-AIFLM-Lab/tiny-test", "model.gguf", content(1000));
    let dir = cache("errors");
    let rt = rt();
    let err = rt.block_on(download(&request(&hub, &dir, "nope.gguf"), Arc::new(Count::default()))).expect_err("404");
    assert_eq!(err.kind(), "not_found");
    assert!(err.to_string().contains("has no file nope.gguf"), "{err}");

    hub.require_token("hf_secret");
    let err = rt.block_on(download(&request(&hub, &dir, "model.gguf"), Arc::new(Count::default()))).expect_err("401");
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.to_string().contains("token"), "{err}");
    assert!(!err.to_string().contains("hf_secret"));
    let mut with_token = request(&hub, &dir, "model.gguf");
    with_token.token = Some("hf_secret".into());
    let ok = rt.block_on(download(&with_token, Arc::new(Count::default()))).expect("with the token");
    assert_eq!(ok.size, 1000);

    // A dead endpoint.
    let mut dead = request(&hub, &dir, "model.gguf");
    dead.endpoint = Some("http://127.0.0.1:9".into());
    let err = rt.block_on(download(&dead, Arc::new(Count::default()))).expect_err("dead");
    assert_eq!(err.kind(), "unreachable");
}

#[test]
fn a_catalog_model_is_found_in_its_repository_fetched_and_added_to_the_library() {
    let hub = Hub::start();
    let model = fin_r1_tests::tiny_qwen2(&fin_r1_tests::TinySpec::thinking(fin_r1_tests::THINKING_SCRIPT));
    // The catalog names the repository and the quantization, never a guessed file name.
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.IQ4_XS.gguf", content(1000));
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.Q4_K_M.gguf", std::fs::read(&model).expect("model"));
    hub.add("mradermacher/Fin-R1-GGUF", "README.md", b"# Fin-R1 GGUF".to_vec());
    let dir = cache("catalog");
    let data = scratch_dir().join(format!("catalog-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let get = |id: &str| {
        Command::new(fin_r1_bin())
            .args(["models", "get", id, "--endpoint", &hub.endpoint(), "--cache-dir"])
            .arg(&dir)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("HF_TOKEN")
            .output()
            .expect("run")
    };
    let out = get("fin-r1-q4_k_m");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("mradermacher/Fin-R1-GGUF / Fin-R1.Q4_K_M.gguf"), "{stderr}");
    assert!(stderr.contains("Added to the library"), "{stderr}");
    let path = String::from_utf8_lossy(&out.stdout).lines().last().expect("path").to_owned();
    assert!(path.ends_with("Fin-R1.Q4_K_M.gguf"), "{path}");
    let list = Command::new(fin_r1_bin()).args(["models", "list", "--json", "--data-dir"]).arg(&data).output().expect("list");
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["source"], "download");
    assert_eq!(list[0]["repo"], "mradermacher/Fin-R1-GGUF");

    // A quantization the repository lacks, and the official weights, are clear refusals.
    let out = get("fin-r1-q8_0");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no repository Mungert/Fin-R1-GGUF"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = get("fin-r1-official");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no repository SUFE-AIFLM-Lab/Fin-R1"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = get("no-such-model");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no catalog model"));
}

/// Issue 30 item 6: the hub's search finds GGUF repositories and lists a repository's files with
/// their sizes; a hub that answers a search with 8 MB, or with entries of the wrong shape, is
/// read to its bound and said, not followed.
#[test]
fn the_hub_is_searched_and_a_repositorys_files_listed_with_sizes_and_a_lying_hub_is_bounded() {
    let hub = Hub::start();
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.Q4_K_M.gguf", content(3000));
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.Q8_0.gguf", content(5000));
    hub.add("mradermacher/Fin-R1-GGUF", "README.md", content(10));
    hub.add("someone/Other-GGUF", "other.gguf", content(10));
    let rt = rt();
    let req = DownloadRequest { endpoint: Some(hub.endpoint()), token: None, ..DownloadRequest::new("", "") };
    let found = rt.block_on(fin_r1_core::hub::search(&req, "fin-r1")).expect("search");
    assert_eq!(found.iter().map(|r| r.repo.as_str()).collect::<Vec<_>>(), ["mradermacher/Fin-R1-GGUF"]);
    assert_eq!(found[0].downloads, 1234);
    let req = DownloadRequest { repo: "mradermacher/Fin-R1-GGUF".into(), ..req };
    let mut files = rt.block_on(fin_r1_core::hub::gguf_files(&req)).expect("files");
    files.sort_by(|a, b| a.file.cmp(&b.file));
    assert_eq!(files.iter().map(|f| (f.file.as_str(), f.size)).collect::<Vec<_>>(), [("Fin-R1.Q4_K_M.gguf", 3000), ("Fin-R1.Q8_0.gguf", 5000)]);
    let none = DownloadRequest { repo: "nobody/none".into(), ..req.clone() };
    let err = rt.block_on(fin_r1_core::hub::gguf_files(&none)).expect_err("no such repository");
    assert!(err.to_string().contains("no repository nobody/none"), "{err}");

    // Entries of the wrong shape among good ones: the good ones are kept.
    hub.answer_search_with(br#"[{"id": 7}, {"nothing": true}, {"id": "a/b", "downloads": "many"}, {"id": "good/one", "downloads": 3}]"#.to_vec());
    let found = rt.block_on(fin_r1_core::hub::search(&req, "x")).expect("search");
    assert_eq!(found.iter().map(|r| r.repo.as_str()).collect::<Vec<_>>(), ["good/one"]);
    // 8 MB of answer: read to 4 MB, then refused with the reason.
    let mut huge = b"[".to_vec();
    while huge.len() < 8 << 20 {
        huge.extend_from_slice(br#"{"id": "org/padding-padding-padding-padding", "downloads": 1},"#);
    }
    huge.extend_from_slice(br#"{"id": "org/last"}]"#);
    hub.answer_search_with(huge);
    let err = rt.block_on(fin_r1_core::hub::search(&req, "x")).expect_err("too big");
    assert!(err.to_string().contains("under 4 MB"), "{err}");
    // Not JSON: said to be no hub's answer.
    hub.answer_search_with(b"<html>a login page</html>".to_vec());
    let err = rt.block_on(fin_r1_core::hub::search(&req, "x")).expect_err("not JSON");
    assert!(err.to_string().contains("Hugging Face hub or mirror"), "{err}");
}

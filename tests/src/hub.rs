//! A Hugging Face hub served on loopback for the download tests: `resolve` with Range requests,
//! the ETag / X-Repo-Commit / Content-Range headers hf-hub reads, tokens, and faults on demand
//! (a connection cut mid-file, bytes that do not match their hash).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use sha2::{Digest, Sha256};

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Default)]
pub struct HubState {
    /// (repo, file) → bytes served; the ETag is the SHA-256 of `etag_of` if set, else of these.
    files: Mutex<HashMap<(String, String), (Bytes, String)>>,
    token: Mutex<Option<String>>,
    /// Cut the next response whose range starts at this offset after this many bytes.
    cut: Mutex<Option<(u64, u64)>>,
    /// A cut connection stays open (its first bytes sent) until `release_cut`.
    cut_held: std::sync::atomic::AtomicBool,
    /// Bytes per second each response is sent at, so a progress bar can be watched.
    pace: Mutex<Option<u64>>,
    pub bytes_served: AtomicU64,
    pub requests: AtomicU64,
    /// What `/api/models?search=` answers instead of the files' repositories (a hostile hub).
    search_answer: Mutex<Option<Bytes>>,
}

pub struct Hub {
    pub addr: SocketAddr,
    pub state: Arc<HubState>,
    _runtime: tokio::runtime::Runtime,
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

impl Hub {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let state = Arc::new(HubState::default());
        let app = Router::new()
            .route("/{org}/{name}/resolve/{rev}/{*file}", get(resolve))
            .route("/api/models/{org}/{name}/revision/{rev}", get(info))
            .route("/api/models/{org}/{name}/tree/{rev}", get(tree))
            .route("/api/models", get(search))
            .with_state(state.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self { addr, state, _runtime: runtime }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, repo: &str, file: &str, bytes: Vec<u8>) {
        let sha = sha256_hex(&bytes);
        self.state.files.lock().expect("lock").insert((repo.into(), file.into()), (Bytes::from(bytes), sha));
    }

    /// Serves `bytes` under the hash of `claimed`: a file corrupted on the way.
    pub fn add_corrupt(&self, repo: &str, file: &str, bytes: Vec<u8>, claimed: &[u8]) {
        self.state.files.lock().expect("lock").insert((repo.into(), file.into()), (Bytes::from(bytes), sha256_hex(claimed)));
    }

    /// Answers the model search with `body`, whatever the hub holds.
    pub fn answer_search_with(&self, body: Vec<u8>) {
        *self.state.search_answer.lock().expect("lock") = Some(Bytes::from(body));
    }

    pub fn require_token(&self, token: &str) {
        *self.state.token.lock().expect("lock") = Some(token.into());
    }

    /// Sends every response at about `bytes_per_sec`.
    pub fn pace(&self, bytes_per_sec: u64) {
        *self.state.pace.lock().expect("lock") = Some(bytes_per_sec.max(1024));
    }

    /// The next response for a range starting at `offset` stops after `after` bytes.
    pub fn cut_once(&self, offset: u64, after: u64) {
        *self.state.cut.lock().expect("lock") = Some((offset, after));
    }

    /// As `cut_once`, but the connection drops only after `release_cut`. hf-hub starts its
    /// chunks in no fixed order and the bytes served are not yet the bytes the client has
    /// written: a test that needs something to resume from waits until the client has
    /// committed a chunk, then lets the cut happen.
    pub fn cut_once_held(&self, offset: u64, after: u64) {
        self.state.cut_held.store(true, Ordering::Relaxed);
        self.cut_once(offset, after);
    }

    pub fn release_cut(&self) {
        self.state.cut_held.store(false, Ordering::Relaxed);
    }
}

async fn resolve(State(state): State<Arc<HubState>>, Path((org, name, _rev, file)): Path<(String, String, String, String)>, headers: HeaderMap) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let wanted = state.token.lock().expect("lock").clone();
    if let Some(t) = wanted {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if given != format!("Bearer {t}") {
            return plain(StatusCode::UNAUTHORIZED, "Invalid credentials in Authorization header");
        }
    }
    let found = state.files.lock().expect("lock").get(&(format!("{org}/{name}"), file.clone())).cloned();
    let Some((bytes, sha)) = found else { return plain(StatusCode::NOT_FOUND, "Entry not found") };
    let total = bytes.len() as u64;
    let (start, end) = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok().unwrap_or(total - 1))))
        .map(|(a, b)| (a.min(total), b.min(total.saturating_sub(1))))
        .unwrap_or((0, total.saturating_sub(1)));
    let part = bytes.slice(start as usize..(end + 1).min(total) as usize);
    let cut = {
        let mut c = state.cut.lock().expect("lock");
        match *c {
            Some((offset, after)) if offset == start && part.len() as u64 > 1 => {
                *c = None;
                Some(after)
            }
            _ => None,
        }
    };
    let len = part.len() as u64;
    let served = state.clone();
    let pace = *state.pace.lock().expect("lock");
    let body = match (cut, pace) {
        (None, None) => {
            served.bytes_served.fetch_add(len, Ordering::Relaxed);
            Body::from(part)
        }
        (None, Some(rate)) => {
            // 64 KB pieces with a pause after each.
            let pieces: Vec<Bytes> = (0..len).step_by(65_536).map(|a| part.slice(a as usize..(a + 65_536).min(len) as usize)).collect();
            let pause = Duration::from_secs_f64(65_536.0 / rate as f64);
            let stream = futures_util::stream::iter(pieces).then(move |piece| {
                let served = served.clone();
                async move {
                    tokio::time::sleep(pause).await;
                    served.bytes_served.fetch_add(piece.len() as u64, Ordering::Relaxed);
                    Ok::<Bytes, std::io::Error>(piece)
                }
            });
            Body::from_stream(stream)
        }
        (Some(after), _) => {
            let head = part.slice(..after.min(len) as usize);
            served.bytes_served.fetch_add(head.len() as u64, Ordering::Relaxed);
            // Part of the range, a pause (so the other chunks finish first; when held, until
            // released), then the connection drops.
            let stream = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(head)]).chain(futures_util::stream::once(async move {
                let waited = std::time::Instant::now();
                while served.cut_held.load(Ordering::Relaxed) && waited.elapsed() < Duration::from_secs(120) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                Err(std::io::Error::other("connection cut"))
            }));
            Body::from_stream(stream)
        }
    };
    Response::builder()
        .status(if headers.contains_key("range") { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK })
        .header("etag", format!("\"{sha}\""))
        .header("x-repo-commit", COMMIT)
        .header("accept-ranges", "bytes")
        .header("content-range", format!("bytes {start}-{end}/{total}"))
        .header("content-length", len)
        .body(body)
        .expect("response")
}

/// The repository's file list, as `/api/models/…` gives it.
async fn info(State(state): State<Arc<HubState>>, Path((org, name, _rev)): Path<(String, String, String)>) -> Response {
    let repo = format!("{org}/{name}");
    let files: Vec<String> = state.files.lock().expect("lock").keys().filter(|(r, _)| *r == repo).map(|(_, f)| f.clone()).collect();
    if files.is_empty() {
        return plain(StatusCode::NOT_FOUND, "Repository not found");
    }
    let siblings: Vec<serde_json::Value> = files.iter().map(|f| serde_json::json!({ "rfilename": f })).collect();
    let body = serde_json::json!({ "id": repo, "sha": COMMIT, "siblings": siblings });
    Response::builder().header("content-type", "application/json").body(Body::from(body.to_string())).expect("response")
}

/// The hub's model search: the repositories whose name holds the query and that hold a GGUF,
/// as `/api/models?search=…&filter=gguf` lists them.
async fn search(State(state): State<Arc<HubState>>, uri: axum::http::Uri) -> Response {
    if let Some(body) = state.search_answer.lock().expect("lock").clone() {
        return Response::builder().header("content-type", "application/json").body(Body::from(body)).expect("response");
    }
    // The query's `search=` value, its %XX escapes decoded.
    let raw = uri.query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("search=")).unwrap_or("");
    let mut bytes = Vec::new();
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hex: String = it.by_ref().take(2).map(char::from).collect();
                bytes.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?'));
            }
            b'+' => bytes.push(b' '),
            b => bytes.push(b),
        }
    }
    let want = String::from_utf8_lossy(&bytes).to_lowercase();
    let mut repos: Vec<String> =
        state.files.lock().expect("lock").keys().filter(|(r, f)| r.to_lowercase().contains(&want) && f.ends_with(".gguf")).map(|(r, _)| r.clone()).collect();
    repos.sort();
    repos.dedup();
    let found: Vec<serde_json::Value> = repos.iter().map(|r| serde_json::json!({ "id": r, "downloads": 1234, "likes": 5, "tags": ["gguf"] })).collect();
    Response::builder().header("content-type", "application/json").body(Body::from(serde_json::Value::from(found).to_string())).expect("response")
}

/// A repository's files with their sizes, as `/api/models/{repo}/tree/{rev}` lists them.
async fn tree(State(state): State<Arc<HubState>>, Path((org, name, _rev)): Path<(String, String, String)>) -> Response {
    let repo = format!("{org}/{name}");
    let files: Vec<serde_json::Value> = state
        .files
        .lock()
        .expect("lock")
        .iter()
        .filter(|((r, _), _)| *r == repo)
        .map(|((_, f), (bytes, sha))| serde_json::json!({ "type": "file", "path": f, "size": bytes.len(), "lfs": { "oid": sha, "size": bytes.len() } }))
        .collect();
    if files.is_empty() {
        return plain(StatusCode::NOT_FOUND, "Repository not found");
    }
    Response::builder().header("content-type", "application/json").body(Body::from(serde_json::Value::from(files).to_string())).expect("response")
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder().status(status).body(Body::from(text)).expect("response")
}

use futures_util::StreamExt as _;

/// What a partial download under `dir` (a Hugging Face cache) has committed: hf-hub keeps the
/// length finished from the start of the file in the last 8 bytes of its `.sync.part` file.
pub fn committed_bytes(dir: &std::path::Path, size: u64) -> u64 {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for p in entries.filter_map(Result::ok).map(|e| e.path()) {
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".sync.part") {
                let Ok(bytes) = std::fs::read(&p) else { continue };
                if bytes.len() as u64 == size + 8 {
                    let mut tail = [0u8; 8];
                    tail.copy_from_slice(&bytes[size as usize..]);
                    return u64::from_le_bytes(tail);
                }
            }
        }
    }
    0
}

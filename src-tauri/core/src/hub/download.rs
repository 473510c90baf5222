use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hf_hub::api::tokio::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_RANGE, RANGE};

/// Resume granularity: what a cut connection can cost.
pub const CHUNK: usize = 8 << 20;
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

#[derive(Debug, Clone)]
pub struct DownloadRequest {
    pub repo: String,
    pub file: String,
    pub revision: String,
    /// `None`: `$HF_ENDPOINT`, else huggingface.co.
    pub endpoint: Option<String>,
    /// `None`: `$HF_TOKEN`, else the token file in the cache (`huggingface-cli login`).
    pub token: Option<String>,
    /// `None`: `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
}

impl DownloadRequest {
    pub fn new(repo: impl Into<String>, file: impl Into<String>) -> Self {
        Self { repo: repo.into(), file: file.into(), revision: "main".into(), endpoint: None, token: None, cache_dir: None }
    }

    fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
            .trim_end_matches('/')
            .to_owned()
    }

    fn cache(&self) -> Cache {
        match &self.cache_dir {
            Some(d) => Cache::new(d.clone()),
            None => Cache::from_env(),
        }
    }

    fn token(&self, cache: &Cache) -> Option<String> {
        self.token.clone().or_else(|| std::env::var("HF_TOKEN").ok()).or_else(|| cache.token()).filter(|t| !t.is_empty())
    }

    /// The hub this request goes to (`endpoint`, else `$HF_ENDPOINT`, else huggingface.co).
    pub(crate) fn endpoint_or_env(&self) -> String {
        self.endpoint()
    }

    /// The token it sends, wherever it comes from.
    pub(crate) fn token_or_env(&self) -> Option<String> {
        self.token(&self.cache())
    }
}

/// Told as a download goes: bytes so far of the total (resumed bytes count from the start).
pub trait Progress: Send + Sync + 'static {
    fn start(&self, file: &str, total: u64, resumed_from: u64);
    fn advance(&self, bytes: u64);
}

#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    /// The file in the cache's snapshot folder (a link to its blob).
    pub path: PathBuf,
    pub size: u64,
    pub sha256: Option<String>,
    pub commit: String,
    /// Found in the cache: nothing was fetched.
    pub cached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{repo} has no file {file} at revision {revision} on {endpoint} (404)")]
    NotFound { repo: String, file: String, revision: String, endpoint: String },
    #[error("no repository {repo} on {endpoint}")]
    NoRepo { repo: String, endpoint: String },
    #[error("{repo} has no single-file GGUF with {quantization} in its name; its GGUF files: {files}")]
    NoMatch { repo: String, quantization: String, files: String },
    #[error("{endpoint} refused access to {repo} ({status}): the repository is gated or private; set a token (--token or HF_TOKEN)")]
    Unauthorized { repo: String, endpoint: String, status: u16 },
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("the hub's answer for {file} lacks {what}: is {endpoint} a Hugging Face hub or mirror?")]
    NotAHub { file: String, endpoint: String, what: &'static str },
    #[error("not enough disk space in {dir}: {file} needs {need} more bytes, {free} are free")]
    DiskSpace { dir: PathBuf, file: String, need: u64, free: u64 },
    #[error("the disk holding {dir} filled while {file} was downloading; the partial file was removed to give its space back: free some space and download it again")]
    DiskFilled { dir: PathBuf, file: String },
    #[error("{file} is corrupt: its SHA-256 is {got}, the hub says {want}; the file was removed, download it again")]
    HashMismatch { file: String, want: String, got: String },
    #[error("the download of {file} stopped: {reason}; run it again to resume")]
    Interrupted { file: String, reason: String },
    #[error("{file:?} is not a file's path inside a repository (relative, no `..`)")]
    BadName { file: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DownloadError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::NotFound { .. } | Self::NoRepo { .. } | Self::NoMatch { .. } => fin_r1_engine::ErrorKind::NotFound,
            Self::Unauthorized { .. } => fin_r1_engine::ErrorKind::Unauthorized,
            Self::Unreachable { .. } => fin_r1_engine::ErrorKind::Unreachable,
            Self::NotAHub { .. } => fin_r1_engine::ErrorKind::NotAHub,
            Self::DiskSpace { .. } | Self::DiskFilled { .. } => fin_r1_engine::ErrorKind::DiskFull,
            Self::HashMismatch { .. } => fin_r1_engine::ErrorKind::HashMismatch,
            Self::Interrupted { .. } => fin_r1_engine::ErrorKind::Interrupted,
            Self::Io(_) => fin_r1_engine::ErrorKind::Io,
            Self::BadName { .. } => fin_r1_engine::ErrorKind::InvalidRequest,
        }
    }
}

/// What the hub says of a file before it is fetched.
struct Metadata {
    size: u64,
    etag: String,
    commit: String,
}

async fn metadata(http: &reqwest::Client, url: &str, req: &DownloadRequest, endpoint: &str) -> Result<Metadata, DownloadError> {
    let response = http
        .get(url)
        .header(RANGE, "bytes=0-0")
        .send()
        .await
        .map_err(|e| DownloadError::Unreachable { endpoint: endpoint.to_owned(), reason: e.to_string() })?;
    let status = response.status().as_u16();
    match status {
        404 => {
            return Err(DownloadError::NotFound {
                repo: req.repo.clone(),
                file: req.file.clone(),
                revision: req.revision.clone(),
                endpoint: endpoint.to_owned(),
            })
        }
        401 | 403 => return Err(DownloadError::Unauthorized { repo: req.repo.clone(), endpoint: endpoint.to_owned(), status }),
        s if !(200..300).contains(&s) => return Err(DownloadError::Unreachable { endpoint: endpoint.to_owned(), reason: format!("HTTP {s} for {url}") }),
        _ => {}
    }
    let h = response.headers();
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim_matches('"').to_owned());
    let not_hub = |what| DownloadError::NotAHub { file: req.file.clone(), endpoint: endpoint.to_owned(), what };
    let etag = text("x-linked-etag").or_else(|| text("etag")).ok_or_else(|| not_hub("an ETag"))?;
    let commit = text("x-repo-commit").ok_or_else(|| not_hub("X-Repo-Commit"))?;
    let size = h
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .or_else(|| text("x-linked-size").and_then(|s| s.parse().ok()))
        .ok_or_else(|| not_hub("the file's size (Content-Range)"))?;
    Ok(Metadata { size, etag, commit })
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// hf-hub's progress, forwarded.
#[derive(Clone)]
struct Forward(Arc<dyn Progress>);

impl hf_hub::api::tokio::Progress for Forward {
    async fn init(&mut self, _size: usize, _filename: &str) {}
    async fn update(&mut self, size: usize) {
        self.0.advance(size as u64);
    }
    async fn finish(&mut self) {}
}

/// Runs hf-hub's download on a runtime of its own, shut down when the download ends or this
/// future is dropped (a cancelled job). hf-hub spawns a task per chunk and leaves them running
/// when its future ends early (one chunk failed, or the job was cancelled): they went on
/// downloading into the partial file behind the user's back and beside the next try's.
async fn isolated<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> Result<T, DownloadError> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    // Dropped with this future: the download's runtime sees it and stops.
    let (_stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runtime = crate::rt::io("fin-r1-download")?;
    std::thread::Builder::new().name("fin-r1-download".into()).spawn(move || {
        runtime.block_on(async move {
            tokio::select! {
                out = work => { let _ = done_tx.send(out); }
                _ = stop_rx => {}
            }
        });
        // Dropping the runtime cancels every chunk task still running.
        runtime.shutdown_timeout(Duration::from_secs(5));
    })?;
    done_rx.await.map_err(|_| DownloadError::Io(std::io::Error::other("the download thread ended without a result")))
}

/// Bytes a partial download already holds (hf-hub keeps the committed length in its last 8
/// bytes while the file is incomplete).
fn resumable_bytes(partial: &Path, size: u64) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(partial) else { return 0 };
    if f.metadata().map(|m| m.len()).unwrap_or(0) != size + 8 || f.seek(SeekFrom::Start(size)).is_err() {
        return 0;
    }
    let mut buf = [0u8; 8];
    match f.read_exact(&mut buf) {
        Ok(()) => u64::from_le_bytes(buf).min(size),
        Err(_) => 0,
    }
}

use crate::paths::free_space;

/// The files of a repository at a revision, as the hub lists them.
pub async fn list_files(req: &DownloadRequest) -> Result<Vec<String>, DownloadError> {
    let endpoint = req.endpoint();
    let cache = req.cache();
    let api = ApiBuilder::from_cache(cache.clone())
        .with_endpoint(endpoint.clone())
        .with_token(req.token(&cache))
        .with_progress(false)
        .build()
        .map_err(|e| DownloadError::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() })?;
    let repo = Repo::with_revision(req.repo.clone(), RepoType::Model, req.revision.clone());
    match api.repo(repo).info().await {
        Ok(info) => Ok(info.siblings.into_iter().map(|s| s.rfilename).collect()),
        Err(e) => Err(match interrupted(req, &endpoint, e) {
            DownloadError::NotFound { .. } => DownloadError::NoRepo { repo: req.repo.clone(), endpoint },
            DownloadError::Interrupted { reason, .. } => DownloadError::Unreachable { endpoint, reason },
            other => other,
        }),
    }
}

/// Downloads one file of a repository into the Hugging Face cache and returns its path.
pub async fn download(req: &DownloadRequest, progress: Arc<dyn Progress>) -> Result<Downloaded, DownloadError> {
    // Joined onto the cache's folder: a name from a hub or a form never leaves it.
    if !super::search::is_repo_path(&req.file) {
        return Err(DownloadError::BadName { file: req.file.clone() });
    }
    let endpoint = req.endpoint();
    let cache = req.cache();
    let token = req.token(&cache);
    let repo = Repo::with_revision(req.repo.clone(), RepoType::Model, req.revision.clone());
    let url = format!("{endpoint}/{}/resolve/{}/{}", req.repo, req.revision.replace('/', "%2F"), req.file);

    let mut headers = HeaderMap::new();
    if let Some(t) = &token {
        let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| DownloadError::Unauthorized {
            repo: req.repo.clone(),
            endpoint: endpoint.clone(),
            status: 0,
        })?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| DownloadError::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() })?;
    let meta = metadata(&http, &url, req, &endpoint).await?;

    // Another tool (or an earlier run) may have it already.
    let cache_repo = cache.repo(repo.clone());
    let pointer = cache.path().join(repo.folder_name()).join("snapshots").join(&meta.commit).join(&req.file);
    if std::fs::metadata(&pointer).map(|m| m.is_file() && m.len() == meta.size).unwrap_or(false) {
        cache_repo.create_ref(&meta.commit)?;
        return Ok(Downloaded { path: pointer, size: meta.size, sha256: is_sha256(&meta.etag).then(|| meta.etag.clone()), commit: meta.commit, cached: true });
    }

    let blob = cache.path().join(repo.folder_name()).join("blobs").join(&meta.etag);
    let partial = blob.with_extension("sync.part");
    let have = resumable_bytes(&partial, meta.size);
    let dir = cache.path().to_owned();
    std::fs::create_dir_all(&dir)?;
    if let Some(free) = free_space(&dir) {
        // The partial file is allocated at full size already.
        let need = if partial.exists() { 0 } else { meta.size + 8 };
        if need > free {
            return Err(DownloadError::DiskSpace { dir, file: req.file.clone(), need, free });
        }
    }
    tracing::info!(file = %req.file, total = meta.size, resumed_from = have, partial = partial.exists(), "download starting");
    progress.start(&req.file, meta.size, have);

    let api = ApiBuilder::from_cache(cache.clone())
        .with_endpoint(endpoint.clone())
        .with_token(token.clone())
        .with_progress(false)
        .with_chunk_size(Some(CHUNK))
        .with_max_files(4)
        .build()
        .map_err(|e| DownloadError::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() })?;
    let file = req.file.clone();
    let forward = Forward(progress.clone());
    let path = match isolated(async move { api.repo(repo).download_with_progress(&file, forward).await }).await? {
        Ok(path) => path,
        // A disk that filled under the download: the partial file is what holds the space the
        // analyst now needs, and a resume would fail the same way. It goes; a download cut by
        // the network keeps its partial file to resume from.
        Err(e) if disk_filled(&e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(DownloadError::DiskFilled { dir, file: req.file.clone() });
        }
        Err(e) => return Err(interrupted(req, &endpoint, e)),
    };

    let sha256 = if is_sha256(&meta.etag) {
        let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let got = tokio::task::spawn_blocking(move || crate::store::sha256_file(&target)).await.map_err(|e| std::io::Error::other(e.to_string()))??;
        if !got.eq_ignore_ascii_case(&meta.etag) {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(&blob);
            return Err(DownloadError::HashMismatch { file: req.file.clone(), want: meta.etag.clone(), got });
        }
        Some(got)
    } else {
        None
    };
    Ok(Downloaded { path, size: meta.size, sha256, commit: meta.commit, cached: false })
}

/// Whether a failed download failed because the disk is full: an I/O error saying so in its
/// chain. Nothing else counts (not little space left: a network cut near the end of a file
/// that just fits must keep its partial file to resume).
fn disk_filled(e: &ApiError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| fin_r1_engine::ErrorKind::of_io(io) == fin_r1_engine::ErrorKind::DiskFull) {
            return true;
        }
        cause = c.source();
    }
    false
}

fn interrupted(req: &DownloadRequest, endpoint: &str, e: ApiError) -> DownloadError {
    match &e {
        ApiError::RequestError(r) if r.status().map(|s| s.as_u16()) == Some(404) => {
            DownloadError::NotFound { repo: req.repo.clone(), file: req.file.clone(), revision: req.revision.clone(), endpoint: endpoint.to_owned() }
        }
        ApiError::RequestError(r) if matches!(r.status().map(|s| s.as_u16()), Some(401 | 403)) => {
            DownloadError::Unauthorized { repo: req.repo.clone(), endpoint: endpoint.to_owned(), status: r.status().map(|s| s.as_u16()).unwrap_or(401) }
        }
        _ => DownloadError::Interrupted { file: req.file.clone(), reason: plain_reason(&e) },
    }
}

/// reqwest's words ("error decoding response body") say little to an analyst whose Wi-Fi
/// dropped: name what happened, keep the library's words after it for the log.
fn plain_reason(e: &ApiError) -> String {
    let what = match e {
        ApiError::RequestError(r) if r.is_timeout() => Some("the server stopped sending (timed out)"),
        ApiError::RequestError(r) if r.is_connect() => Some("the connection to the server failed"),
        ApiError::RequestError(r) if r.is_body() || r.is_decode() => Some("the connection dropped in the middle of the file"),
        _ => None,
    };
    match what {
        Some(w) => format!("{w} ({e})"),
        None => e.to_string(),
    }
}

/// The repository's GGUF for a quantization: its name holds the quantization (any case) and it
/// is one whole file (split `-00001-of-0000N` parts are not what the engine loads).
pub fn pick_gguf(repo: &str, files: &[String], quantization: &str) -> Result<String, DownloadError> {
    let q = quantization.to_ascii_lowercase();
    let ggufs: Vec<&String> = files.iter().filter(|f| f.to_ascii_lowercase().ends_with(".gguf")).collect();
    let mut hits: Vec<&String> = ggufs
        .iter()
        .copied()
        .filter(|f| {
            let l = f.to_ascii_lowercase();
            l.contains(&q) && !l.contains("-of-")
        })
        .collect();
    // The plainest name wins (`Fin-R1.Q4_K_M.gguf` over an imatrix variant beside it).
    hits.sort_by_key(|f| (f.len(), (*f).clone()));
    hits.first().map(|f| (*f).clone()).ok_or_else(|| DownloadError::NoMatch {
        repo: repo.to_owned(),
        quantization: quantization.to_owned(),
        files: if ggufs.is_empty() { "none".into() } else { ggufs.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ") },
    })
}

#[cfg(test)]
mod tests {
    use super::free_space;

    /// statvfs through nix (it was libc in an `unsafe` block): a folder that exists has its room
    /// reported; a path that does not exist has none known (the download goes on unchecked).
    #[cfg(unix)]
    #[test]
    fn free_space_is_read_for_a_folder_and_unknown_for_a_missing_path() {
        let dir = std::env::temp_dir();
        assert!(free_space(&dir).is_some_and(|n| n > 0), "{}", dir.display());
        assert_eq!(free_space(&dir.join("fin-r1-no-such-folder/inside")), None);
    }
}

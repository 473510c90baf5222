//! Model jobs, one path for the CLI and the app: a catalog model fetched (its GGUF, or its
//! official checkpoint quantized here), a repository's file fetched, or a local checkpoint
//! quantized; then the result is checked and added to the library.
//!
//! A `JobCancel` stops a job. The download half is raced against it (dropping hf-hub's future
//! stops it; what it fetched stays for the next try); the quantizer, which runs on a blocking
//! thread a dropped future could not stop, checks it between tensors and removes its partial
//! file. Either way the job's future returns only once the work has stopped, so whoever holds
//! the job slot frees it only then.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use fin_r1_engine::quantize::Target;
use fin_r1_engine::{CancelToken, EngineError};
use serde::{Deserialize, Serialize};

use crate::catalog::Entry;
use crate::hub::{self, DownloadError, DownloadRequest, Progress};
use crate::library::{self, ImportError};
use crate::store::{LibraryModel, Store};

/// What a job tells as it goes (the app's model manager shows these; the CLI prints them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    /// The repository file being fetched (a catalog entry's, picked by quantization).
    Source {
        repo: String,
        file: String,
    },
    Start {
        file: String,
        total: u64,
        resumed_from: u64,
    },
    Progress {
        file: String,
        done: u64,
        total: u64,
        bytes_per_sec: f64,
    },
    Quantize {
        done: usize,
        total: usize,
        tensor: String,
    },
    Checking {
        path: String,
    },
}

/// Where a job's progress goes: download bytes (`Progress`) and the other steps.
pub trait JobSink: Progress {
    fn event(&self, event: JobEvent);
}

/// The stop switch of one job; clones share it.
#[derive(Clone)]
pub struct JobCancel {
    token: CancelToken,
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for JobCancel {
    fn default() -> Self {
        Self { token: CancelToken::default(), tx: Arc::new(tokio::sync::watch::channel(false).0) }
    }
}

impl JobCancel {
    pub fn cancel(&self) {
        self.token.cancel();
        self.tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Runs `work` until it ends or the job is cancelled (then `work` is dropped).
    async fn race<T>(&self, work: impl std::future::Future<Output = Result<T, JobError>>) -> Result<T, JobError> {
        let mut rx = self.tx.subscribe();
        tokio::select! {
            r = work => r,
            _ = rx.wait_for(|c| *c) => Err(JobError::Cancelled),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("{0}")]
    Quantize(EngineError),
    #[error("not added to the library: {0}")]
    Import(#[from] ImportError),
    #[error("stopped; what was fetched is kept and the next download resumes from it")]
    Cancelled,
    #[error("{0}")]
    Io(String),
}

impl JobError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::Download(e) => e.kind(),
            Self::Quantize(EngineError::Cancelled) | Self::Cancelled => fin_r1_engine::ErrorKind::Cancelled,
            Self::Quantize(_) => fin_r1_engine::ErrorKind::Quantize,
            Self::Import(e) => e.kind(),
            Self::Io(_) => fin_r1_engine::ErrorKind::Io,
        }
    }
}

/// A finished job: the model file, and its library entry when a store was given.
#[derive(Debug)]
pub struct JobOutput {
    pub path: PathBuf,
    /// The download was already complete in the cache.
    pub cached: bool,
    pub sha256: Option<String>,
    pub model: Option<LibraryModel>,
    /// A downloaded file the library refused (not a model this engine runs): the download
    /// itself succeeded and the file stays in the cache.
    pub not_added: Option<ImportError>,
}

/// A catalog entry: its GGUF for the entry's quantization, or (official weights) its
/// checkpoint fetched and quantized to `target` in `models_dir`.
pub async fn fetch_catalog_model(
    entry: &Entry,
    base: &DownloadRequest,
    target: Target,
    models_dir: &Path,
    store: Option<&Store>,
    sink: Arc<dyn JobSink>,
    cancel: &JobCancel,
) -> Result<JobOutput, JobError> {
    let progress: Arc<dyn Progress> = sink.clone();
    let gguf = cancel.race(async { Ok(hub::gguf_request(entry, base).await?) }).await?;
    if let Some(req) = gguf {
        return fetch_file(&req, store, sink, cancel).await;
    }
    let checkpoint = cancel.race(async { Ok(hub::fetch_checkpoint(&entry.repo, base, progress).await?) }).await?;
    let out = hub::quantized_path(models_dir, &entry.repo, target);
    quantize_checkpoint(&checkpoint, &out, target, store, Some(&entry.repo), sink, cancel).await
}

/// One repository file; a GGUF joins the library.
pub async fn fetch_file(req: &DownloadRequest, store: Option<&Store>, sink: Arc<dyn JobSink>, cancel: &JobCancel) -> Result<JobOutput, JobError> {
    let progress: Arc<dyn Progress> = sink.clone();
    sink.event(JobEvent::Source { repo: req.repo.clone(), file: req.file.clone() });
    let d = cancel.race(async { Ok(hub::download(req, progress).await?) }).await?;
    let is_gguf = d.path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    let (mut model, mut not_added) = (None, None);
    if let Some(store) = store.filter(|_| is_gguf) {
        sink.event(JobEvent::Checking { path: d.path.display().to_string() });
        match library::add(store, &d.path, "download", Some(&req.repo)).await {
            Ok(m) => model = Some(m),
            Err(e) => not_added = Some(e),
        }
    }
    Ok(JobOutput { path: d.path, cached: d.cached, sha256: d.sha256, model, not_added })
}

/// A local safetensors checkpoint quantized to `out`, then added to the library.
pub async fn quantize_checkpoint(
    checkpoint: &Path,
    out: &Path,
    target: Target,
    store: Option<&Store>,
    repo: Option<&str>,
    sink: Arc<dyn JobSink>,
    cancel: &JobCancel,
) -> Result<JobOutput, JobError> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| JobError::Io(format!("creating {}: {e}", dir.display())))?;
    }
    let (dir, written, token, events) = (checkpoint.to_owned(), out.to_owned(), cancel.token.clone(), sink.clone());
    // Awaited to its end even when cancelled: the quantizer sees the token before its next
    // tensor, removes its partial file and returns.
    tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        let mut on_tensor = |done: usize, total: usize, name: &str| {
            if last.elapsed().as_millis() >= 150 || done == total || done == 0 {
                last = Instant::now();
                events.event(JobEvent::Quantize { done, total, tensor: name.to_owned() });
            }
        };
        fin_r1_engine::quantize::quantize(&dir, &written, target, &mut on_tensor, &token)
    })
    .await
    .map_err(|e| JobError::Io(format!("the quantizer stopped: {e}")))?
    .map_err(|e| match e {
        EngineError::Cancelled => JobError::Cancelled,
        e => JobError::Quantize(e),
    })?;
    let model = match store {
        Some(store) => Some(add(store, out, "quantize", repo, &*sink).await?),
        None => None,
    };
    Ok(JobOutput { path: out.to_owned(), cached: false, sha256: None, model, not_added: None })
}

async fn add(store: &Store, path: &Path, source: &str, repo: Option<&str>, sink: &dyn JobSink) -> Result<LibraryModel, JobError> {
    sink.event(JobEvent::Checking { path: path.display().to_string() });
    Ok(library::add(store, path, source, repo).await?)
}

//! The model manager page: the catalog against this machine, downloads with live progress
//! (stopped by dropping their task; the part fetched stays for the next try), import, and
//! quantizing a safetensors checkpoint.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fin_r1_core::catalog::{self, Advice};
use fin_r1_core::hardware::Hardware;
use fin_r1_core::hub::{self, DownloadRequest, Progress};
use fin_r1_core::library;
use fin_r1_core::settings;
use fin_r1_core::store::LibraryModel;
use fin_r1_engine::quantize::Target;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct CatalogView {
    pub hardware: Hardware,
    pub models: Vec<Advice>,
    pub library: Vec<LibraryModel>,
    /// The hub downloads come from.
    pub endpoint: String,
    pub has_token: bool,
    pub models_dir: PathBuf,
    /// A download or quantization is running.
    pub busy: bool,
}

#[tauri::command]
pub async fn model_catalog(state: State<'_, AppState>) -> CmdResult<CatalogView> {
    let hw = Hardware::detect();
    let models = catalog::advise(catalog::load().map_err(|e| CommandError::Invalid(e.to_string()))?, &hw);
    let s = state.settings().await;
    Ok(CatalogView {
        hardware: hw,
        models,
        library: state.store.models().await?,
        endpoint: endpoint(&s),
        has_token: settings::secret(&state.store, settings::HUB_TOKEN).await?.is_some(),
        models_dir: s.models_dir(&state.data_dir),
        busy: state.job.lock().map(|j| j.as_ref().is_some_and(|h| !h.is_finished())).unwrap_or(false),
    })
}

fn endpoint(s: &settings::Settings) -> String {
    s.hub_endpoint
        .clone()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "https://huggingface.co".into())
}

/// What the page shows while a job runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    Start { file: String, total: u64, resumed_from: u64 },
    Progress { file: String, done: u64, total: u64, bytes_per_sec: f64 },
    Quantize { done: usize, total: usize, tensor: String },
    Checking { path: String },
}

/// Download progress down a channel, a few times a second.
struct ChannelProgress {
    channel: Channel<JobEvent>,
    inner: Mutex<Counters>,
}

struct Counters {
    file: String,
    total: u64,
    done: u64,
    resumed: u64,
    started: Instant,
    last: Instant,
}

impl Progress for ChannelProgress {
    fn start(&self, file: &str, total: u64, resumed_from: u64) {
        if let Ok(mut c) = self.inner.lock() {
            // The downloader counts the resumed bytes in its first advance.
            *c = Counters { file: file.to_owned(), total, done: 0, resumed: resumed_from, started: Instant::now(), last: Instant::now() };
        }
        let _ = self.channel.send(JobEvent::Start { file: file.to_owned(), total, resumed_from });
    }

    fn advance(&self, bytes: u64) {
        let Ok(mut c) = self.inner.lock() else { return };
        c.done += bytes;
        if c.last.elapsed().as_millis() < 150 && c.done < c.total {
            return;
        }
        c.last = Instant::now();
        let secs = c.started.elapsed().as_secs_f64().max(1e-3);
        let event = JobEvent::Progress { file: c.file.clone(), done: c.done, total: c.total, bytes_per_sec: (c.done - c.resumed) as f64 / secs };
        drop(c);
        let _ = self.channel.send(event);
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadModel {
    /// A catalog entry; or `repo` and `file` for any hub file.
    pub catalog_id: Option<String>,
    pub repo: Option<String>,
    pub file: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    /// For the official safetensors weights: q4_k_m (default) or q8_0.
    #[serde(default)]
    pub target: Option<String>,
}

/// Downloads a model (a catalog entry, or a repository's file), checks it and adds it to the
/// library. Progress streams through `on_event`; `cancel_model_job` stops it.
#[tauri::command]
pub async fn download_model(state: State<'_, AppState>, request: DownloadModel, on_event: Channel<JobEvent>) -> CmdResult<LibraryModel> {
    let s = state.settings().await;
    let base = DownloadRequest {
        endpoint: Some(endpoint(&s)),
        token: settings::secret(&state.store, settings::HUB_TOKEN).await?,
        revision: request.revision.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "main".into()),
        ..DownloadRequest::new("", "")
    };
    let target: Target = request.target.as_deref().unwrap_or("q4_k_m").parse().map_err(CommandError::Invalid)?;
    let progress = Arc::new(ChannelProgress {
        channel: on_event.clone(),
        inner: Mutex::new(Counters { file: String::new(), total: 0, done: 0, resumed: 0, started: Instant::now(), last: Instant::now() }),
    });
    let store = state.store.clone();
    let models_dir = s.models_dir(&state.data_dir);
    let job = async move {
        let fail = |e: hub::DownloadError| CommandError::Model { kind: e.kind().to_owned(), message: e.to_string() };
        let (path, repo) = match (&request.catalog_id, &request.repo, &request.file) {
            (Some(id), _, _) => {
                let entry = catalog::get(id).map_err(|e| CommandError::Invalid(e.to_string()))?;
                match hub::gguf_request(&entry, &base).await.map_err(fail)? {
                    Some(req) => (hub::download(&req, progress).await.map_err(fail)?.path, entry.repo),
                    None => {
                        let checkpoint = hub::fetch_checkpoint(&entry.repo, &base, progress).await.map_err(fail)?;
                        (quantize(checkpoint, models_dir, &entry.repo, target, on_event.clone()).await?, entry.repo)
                    }
                }
            }
            (None, Some(repo), Some(file)) => {
                let req = DownloadRequest { repo: repo.trim().to_owned(), file: file.trim().to_owned(), ..base };
                (hub::download(&req, progress).await.map_err(fail)?.path, req.repo)
            }
            _ => return Err(CommandError::Invalid("choose a catalog model, or give a repository and a file".into())),
        };
        let _ = on_event.send(JobEvent::Checking { path: path.display().to_string() });
        library::add(&store, &path, "download", Some(&repo)).await.map_err(|e| CommandError::Model { kind: e.kind().to_owned(), message: e.to_string() })
    };
    run_job(&state, job).await
}

/// Runs one job at a time; cancelling aborts (drops) it.
async fn run_job<F>(state: &AppState, job: F) -> CmdResult<LibraryModel>
where
    F: std::future::Future<Output = CmdResult<LibraryModel>> + Send + 'static,
{
    let handle = {
        let mut slot = state.job.lock().map_err(|_| CommandError::Invalid("the job slot is poisoned".into()))?;
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return Err(CommandError::Invalid("a download or quantization is already running".into()));
        }
        let handle = tokio::spawn(job);
        *slot = Some(handle.abort_handle());
        handle
    };
    let result = match handle.await {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => {
            Err(CommandError::Model { kind: "cancelled".into(), message: "stopped; what was fetched is kept and the next download resumes from it".into() })
        }
        Err(e) => Err(CommandError::Invalid(format!("the job failed: {e}"))),
    };
    if let Err(e) = &result {
        state.record_error(&e.to_string());
    }
    result
}

#[tauri::command]
pub fn cancel_model_job(state: State<'_, AppState>) -> bool {
    state.job.lock().ok().and_then(|j| j.as_ref().map(|h| h.abort())).is_some()
}

async fn quantize(checkpoint: PathBuf, models_dir: PathBuf, repo: &str, target: Target, events: Channel<JobEvent>) -> CmdResult<PathBuf> {
    std::fs::create_dir_all(&models_dir).map_err(|e| CommandError::Invalid(format!("creating {}: {e}", models_dir.display())))?;
    let out = hub::quantized_path(&models_dir, repo, target);
    let written = out.clone();
    tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        let mut on_tensor = |done: usize, total: usize, name: &str| {
            if last.elapsed().as_millis() >= 150 || done == total {
                last = Instant::now();
                let _ = events.send(JobEvent::Quantize { done, total, tensor: name.to_owned() });
            }
        };
        fin_r1_engine::quantize::quantize(&checkpoint, &written, target, &mut on_tensor)
    })
    .await
    .map_err(|e| CommandError::Invalid(format!("the quantizer stopped: {e}")))?
    .map_err(|e| CommandError::Model { kind: "quantize".into(), message: e.to_string() })?;
    Ok(out)
}

/// Turns a safetensors Qwen2 checkpoint folder into a GGUF in the models folder.
#[tauri::command]
pub async fn quantize_model(state: State<'_, AppState>, checkpoint: PathBuf, target: String, on_event: Channel<JobEvent>) -> CmdResult<LibraryModel> {
    let target: Target = target.parse().map_err(CommandError::Invalid)?;
    if !checkpoint.join("config.json").is_file() {
        return Err(CommandError::Invalid(format!("{} is not a checkpoint folder: it has no config.json", checkpoint.display())));
    }
    let models_dir = state.settings().await.models_dir(&state.data_dir);
    let store = state.store.clone();
    let name = checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let job = async move {
        let out = quantize(checkpoint, models_dir, &name, target, on_event.clone()).await?;
        let _ = on_event.send(JobEvent::Checking { path: out.display().to_string() });
        library::add(&store, &out, "quantize", None).await.map_err(|e| CommandError::Model { kind: e.kind().to_owned(), message: e.to_string() })
    };
    run_job(&state, job).await
}

/// Checks a GGUF and adds it to the library (the file picker and drag and drop land here).
#[tauri::command]
pub async fn import_model(state: State<'_, AppState>, path: PathBuf) -> CmdResult<LibraryModel> {
    library::add(&state.store, &path, "import", None).await.map_err(|e| {
        let e = CommandError::Model { kind: e.kind().to_owned(), message: e.to_string() };
        state.record_error(&e.to_string());
        e
    })
}

/// Takes a file out of the library; the file itself stays on disk.
#[tauri::command]
pub async fn remove_model(state: State<'_, AppState>, path: String) -> CmdResult<bool> {
    Ok(state.store.remove_model(&path).await?)
}

/// Saves the hub token (`""` clears it); never read back by the page.
#[tauri::command]
pub async fn set_hub_token(state: State<'_, AppState>, token: String) -> CmdResult<()> {
    Ok(settings::set_secret(&state.store, settings::HUB_TOKEN, Some(token.trim())).await?)
}

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
pub use fin_r1_core::model_jobs::JobEvent;
use fin_r1_core::model_jobs::{self, JobCancel, JobError, JobSink};
use fin_r1_core::settings;
use fin_r1_core::store::LibraryModel;
use fin_r1_engine::quantize::Target;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, RunningJob};

#[derive(Debug, Serialize, specta::Type)]
pub struct CatalogView {
    pub hardware: Hardware,
    pub models: Vec<Advice>,
    pub library: Vec<LibraryModel>,
    /// How each library file would run here, in the library's order.
    pub library_fit: Vec<catalog::FileFit>,
    /// Each library file's estimated decoding speed here (tokens a second), in the same order.
    pub library_speed: Vec<Option<f64>>,
    /// What the speeds are estimated from.
    pub speed: catalog::Speed,
    /// The hub downloads come from.
    pub endpoint: String,
    pub has_token: bool,
    pub models_dir: PathBuf,
    /// A download or quantization is running.
    pub busy: bool,
}

#[tauri::command]
#[specta::specta]
pub async fn model_catalog(state: State<'_, AppState>) -> CmdResult<CatalogView> {
    let hw = Hardware::detect_off_thread().await;
    let speed = catalog::Speed::for_machine(&hw, state.store.measured_decode().await?);
    let models = catalog::advise(catalog::load()?, &hw, speed);
    let s = state.settings().await;
    let library = state.store.models().await?;
    let library_fit: Vec<catalog::FileFit> = library.iter().map(|m| catalog::file_fit(u64::try_from(m.size).unwrap_or(0), &hw)).collect();
    Ok(CatalogView {
        library_speed: library.iter().zip(&library_fit).map(|(m, fit)| speed.decode_tok_s(u64::try_from(m.size).unwrap_or(0), *fit)).collect(),
        library_fit,
        speed,
        hardware: hw,
        models,
        library,
        endpoint: endpoint(&s),
        has_token: settings::secret(&state.store, settings::HUB_TOKEN).await?.is_some(),
        models_dir: s.models_dir(&state.data_dir),
        busy: state.job.lock().map(|j| j.as_ref().is_some_and(|j| !j.is_finished())).unwrap_or(false),
    })
}

fn endpoint(s: &settings::Settings) -> String {
    s.hub_endpoint
        .clone()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "https://huggingface.co".into())
}

/// A GGUF file found on the hub, against this machine.
#[derive(Debug, Serialize, specta::Type)]
pub struct HubFileAdvice {
    pub file: String,
    pub size: u64,
    /// The quantization its name says (Q4_K_M, Q8_0, …), if it says one.
    pub quantization: Option<String>,
    pub fit: catalog::FileFit,
    pub decode_tok_s: Option<f64>,
}

async fn hub_request(state: &AppState, repo: String) -> CmdResult<DownloadRequest> {
    let s = state.settings().await;
    Ok(DownloadRequest { endpoint: Some(endpoint(&s)), token: settings::secret(&state.store, settings::HUB_TOKEN).await?, ..DownloadRequest::new(repo, "") })
}

/// The hub's search for GGUF models (the catalog's entries are listed whatever it answers).
#[tauri::command]
#[specta::specta]
pub async fn search_hub(state: State<'_, AppState>, query: String) -> CmdResult<Vec<hub::HubRepo>> {
    if query.trim().is_empty() {
        return Err(CommandError::Invalid("type a model's name to search the hub for".into()));
    }
    let req = hub_request(&state, String::new()).await?;
    hub::search(&req, &query).await.map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })
}

/// A hub repository's GGUF files, each with how it would run here.
#[tauri::command]
#[specta::specta]
pub async fn hub_files(state: State<'_, AppState>, repo: String) -> CmdResult<Vec<HubFileAdvice>> {
    let repo = repo.trim().to_owned();
    if repo.split('/').count() != 2 || repo.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return Err(CommandError::Invalid(format!("{repo:?} is not a repository (owner/name)")));
    }
    let req = hub_request(&state, repo).await?;
    let files = hub::gguf_files(&req).await.map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })?;
    let hw = Hardware::detect_off_thread().await;
    let speed = catalog::Speed::for_machine(&hw, state.store.measured_decode().await?);
    Ok(files
        .into_iter()
        .map(|f| {
            let fit = catalog::file_fit(f.size, &hw);
            HubFileAdvice {
                quantization: catalog::quantization_in_name(&f.file),
                decode_tok_s: speed.decode_tok_s(f.size, fit),
                fit,
                size: f.size,
                file: f.file,
            }
        })
        .collect())
}

/// Download progress and job steps down a channel, a few times a second.
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

impl ChannelProgress {
    fn new(channel: Channel<JobEvent>) -> Arc<Self> {
        Arc::new(Self {
            channel,
            inner: Mutex::new(Counters { file: String::new(), total: 0, done: 0, resumed: 0, started: Instant::now(), last: Instant::now() }),
        })
    }
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

impl JobSink for ChannelProgress {
    fn event(&self, event: JobEvent) {
        let _ = self.channel.send(event);
    }
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
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

fn job_error(e: JobError) -> CommandError {
    CommandError::Model { kind: e.kind(), message: e.to_string() }
}

/// Downloads a model (a catalog entry, or a repository's file), checks it and adds it to the
/// library. Progress streams through `on_event`; `cancel_model_job` stops it.
#[tauri::command]
#[specta::specta]
pub async fn download_model(state: State<'_, AppState>, request: DownloadModel, on_event: Channel<JobEvent>) -> CmdResult<LibraryModel> {
    let s = state.settings().await;
    let base = DownloadRequest {
        endpoint: Some(endpoint(&s)),
        token: settings::secret(&state.store, settings::HUB_TOKEN).await?,
        revision: request.revision.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "main".into()),
        ..DownloadRequest::new("", "")
    };
    let target: Target = request.target.as_deref().unwrap_or("q4_k_m").parse().map_err(CommandError::Invalid)?;
    let sink = ChannelProgress::new(on_event);
    let store = state.store.clone();
    let models_dir = s.models_dir(&state.data_dir);
    let entry = match (&request.catalog_id, &request.repo, &request.file) {
        (Some(id), _, _) => Some(catalog::get(id)?),
        (None, Some(_), Some(_)) => None,
        _ => return Err(CommandError::Invalid("choose a catalog model, or give a repository and a file".into())),
    };
    run_job(&state, move |cancel| async move {
        let out = match entry {
            Some(entry) => model_jobs::fetch_catalog_model(&entry, &base, target, &models_dir, Some(&store), sink, &cancel).await,
            None => {
                let req = DownloadRequest {
                    repo: request.repo.unwrap_or_default().trim().to_owned(),
                    file: request.file.unwrap_or_default().trim().to_owned(),
                    ..base
                };
                model_jobs::fetch_file(&req, Some(&store), sink, &cancel).await
            }
        };
        let out = out.map_err(job_error)?;
        match (out.model, out.not_added) {
            (Some(m), _) => Ok(m),
            (None, Some(e)) => Err(CommandError::Model { kind: e.kind(), message: format!("downloaded, but not a model the engine can run: {e}") }),
            (None, None) => Err(CommandError::Invalid(format!("{} is not a GGUF model file", out.path.display()))),
        }
    })
    .await
}

/// Runs one job at a time. The slot holds the job's stop switch and reads busy until the job's
/// task has ended, which (see `model_jobs`) is after its work has stopped.
async fn run_job<F, Fut>(state: &AppState, job: F) -> CmdResult<LibraryModel>
where
    F: FnOnce(JobCancel) -> Fut,
    Fut: std::future::Future<Output = CmdResult<LibraryModel>> + Send + 'static,
{
    let handle = {
        let mut slot = state.job.lock().map_err(|_| CommandError::Task("the job slot is poisoned".into()))?;
        if slot.as_ref().is_some_and(|j| !j.is_finished()) {
            return Err(CommandError::Busy("a download or quantization is already running".into()));
        }
        let cancel = JobCancel::default();
        let handle = tokio::spawn(job(cancel.clone()));
        *slot = Some(RunningJob { cancel, abort: handle.abort_handle() });
        handle
    };
    let result = match handle.await {
        Ok(r) => r,
        Err(e) => Err(CommandError::Task(format!("the job failed: {e}"))),
    };
    if let Err(e) = &result {
        state.record_error(&e.to_string());
    }
    result
}

/// Asks the running job to stop; it ends (and the slot frees) once its work has stopped.
#[tauri::command]
#[specta::specta]
pub async fn cancel_model_job(state: State<'_, AppState>) -> CmdResult<bool> {
    Ok(state.job.lock().ok().and_then(|j| j.as_ref().map(|j| j.cancel.cancel())).is_some())
}

/// Turns a safetensors Qwen2 checkpoint folder into a GGUF in the models folder.
#[tauri::command]
#[specta::specta]
pub async fn quantize_model(state: State<'_, AppState>, checkpoint: PathBuf, target: String, on_event: Channel<JobEvent>) -> CmdResult<LibraryModel> {
    let target: Target = target.parse().map_err(CommandError::Invalid)?;
    if !checkpoint.join("config.json").is_file() {
        return Err(CommandError::Invalid(format!("{} is not a checkpoint folder: it has no config.json", checkpoint.display())));
    }
    let models_dir = state.settings().await.models_dir(&state.data_dir);
    let store = state.store.clone();
    let name = checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let sink = ChannelProgress::new(on_event);
    run_job(&state, move |cancel| async move {
        let out = hub::quantized_path(&models_dir, &name, target);
        let out = model_jobs::quantize_checkpoint(&checkpoint, &out, target, Some(&store), None, sink, &cancel).await.map_err(job_error)?;
        out.model.ok_or_else(|| CommandError::Invalid("the model was not added to the library".into()))
    })
    .await
}

/// Checks a GGUF and adds it to the library (the file picker and drag and drop land here).
#[tauri::command]
#[specta::specta]
pub async fn import_model(state: State<'_, AppState>, path: PathBuf) -> CmdResult<LibraryModel> {
    library::add(&state.store, &path, "import", None).await.map_err(|e| {
        let e = CommandError::Model { kind: e.kind(), message: e.to_string() };
        state.record_error(&e.to_string());
        e
    })
}

/// Takes a file out of the library; the file itself stays on disk.
#[tauri::command]
#[specta::specta]
pub async fn remove_model(state: State<'_, AppState>, path: String) -> CmdResult<bool> {
    Ok(state.store.remove_model(&path).await?)
}

/// Saves the hub token (`""` clears it); never read back by the page.
#[tauri::command]
#[specta::specta]
pub async fn set_hub_token(state: State<'_, AppState>, token: String) -> CmdResult<()> {
    Ok(settings::set_secret(&state.store, settings::HUB_TOKEN, Some(token.trim())).await?)
}

//! What the shell holds between commands: the store, the settings, the model (local or remote)
//! and its runner, the API server when it is on, and the work in progress (answers streaming,
//! downloads) so it can be stopped.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fin_r1_core::backend::{Backend, EngineKind};
use fin_r1_core::remote::RemoteConfig;
use fin_r1_core::runner::Runner;
use fin_r1_core::server::{self, ServerConfig};
use fin_r1_core::settings::{self, Settings};
use fin_r1_core::store::Store;
use fin_r1_engine::{CancelToken, DeviceChoice, Engine, LoadOptions};
use serde::Serialize;

use crate::error::{CmdResult, CommandError};

/// Tool calls waiting for the analyst's answer, by request id (`ApprovalRequest::id`).
#[derive(Clone, Default)]
pub struct Approvals(Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<fin_r1_core::tools::Approval>>>>);

impl Approvals {
    pub fn insert(&self, id: String, answer: tokio::sync::oneshot::Sender<fin_r1_core::tools::Approval>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, answer);
        }
    }
    /// Passes the analyst's answer on; `false` when the request is gone (timed out, stopped).
    pub fn answer(&self, id: &str, approval: fin_r1_core::tools::Approval) -> bool {
        let sender = self.0.lock().ok().and_then(|mut m| m.remove(id));
        sender.is_some_and(|s| s.send(approval).is_ok())
    }
    /// Requests of an answer that ended (their receivers are gone with the turn).
    pub fn forget_answer(&self, answer_id: i64) {
        let prefix = format!("{answer_id}:");
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| !k.starts_with(&prefix));
        }
    }
}

/// Stop handles of the answers streaming now, by answer id.
#[derive(Clone, Default)]
pub struct Running(Arc<Mutex<HashMap<i64, CancelToken>>>);

impl Running {
    pub fn insert(&self, answer_id: i64, token: CancelToken) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(answer_id, token);
        }
    }
    pub fn remove(&self, answer_id: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&answer_id);
        }
    }
    /// Stops one answer; `false` if it was not running.
    pub fn cancel(&self, answer_id: i64) -> bool {
        self.0.lock().ok().and_then(|m| m.get(&answer_id).cloned()).map(|t| t.cancel()).is_some()
    }
    /// The answers this process is writing.
    pub fn ids(&self) -> Vec<i64> {
        self.0.lock().map(|m| m.keys().copied().collect()).unwrap_or_default()
    }
    pub fn is_busy(&self) -> bool {
        self.0.lock().map(|m| !m.is_empty()).unwrap_or(false)
    }
    pub fn cancel_all(&self) {
        if let Ok(m) = self.0.lock() {
            m.values().for_each(CancelToken::cancel);
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, specta::Type)]
pub struct ModelSummary {
    /// The file, or the remote server's base URL.
    pub path: PathBuf,
    pub file_name: String,
    pub file_size: u64,
    pub name: Option<String>,
    /// The file's weight type; a remote server's is not known.
    pub quantization: Option<String>,
    pub context: usize,
    pub n_params: u64,
    pub engine: EngineKind,
    /// The model's own sampling defaults (its family's for a remote server): what an empty
    /// field of the sampling panel falls back to under the user's and a preset's.
    pub sampling: fin_r1_engine::SamplingParams,
}

pub struct Loaded {
    pub runner: Runner,
    pub summary: ModelSummary,
}

/// The API server as the settings page shows it.
#[derive(Debug, Clone, Serialize, Default, specta::Type)]
pub struct ServerStatus {
    pub running: bool,
    /// e.g. `http://127.0.0.1:8000/v1`.
    pub address: Option<String>,
    pub requires_key: bool,
    /// Why it is not running though it was turned on.
    pub error: Option<String>,
    pub received: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub failed: u64,
}

/// A model job in the job slot: its stop switch, and its task (busy until that has ended).
pub struct RunningJob {
    pub cancel: fin_r1_core::model_jobs::JobCancel,
    pub abort: tokio::task::AbortHandle,
}

impl RunningJob {
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }
}

pub struct AppState {
    pub store: Store,
    pub data_dir: PathBuf,
    pub running: Running,
    /// MCP tool calls waiting for the analyst.
    pub approvals: Approvals,
    /// The MCP servers of the data folder (`mcp.json`), connected on first use.
    pub mcp: Arc<fin_r1_core::mcp::McpHub>,
    model: tokio::sync::RwLock<Option<Arc<Loaded>>>,
    /// The local engine, kept while a remote server answers (the API server serves it).
    local: tokio::sync::RwLock<Option<(Arc<Engine>, ModelSummary)>>,
    settings: tokio::sync::RwLock<Settings>,
    /// Told to the user once: settings that could not be read, a crash report from last time.
    pub notices: Mutex<Vec<String>>,
    server: tokio::sync::Mutex<Option<server::Running>>,
    server_error: Mutex<Option<String>>,
    /// The latest errors the user met, for "Copy diagnostics".
    errors: Mutex<VecDeque<String>>,
    /// The download or quantization in progress, stopped by dropping (aborting) its task.
    /// The model job (download or quantization) in the slot, if one ran.
    pub job: Mutex<Option<RunningJob>>,
    /// The evaluation run in progress: its stop switch.
    pub eval: Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>,
    /// The library folder being read: its stop switch.
    pub library_scan: Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>,
    /// Told when a folder is added or removed: the watch takes the new list.
    pub library_rewatch: tokio::sync::Notify,
    /// Counts the library's Stops: a scan waiting for the slot when one comes stops too.
    pub library_stops: std::sync::atomic::AtomicU64,
    /// Documents read for the window's next question.
    pub reading: crate::reading::Reading,
    /// False until the model of the last session has been loaded again (or found gone).
    started: tokio::sync::watch::Sender<bool>,
}

/// Settings keys the shell reads.
pub const MODEL_PATH: &str = "model.path";
pub const RECENT_MODELS: &str = "model.recent";

impl AppState {
    pub fn new(store: Store, data_dir: PathBuf, settings: Settings) -> Self {
        let mcp = Arc::new(fin_r1_core::mcp::McpHub::new(&data_dir));
        Self {
            store,
            data_dir,
            running: Running::default(),
            approvals: Approvals::default(),
            mcp,
            model: tokio::sync::RwLock::new(None),
            local: tokio::sync::RwLock::new(None),
            settings: tokio::sync::RwLock::new(settings),
            notices: Mutex::new(Vec::new()),
            server: tokio::sync::Mutex::new(None),
            server_error: Mutex::new(None),
            errors: Mutex::new(VecDeque::new()),
            job: Mutex::new(None),
            eval: Mutex::new(None),
            library_scan: Mutex::new(None),
            library_rewatch: tokio::sync::Notify::new(),
            library_stops: Default::default(),
            reading: Default::default(),
            started: tokio::sync::watch::Sender::new(false),
        }
    }

    pub fn startup_done(&self) {
        self.started.send_replace(true);
    }

    /// Waits for the startup reload of the last model, so the UI is never told "no model"
    /// while one is on its way.
    pub async fn wait_startup(&self) {
        let mut rx = self.started.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    pub fn scenario_dir(&self) -> PathBuf {
        fin_r1_core::paths::scenario_dir(&self.data_dir)
    }

    pub fn notice(&self, text: String) {
        if let Ok(mut n) = self.notices.lock() {
            n.push(text);
        }
    }

    /// Remembers an error shown to the user (the text only: never a prompt or an answer).
    pub fn record_error(&self, text: &str) {
        tracing::warn!(error = text, "shown to the user");
        if let Ok(mut e) = self.errors.lock() {
            e.push_back(format!("{} {text}", fin_r1_report::local_time(now_ms())));
            while e.len() > 20 {
                e.pop_front();
            }
        }
    }

    pub fn recent_errors(&self) -> Vec<String> {
        self.errors.lock().map(|e| e.iter().cloned().collect()).unwrap_or_default()
    }

    pub async fn settings(&self) -> Settings {
        self.settings.read().await.clone()
    }

    pub async fn set_settings(&self, s: Settings) {
        *self.settings.write().await = s;
    }

    pub async fn loaded(&self) -> Option<Arc<Loaded>> {
        self.model.read().await.clone()
    }

    pub async fn local_summary(&self) -> Option<ModelSummary> {
        self.local.read().await.as_ref().map(|(_, s)| s.clone())
    }

    pub async fn runner(&self) -> CmdResult<Runner> {
        self.loaded().await.map(|l| l.runner.clone()).ok_or(CommandError::NoModel)
    }

    /// The user chose a local model (the picker, the library, a file handed over by the file
    /// manager): refused while an answer streams; loaded; and, since choosing a local file means
    /// "answer with this", a remote server in use steps aside. Every such path comes here.
    pub async fn choose_model(&self, path: &Path) -> CmdResult<ModelSummary> {
        if self.running.is_busy() {
            return Err(CommandError::Busy("an answer is streaming: stop it before changing the model".into()));
        }
        let summary = self.load_model(path).await?;
        let mut s = self.settings().await;
        if s.remote.enabled {
            s.remote.enabled = false;
            fin_r1_core::settings::save(&self.store, &s).await?;
            self.set_settings(s).await;
            self.apply_engine_choice().await?;
        }
        Ok(summary)
    }

    /// Loads a GGUF (on a blocking thread: a 4.7 GB map and checks take a moment) and makes it
    /// the model every new turn uses (unless a remote server is chosen); remembered for the
    /// next start.
    pub async fn load_model(&self, path: &Path) -> CmdResult<ModelSummary> {
        let owned = path.to_owned();
        // Typed: a stored device this build does not know was reported when settings were read.
        let settings = self.settings().await;
        let (device, context): (DeviceChoice, Option<usize>) = (settings.device, settings.context);
        tracing::info!(path = %path.display(), ?device, "loading a model");
        // Keyed by the file's hash: the store's record spares hashing it again.
        let sha256 = self.store.known_model_sha256(path).await.ok().flatten();
        let prefix_cache = Some(fin_r1_core::paths::prefix_cache(sha256));
        let engine = tokio::task::spawn_blocking(move || Engine::load(&owned, LoadOptions { device, context, prefix_cache, ..Default::default() }))
            .await
            .map_err(|e| CommandError::Model { kind: fin_r1_engine::ErrorKind::EngineStopped, message: e.to_string() })?
            .map_err(|e| CommandError::Model { kind: e.kind(), message: format!("{}: {e}", path.display()) })?;
        let info = engine.info();
        let summary = ModelSummary {
            path: info.path.clone(),
            file_name: info.file_name.clone(),
            file_size: info.file_size,
            name: info.name.clone(),
            quantization: Some(info.quantization.clone()),
            context: info.context,
            n_params: info.n_params,
            engine: EngineKind::Local,
            sampling: info.default_sampling(),
        };
        let engine = Arc::new(engine);
        *self.local.write().await = Some((engine.clone(), summary.clone()));
        if !self.settings().await.remote.enabled {
            self.use_backend(Backend::Local(engine), summary.clone()).await;
        }
        let path_json = serde_json::json!(summary.path);
        self.store.set_setting(MODEL_PATH, &path_json).await?;
        let mut recent: Vec<PathBuf> = self.store.setting(RECENT_MODELS).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        recent.retain(|p| p != &summary.path);
        recent.insert(0, summary.path.clone());
        recent.truncate(10);
        self.store.set_setting(RECENT_MODELS, &serde_json::json!(recent)).await?;
        // A file chosen in the picker joins the library (checked and hashed in the background;
        // a file already there is refreshed).
        let store = self.store.clone();
        let path = summary.path.clone();
        tokio::spawn(async move {
            let known = store.models().await.map(|m| m.iter().any(|x| std::path::Path::new(&x.path) == path)).unwrap_or(false);
            if !known {
                let _ = fin_r1_core::library::add(&store, &path, "import", None).await;
            }
        });
        // The API server serves the model in use.
        self.restart_server_if_running().await;
        Ok(summary)
    }

    async fn use_backend(&self, backend: Backend, summary: ModelSummary) {
        let runner = Runner::new(self.store.clone(), Arc::new(backend), Some(self.scenario_dir())).with_mcp(self.mcp.clone());
        *self.model.write().await = Some(Arc::new(Loaded { runner, summary }));
    }

    /// Answers from the remote server the settings name, or from the local model again.
    pub async fn apply_engine_choice(&self) -> CmdResult<()> {
        let s = self.settings().await;
        if s.remote.enabled {
            let mut config = RemoteConfig::new(s.remote.base_url.trim(), s.remote.model.trim());
            config.api_key = settings::secret(&self.store, settings::REMOTE_KEY).await?;
            let backend = Backend::remote(config, tokio::runtime::Handle::current())?;
            let summary = ModelSummary {
                sampling: backend.default_sampling(),
                path: PathBuf::from(s.remote.base_url.trim()),
                file_name: s.remote.model.trim().to_owned(),
                file_size: 0,
                name: Some(s.remote.model.trim().to_owned()),
                quantization: None,
                context: 0,
                n_params: 0,
                engine: EngineKind::Remote,
            };
            tracing::info!(url = s.remote.base_url.trim(), "answers come from a remote server");
            self.use_backend(backend, summary).await;
        } else {
            let local = self.local.read().await.clone();
            match local {
                Some((engine, summary)) => self.use_backend(Backend::Local(engine), summary).await,
                None => *self.model.write().await = None,
            }
        }
        Ok(())
    }

    pub async fn server_status(&self) -> ServerStatus {
        let guard = self.server.lock().await;
        let error = self.server_error.lock().ok().and_then(|e| e.clone());
        match guard.as_ref() {
            Some(r) if r.is_alive() => {
                let st = r.stats.get();
                ServerStatus {
                    running: true,
                    address: Some(format!("http://{}/v1", r.addr)),
                    requires_key: self.settings().await.server.require_key,
                    error,
                    received: st.received,
                    completed: st.completed,
                    cancelled: st.cancelled,
                    failed: st.failed,
                }
            }
            Some(_) => ServerStatus { error: error.or(Some("the server stopped".into())), ..Default::default() },
            None => ServerStatus { error, ..Default::default() },
        }
    }

    /// Starts or stops the API server to match the settings; a server already running is
    /// restarted so a new address, key or model takes effect.
    pub async fn apply_server_settings(&self) {
        let s = self.settings().await.server;
        let mut guard = self.server.lock().await;
        if let Some(old) = guard.take() {
            old.stop().await;
            tracing::info!("API server stopped");
        }
        self.set_server_error(None);
        if !s.enabled {
            return;
        }
        let Some((engine, _)) = self.local.read().await.clone() else {
            self.set_server_error(Some("no local model is loaded: load one and the server starts".into()));
            return;
        };
        let mut config = ServerConfig::new(s.served_model_name.clone());
        if s.require_key {
            match settings::secret(&self.store, settings::SERVER_KEY).await {
                Ok(Some(k)) => config.api_key = Some(k),
                _ => {
                    self.set_server_error(Some("an API key is required but none is set".into()));
                    return;
                }
            }
        }
        match server::start(engine, config, &s.host, s.port).await {
            Ok(r) => {
                tracing::info!(addr = %r.addr, "API server listening");
                *guard = Some(r);
            }
            Err(e) => {
                let text = format!("cannot listen on {}:{}: {e}", s.host, s.port);
                self.record_error(&text);
                self.set_server_error(Some(text));
            }
        }
    }

    /// After a model change: a running server moves to the new model, and one left waiting
    /// for a model starts. (At startup neither holds yet: the server starts once, after.)
    async fn restart_server_if_running(&self) {
        let waiting = self.server_error.lock().map(|e| e.is_some()).unwrap_or(false);
        let running = self.server.lock().await.is_some();
        if self.settings().await.server.enabled && (running || waiting) {
            self.apply_server_settings().await;
        }
    }

    fn set_server_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.server_error.lock() {
            *g = e;
        }
    }
}

pub use fin_r1_engine::digest::now_ms;

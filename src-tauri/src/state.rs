//! What the shell holds between commands: the store, the loaded model and its runner, and the
//! answers streaming now (to stop them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fin_r1_core::backend::Backend;
use fin_r1_core::runner::Runner;
use fin_r1_core::store::Store;
use fin_r1_engine::{CancelToken, Engine, LoadOptions};
use serde::Serialize;

use crate::error::{CmdResult, CommandError};

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
    pub fn is_busy(&self) -> bool {
        self.0.lock().map(|m| !m.is_empty()).unwrap_or(false)
    }
    pub fn cancel_all(&self) {
        if let Ok(m) = self.0.lock() {
            m.values().for_each(CancelToken::cancel);
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelSummary {
    pub path: PathBuf,
    pub file_name: String,
    pub file_size: u64,
    pub name: Option<String>,
    pub quantization: String,
    pub context: usize,
    pub n_params: u64,
}

pub struct Loaded {
    pub runner: Runner,
    pub summary: ModelSummary,
}

pub struct AppState {
    pub store: Store,
    pub data_dir: PathBuf,
    pub running: Running,
    model: tokio::sync::RwLock<Option<Arc<Loaded>>>,
    /// False until the model of the last session has been loaded again (or found gone).
    started: tokio::sync::watch::Sender<bool>,
}

/// Settings keys the shell reads.
pub const MODEL_PATH: &str = "model.path";
pub const RECENT_MODELS: &str = "model.recent";

impl AppState {
    pub fn new(store: Store, data_dir: PathBuf) -> Self {
        Self { store, data_dir, running: Running::default(), model: tokio::sync::RwLock::new(None), started: tokio::sync::watch::Sender::new(false) }
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

    pub async fn loaded(&self) -> Option<Arc<Loaded>> {
        self.model.read().await.clone()
    }

    pub async fn runner(&self) -> CmdResult<Runner> {
        self.loaded().await.map(|l| l.runner.clone()).ok_or(CommandError::NoModel)
    }

    /// Loads a GGUF (on a blocking thread: a 4.7 GB map and checks take a moment) and makes it
    /// the model every new turn uses; remembered for the next start.
    pub async fn load_model(&self, path: &Path) -> CmdResult<ModelSummary> {
        let owned = path.to_owned();
        let engine = tokio::task::spawn_blocking(move || Engine::load(&owned, LoadOptions::default()))
            .await
            .map_err(|e| CommandError::Model { kind: "engine".into(), message: e.to_string() })?
            .map_err(|e| CommandError::Model { kind: e.kind().to_owned(), message: format!("{}: {e}", path.display()) })?;
        let info = engine.info();
        let summary = ModelSummary {
            path: info.path.clone(),
            file_name: info.file_name.clone(),
            file_size: info.file_size,
            name: info.name.clone(),
            quantization: info.quantization.clone(),
            context: info.context,
            n_params: info.n_params,
        };
        let backend = Arc::new(Backend::Local(Arc::new(engine)));
        let runner = Runner::new(self.store.clone(), backend, Some(self.scenario_dir()));
        *self.model.write().await = Some(Arc::new(Loaded { runner, summary: summary.clone() }));
        let path_json = serde_json::json!(summary.path);
        self.store.set_setting(MODEL_PATH, &path_json).await?;
        let mut recent: Vec<PathBuf> = self
            .store
            .setting(RECENT_MODELS)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
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
        Ok(summary)
    }
}

//! The Evaluate page: benchmark runs of the model in use (or of another OpenAI-compatible
//! server) into the data folder's `eval-runs`, their progress on a channel, and the runs read
//! back and exported. The harness itself is `fin_r1_eval`, shared with `fin-r1 eval`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fin_r1_core::backend::Backend;
use fin_r1_core::remote::RemoteConfig;
use fin_r1_engine::{SamplingOverrides, FIN_R1_SYSTEM_PROMPT};
use fin_r1_eval::judge::JudgeMode;
use fin_r1_eval::run::{self, Judge, Progress, RunOptions};
use fin_r1_eval::runs::{self, Imported, RunDetail, RunSummary};
use fin_r1_eval::score::Rules;
use fin_r1_eval::JudgeConfig;
use fin_r1_eval::{plan, Bench};
use fin_r1_report::{self as report, Format};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::{now_ms, AppState};

/// An OpenAI-compatible server: the one evaluated, or the judge.
#[derive(Clone, Deserialize, specta::Type)]
pub struct EvalServer {
    /// Up to and including `/v1`.
    pub url: String,
    pub model: String,
    /// Its API key, typed into a password field: `None` uses the one kept for this role (see
    /// `eval_keys`), a key is kept (the OS keychain, as Settings keeps its keys) and used, `""`
    /// forgets it. Never sent back to the page, never in a run's files.
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for EvalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalServer").field("url", &self.url).field("model", &self.model).field("api_key", &self.api_key.as_ref().map(|_| "…")).finish()
    }
}

/// Where the keys of the evaluated server and the judge are kept (write-only, as Settings' are).
const REMOTE_KEY: &str = "secret.eval.remote.api_key";
const JUDGE_KEY: &str = "secret.eval.judge.api_key";

/// Whether a key is kept for the evaluated server and for the judge (never the keys).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct EvalKeys {
    pub remote: bool,
    pub judge: bool,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct EvalRequest {
    pub bench: Bench,
    /// The benchmark file (a folder of CSV files for Fin-Eva and FinEval).
    pub data: PathBuf,
    /// At most this many items per category.
    pub limit: usize,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// `None`: greedy (0), as the paper's scores were made.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Another server to evaluate; `None`: the model in use.
    #[serde(default)]
    pub remote: Option<EvalServer>,
    pub judge: JudgeMode,
    #[serde(default)]
    pub judge_server: Option<EvalServer>,
    #[serde(default)]
    pub strict: bool,
    /// Go on with this stopped run (its id) in its own folder; its config must match.
    #[serde(default)]
    pub resume: Option<String>,
}

/// What a run tells the page as it goes.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvalEvent {
    Started { run: RunSummary },
    Progress { progress: Progress },
}

fn runs_dir(state: &AppState) -> PathBuf {
    fin_r1_core::paths::eval_runs_dir(&state.data_dir)
}

/// A run's folder from its id: one of the runs folder's own folders, whatever its name.
fn run_dir(state: &AppState, id: &str) -> CmdResult<PathBuf> {
    Ok(runs::find(&runs_dir(state), id)?)
}

/// A server's origin (scheme, host and port): what a kept key belongs to.
fn origin(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
}

/// The key to send: the one typed (kept from now on, with the server it was typed for; `""`
/// forgets the kept one), else the kept one — only to the server it was typed for: a key kept
/// for one server is never sent to another the analyst names later.
async fn api_key(state: &AppState, name: &str, url: &str, typed: Option<&str>) -> CmdResult<Option<String>> {
    let kept_for = format!("{name}.origin");
    match typed.map(str::trim) {
        Some(k) => {
            fin_r1_core::settings::set_secret(&state.store, name, Some(k)).await?;
            state.store.set_setting(&kept_for, &serde_json::json!(origin(url))).await?;
            Ok(Some(k.to_owned()).filter(|k| !k.is_empty()))
        }
        None => {
            let Some(key) = fin_r1_core::settings::secret(&state.store, name).await? else { return Ok(None) };
            match state.store.setting(&kept_for).await?.and_then(|v| v.as_str().map(str::to_owned)) {
                Some(o) if o == origin(url) => Ok(Some(key)),
                Some(_) => Ok(None),
                // Kept by an earlier build, which did not note the server: it belongs to the
                // first server it is used with from now on.
                None => {
                    state.store.set_setting(&kept_for, &serde_json::json!(origin(url))).await?;
                    Ok(Some(key))
                }
            }
        }
    }
}

fn server(s: &EvalServer, what: &str, api_key: Option<String>) -> CmdResult<RemoteConfig> {
    let url = s.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CommandError::Invalid(format!("the {what}'s address must start with http:// or https:// (up to /v1)")));
    }
    if s.model.trim().is_empty() {
        return Err(CommandError::Invalid(format!("give the {what}'s model name (as the server serves it)")));
    }
    let mut config = RemoteConfig::new(url.trim_end_matches('/').to_owned(), s.model.trim().to_owned());
    config.api_key = api_key;
    Ok(config)
}

/// Clears the run slot when the run ends, however it ends.
struct SlotGuard<'a>(&'a AppState);
impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.eval.lock() {
            *s = None;
        }
    }
}

/// Starts a run and streams its progress; returns the run once it is scored (or stopped).
#[tauri::command]
#[specta::specta]
pub async fn eval_start(state: State<'_, AppState>, request: EvalRequest, on_event: Channel<EvalEvent>) -> CmdResult<RunSummary> {
    if request.limit == 0 {
        return Err(CommandError::Invalid("the limit must be at least 1 item per category".into()));
    }
    if request.data.as_os_str().is_empty() {
        return Err(CommandError::Invalid("choose a benchmark file".into()));
    }
    if !request.data.exists() {
        return Err(CommandError::Invalid(format!("{} does not exist", request.data.display())));
    }
    let runtime = tokio::runtime::Handle::current();
    let backend: Arc<Backend> = match &request.remote {
        Some(s) => {
            let key = api_key(&state, REMOTE_KEY, &s.url, s.api_key.as_deref()).await?;
            Arc::new(Backend::remote(server(s, "server", key)?, runtime.clone())?)
        }
        None => state.runner().await?.backend().clone(),
    };
    let judge_backend = match (&request.judge_server, request.judge) {
        (_, JudgeMode::Rule) => None,
        (None, _) => return Err(CommandError::Invalid("an LLM judge needs a server: give its address and model".into())),
        (Some(s), _) => {
            let key = api_key(&state, JUDGE_KEY, &s.url, s.api_key.as_deref()).await?;
            Some((Backend::remote(server(s, "judge", key)?, runtime.clone())?, s.clone()))
        }
    };
    let model_sha256 = match backend.model_path() {
        Some(p) => state.store.model_sha256(&p).await.ok(),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut slot = state.eval.lock().map_err(|_| CommandError::Task("the evaluation slot is poisoned".into()))?;
        if slot.is_some() {
            return Err(CommandError::Busy("an evaluation is already running: stop it first".into()));
        }
        *slot = Some(stop.clone());
    }
    let _guard = SlotGuard(&state);
    let out = match &request.resume {
        Some(id) => run_dir(&state, id)?,
        None => runs::new_dir(&runs_dir(&state), request.bench.name()),
    };
    let resume = request.resume.is_some();
    let result = tauri::async_runtime::spawn_blocking(move || -> CmdResult<RunSummary> {
        let seed = request.seed.unwrap_or(42);
        let items = plan::chosen(request.bench, &request.data, request.limit, seed)?;
        let asked = SamplingOverrides { temperature: request.temperature, max_tokens: request.max_tokens.filter(|m| *m > 0), ..SamplingOverrides::default() };
        let sampling = plan::sampling(backend.default_sampling(), None, seed, &asked)?;
        let config = plan::config(
            &backend,
            plan::Plan {
                bench: request.bench,
                data: request.data.clone(),
                limit: request.limit,
                seed,
                sampling,
                system_prompt: Some(FIN_R1_SYSTEM_PROMPT.to_owned()),
                scenario: None,
                strict: request.strict,
                judge: judge_backend.as_ref().map(|(_, s)| JudgeConfig { mode: request.judge, url: s.url.trim().to_owned(), model: s.model.trim().to_owned() }),
                model_sha256,
            },
            &items,
        )?;
        let options =
            RunOptions { out: out.clone(), resume, concurrency: 4, timeout: Duration::from_secs(900), retries: 2, rules: Rules { strict: request.strict } };
        let judge = judge_backend.as_ref().map(|(b, _)| Judge { backend: b, mode: request.judge, max_tokens: 1024, timeout: Duration::from_secs(900) });
        let mut announced = false;
        let outcome = run::run(&backend, &items, &config, &options, judge.as_ref(), &stop, |p| {
            if !announced {
                // config.json is written before the first progress: the run is in the list now.
                if let Ok(d) = runs::detail(&out) {
                    let _ = on_event.send(EvalEvent::Started { run: d.summary });
                }
                announced = true;
            }
            let _ = on_event.send(EvalEvent::Progress { progress: p.clone() });
        });
        outcome?;
        Ok(runs::detail(&out).map(|d| d.summary)?)
    })
    .await
    .map_err(|e| CommandError::Task(format!("the evaluation stopped: {e}")))?;
    if let Err(e) = &result {
        state.record_error(&e.to_string());
    }
    result
}

/// Stops the running evaluation after the item in flight; what is finished is kept and scored.
#[tauri::command]
#[specta::specta]
pub async fn eval_stop(state: State<'_, AppState>) -> CmdResult<bool> {
    Ok(state.eval.lock().ok().and_then(|s| s.as_ref().map(|stop| stop.store(true, Ordering::Relaxed))).is_some())
}

/// The runs in the data folder, newest first.
#[tauri::command]
#[specta::specta]
pub async fn eval_runs(state: State<'_, AppState>) -> CmdResult<Vec<RunSummary>> {
    let root = runs_dir(&state);
    super::off_thread(move || Ok(runs::list(&root))).await
}

/// Whether a key is kept for the evaluated server and for the judge (the page shows "kept").
#[tauri::command]
#[specta::specta]
pub async fn eval_keys(state: State<'_, AppState>) -> CmdResult<EvalKeys> {
    Ok(EvalKeys {
        remote: fin_r1_core::settings::secret(&state.store, REMOTE_KEY).await?.is_some(),
        judge: fin_r1_core::settings::secret(&state.store, JUDGE_KEY).await?.is_some(),
    })
}

/// Adds a run folder made elsewhere (`fin-r1 eval run --out DIR`) to the list (a copy of its own
/// files: links are left out and named).
#[tauri::command]
#[specta::specta]
pub async fn eval_add(state: State<'_, AppState>, path: PathBuf) -> CmdResult<Imported> {
    if !path.join("config.json").is_file() {
        return Err(CommandError::Invalid(format!("{} is not an evaluation run: it has no config.json", path.display())));
    }
    let root = runs_dir(&state);
    let result = super::off_thread(move || runs::import(&path, &root).map_err(CommandError::from)).await;
    if let Err(e) = &result {
        state.record_error(&e.to_string());
    }
    result
}

/// One run: its scores, provenance and every item's review.
#[tauri::command]
#[specta::specta]
pub async fn eval_run(state: State<'_, AppState>, id: String) -> CmdResult<RunDetail> {
    let dir = run_dir(&state, &id)?;
    super::off_thread(move || runs::detail(&dir).map_err(CommandError::from)).await
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct EvalExport {
    pub id: String,
    pub format: Format,
    /// The file to write (from the save dialog).
    pub path: PathBuf,
}

/// Writes a run's report (Markdown, HTML, PDF or Word) with its provenance; returns the path written.
#[tauri::command]
#[specta::specta]
pub async fn eval_export(state: State<'_, AppState>, request: EvalExport) -> CmdResult<PathBuf> {
    let dir = run_dir(&state, &request.id)?;
    if request.format == Format::Json {
        return Err(CommandError::Invalid("a run exports as Markdown, HTML, PDF or Word (its folder holds the JSON)".into()));
    }
    let path = super::export::report_path(&request.path, request.format)?;
    let written = path.clone();
    let result = super::off_thread(move || {
        let d = runs::detail(&dir)?;
        let md = runs::document(&d, env!("CARGO_PKG_VERSION"), &report::local_time(now_ms()));
        let title = format!("Evaluation: {} on {}", d.config.model, d.config.bench);
        let bytes = match request.format {
            Format::Html => report::markdown_page(&title, &md).into_bytes(),
            Format::Pdf => report::markdown_pdf(&title, &md)?,
            Format::Docx => report::markdown_docx(&title, &report::local_time(now_ms()), &md).map_err(report::ExportError::from)?,
            _ => md.into_bytes(),
        };
        Ok(report::write_atomic(&path, &bytes)?)
    })
    .await;
    if let Err(e) = &result {
        state.record_error(&e.to_string());
    }
    result.map(|()| written)
}

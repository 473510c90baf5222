//! The commands the UI invokes: thin adapters over the core. Those that touch the disk or the
//! model are `async`, so the GTK thread never waits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fin_r1_core::runner::{SamplingOverrides, TurnKind, TurnRequest};
use fin_r1_core::scenario::{Lang, Library, Scenario};
use fin_r1_core::store::{Conversation, ConversationSummary, Message, SearchHit};
use fin_r1_core::tools::Approval;
use fin_r1_engine::ContextPolicy;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, ModelSummary, RECENT_MODELS};
use crate::stream::{ChannelSink, StreamMessage};

#[derive(Debug, Serialize, specta::Type)]
pub struct AppInfo {
    pub version: &'static str,
    pub data_dir: PathBuf,
    /// Where reports are offered to be saved first.
    pub documents_dir: Option<PathBuf>,
    pub model: Option<ModelSummary>,
    /// The local model, also when a remote server answers.
    pub local_model: Option<ModelSummary>,
    pub recent_models: Vec<PathBuf>,
    pub settings: fin_r1_core::settings::Settings,
    /// Things to tell the user once (settings reset, a crash report from last time).
    pub notices: Vec<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    state.wait_startup().await;
    let recent_models = state.store.setting(RECENT_MODELS).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: state.data_dir.clone(),
        documents_dir: dirs::document_dir().or_else(dirs::home_dir),
        model: state.loaded().await.map(|l| l.summary.clone()),
        local_model: state.local_summary().await,
        recent_models,
        settings: state.settings().await,
        notices: state.notices.lock().map(|mut n| std::mem::take(&mut *n)).unwrap_or_default(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn load_model(state: State<'_, AppState>, path: PathBuf) -> CmdResult<ModelSummary> {
    state.choose_model(&path).await.inspect_err(|e| state.record_error(&e.to_string()))
}

/// The model library, newest first: what the picker offers.
#[tauri::command]
#[specta::specta]
pub async fn list_models(state: State<'_, AppState>) -> CmdResult<Vec<fin_r1_core::store::LibraryModel>> {
    Ok(state.store.models().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_conversations(state: State<'_, AppState>) -> CmdResult<Vec<ConversationSummary>> {
    Ok(state.store.list_conversations(500).await?)
}

/// A conversation with every message of every branch; `active_path` is the branch on show.
#[derive(Debug, Serialize, Deserialize, specta::Type)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
    pub active_path: Vec<i64>,
    /// The tools the answers called, in order, with what each gave.
    pub tool_calls: Vec<fin_r1_core::store::StoredToolCall>,
    /// The library's parts the answers were given, numbered as each cites them.
    pub sources: Vec<fin_r1_core::store::AnswerSource>,
}

#[tauri::command]
#[specta::specta]
pub async fn open_conversation(state: State<'_, AppState>, id: i64) -> CmdResult<ConversationView> {
    view(&state, id).await
}

async fn view(state: &AppState, id: i64) -> CmdResult<ConversationView> {
    let conversation = state.store.conversation(id).await?;
    let messages = state.store.messages(id).await?;
    let active_path = state.store.active_path(id).await?.iter().map(|m| m.id).collect();
    let tool_calls = state.store.conversation_tool_calls(id).await?;
    let sources = state.store.conversation_sources(id).await?;
    Ok(ConversationView { conversation, messages, active_path, tool_calls, sources })
}

/// Shows the branch through `message_id`, down to its newest descendant.
#[tauri::command]
#[specta::specta]
pub async fn show_branch(state: State<'_, AppState>, conversation_id: i64, message_id: i64) -> CmdResult<ConversationView> {
    let all = state.store.messages(conversation_id).await?;
    let mut leaf = message_id;
    while let Some(child) = all.iter().filter(|m| m.parent_id == Some(leaf)).map(|m| m.id).max() {
        leaf = child;
    }
    state.store.set_active_leaf(conversation_id, leaf).await?;
    view(&state, conversation_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn search_conversations(state: State<'_, AppState>, query: String) -> CmdResult<Vec<SearchHit>> {
    Ok(state.store.search(&query, 50).await?)
}

/// The documents attached to a conversation's questions (file, type, size, hash, what the
/// prompt carried), for the chips under each question.
#[tauri::command]
#[specta::specta]
pub async fn conversation_attachments(state: State<'_, AppState>, conversation_id: i64) -> CmdResult<Vec<fin_r1_core::store::Attachment>> {
    Ok(state.store.conversation_attachments(conversation_id).await?.into_iter().map(|(a, _)| a).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn rename_conversation(state: State<'_, AppState>, id: i64, title: String) -> CmdResult<()> {
    let title = title.trim();
    if title.is_empty() {
        return Err(CommandError::Invalid("a title cannot be empty".into()));
    }
    Ok(state.store.rename(id, title).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn pin_conversation(state: State<'_, AppState>, id: i64, pinned: bool) -> CmdResult<()> {
    Ok(state.store.set_pinned(id, pinned).await?)
}

/// The sampling panel of a conversation: kept with it in the store, where the CLI sees it too.
#[tauri::command]
#[specta::specta]
pub async fn set_conversation_sampling(state: State<'_, AppState>, id: i64, sampling: SamplingOverrides) -> CmdResult<()> {
    sampling.validate().map_err(|e| CommandError::Invalid(e.to_string()))?;
    Ok(state.store.set_conversation_sampling(id, &sampling).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_conversation(state: State<'_, AppState>, id: i64) -> CmdResult<()> {
    Ok(state.store.delete_conversation(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn restore_conversation(state: State<'_, AppState>, id: i64) -> CmdResult<()> {
    Ok(state.store.restore_conversation(id).await?)
}

#[derive(Debug, Serialize, specta::Type)]
pub struct ScenarioList {
    pub scenarios: Vec<Scenario>,
    /// User preset files that failed validation, with the reason.
    pub broken: Vec<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn list_scenarios(state: State<'_, AppState>) -> CmdResult<ScenarioList> {
    let lib = Library::load(Some(&state.scenario_dir()));
    Ok(ScenarioList { scenarios: lib.scenarios.into_iter().map(|(s, _)| s).collect(), broken: lib.broken.iter().map(ToString::to_string).collect() })
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct SendRequest {
    pub conversation_id: Option<i64>,
    pub turn: TurnKind,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default)]
    pub form: BTreeMap<String, String>,
    /// The language a preset's form labels are filled in (Chinese when not given).
    #[serde(default)]
    pub lang: Option<Lang>,
    /// A new conversation's sampling panel: kept with the conversation it opens. (An existing
    /// conversation's is set with `set_conversation_sampling`.)
    #[serde(default)]
    pub sampling: Option<SamplingOverrides>,
    /// Files attached to the question (read already by `read_document`, or read now).
    #[serde(default)]
    pub attachments: Vec<PathBuf>,
    /// Ask the library (all of it, a folder, a collection): its best parts go with the question.
    #[serde(default)]
    pub library: Option<fin_r1_core::runner::LibraryScope>,
    /// An edit: which of the question's documents it keeps (ids); none given keeps them all.
    #[serde(default)]
    pub keep_attachments: Option<Vec<i64>>,
}

/// How a turn ended, once its events have all gone down the channel.
#[derive(Debug, Serialize, Deserialize, specta::Type)]
pub struct TurnSummary {
    pub conversation_id: i64,
    pub question_id: i64,
    pub answer: Message,
    /// The text was shown but could not be saved (a full disk).
    pub save_error: Option<String>,
}

/// Runs one turn; its events stream through `on_event` while it runs.
#[tauri::command]
#[specta::specta]
pub async fn send_message(state: State<'_, AppState>, request: SendRequest, on_event: Channel<StreamMessage>) -> CmdResult<TurnSummary> {
    let runner = state.runner().await?;
    // Read before anything is stored: an unreadable file refuses the question whole.
    let mut attachments = Vec::new();
    let attached = request.attachments.clone();
    for path in request.attachments {
        let doc = match state.reading.fresh(&path) {
            Some(doc) => doc,
            None => {
                let at = path.clone();
                super::off_thread(move || crate::reading::read_in_child(&at, &mut |_, _| {}, &std::sync::atomic::AtomicBool::new(false))).await?
            }
        };
        attachments.push(doc);
    }
    let req = TurnRequest {
        conversation: request.conversation_id,
        kind: request.turn,
        scenario: request.scenario.filter(|s| !s.is_empty()),
        system: None,
        form: request.form,
        lang: request.lang.unwrap_or_default(),
        sampling: SamplingOverrides::default(),
        conversation_sampling: request.sampling.filter(|_| request.conversation_id.is_none()),
        defaults: state.settings().await.sampling,
        context_policy: ContextPolicy::Error,
        attachments,
        keep_attachments: request.keep_attachments,
        // The preset's tools (the calculation preset's calculator), and every MCP server
        // Settings has on: each call is asked of the analyst first.
        tools: state.mcp.config().map(|c| c.enabled()).unwrap_or_default().into_iter().map(|n| format!("{}{n}", fin_r1_core::tools::MCP_PREFIX)).collect(),
        library: request.library,
    };
    let mut sink = ChannelSink::new(on_event, state.running.clone(), state.approvals.clone());
    let result = runner.run(req, &mut sink).await;
    drop(sink);
    let r = result.inspect_err(|e| state.record_error(&e.to_string()))?;
    // What was read is stored with the question: neither the window's copy nor a pasted file's
    // is needed.
    for path in &attached {
        state.reading.discard(path);
        super::documents::forget_pasted(&state.data_dir, path);
    }
    // Figures only: a support log must never hold what the analyst asked or was told.
    let a = &r.answer;
    tracing::info!(
        conversation = r.conversation_id,
        answer = a.id,
        status = ?a.status,
        stop = a.stop_reason.map_or("", |r| r.as_str()),
        prompt_tokens = a.prompt_tokens.unwrap_or(0),
        reasoning_tokens = a.reasoning_tokens.unwrap_or(0),
        answer_tokens = a.answer_tokens.unwrap_or(0),
        ttft_ms = a.ttft_ms.unwrap_or(0.0) as i64,
        decode_tok_s = a.decode_tok_s.unwrap_or(0.0),
        saved = r.save_error.is_none(),
        "answer finished"
    );
    if let Some(e) = &r.save_error {
        state.record_error(&e.to_string());
    }
    Ok(TurnSummary { conversation_id: r.conversation_id, question_id: r.question_id, answer: r.answer, save_error: r.save_error.map(|e| e.to_string()) })
}

/// The analyst's answer to an MCP tool call waiting in the chat; `false` when it is no longer
/// waiting (it timed out, or the answer was stopped).
#[tauri::command]
#[specta::specta]
pub async fn answer_tool_approval(state: State<'_, AppState>, id: String, approval: Approval) -> CmdResult<bool> {
    Ok(state.approvals.answer(&id, approval))
}

/// Stops a streaming answer; what it wrote so far is kept as `cancelled`.
#[tauri::command]
#[specta::specta]
pub async fn stop_generation(state: State<'_, AppState>, answer_id: i64) -> CmdResult<bool> {
    Ok(state.running.cancel(answer_id))
}

/// Model output as sanitised HTML: the only HTML the UI puts into the page.
#[tauri::command]
#[specta::specta]
pub async fn render_markdown(markdown: String) -> CmdResult<String> {
    super::off_thread(move || Ok(fin_r1_report::render::render(&markdown))).await
}

#[derive(Debug, Clone, Copy, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CalcPart {
    Reasoning,
    Answer,
}

/// One stated result that the exact arithmetic does not give.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CalcDiff {
    pub part: CalcPart,
    /// The statement as written (`1000 / 1.05^2 = 907.02`).
    pub statement: String,
    /// The exact value in the result's units, two digits finer (`907.0295`).
    pub recomputed: String,
}

/// A finished answer with its calculations checked: the reasoning (plain text) and the answer
/// (markdown) as HTML with each differing result marked, and the counts.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CalcCheck {
    pub summary: fin_r1_calc::Summary,
    pub reasoning_html: String,
    pub answer_html: String,
    pub differing: Vec<CalcDiff>,
}

/// The calculation check of an answer, as the chat view shows it under the answer.
#[tauri::command]
#[specta::specta]
pub async fn check_calculations(reasoning: String, answer: String) -> CmdResult<CalcCheck> {
    super::off_thread(move || {
        let r = fin_r1_report::render::plain_checked(&reasoning);
        let a = fin_r1_report::render::render_checked(&answer);
        let mut summary = fin_r1_calc::summarise(&r.findings);
        summary.add(fin_r1_calc::summarise(&a.findings));
        let mut differing = Vec::new();
        for (part, text, findings) in [(CalcPart::Reasoning, &reasoning, &r.findings), (CalcPart::Answer, &answer, &a.findings)] {
            // The findings' spans are of the text without private-use marks (a model rarely
            // writes them; where it did, they are gone from the text checked).
            let text = fin_r1_report::render::strip_marks(text);
            for f in findings.iter().filter(|f| f.verdict == fin_r1_calc::Verdict::Differs) {
                differing.push(CalcDiff { part, statement: f.statement_text(&text), recomputed: f.recomputed.clone() });
            }
        }
        Ok(CalcCheck { summary, reasoning_html: r.html, answer_html: a.html, differing })
    })
    .await
}

/// The stylesheet for the renderer's classes (highlighted code, math), shared with reports.
#[tauri::command]
#[specta::specta]
pub fn renderer_css() -> &'static str {
    fin_r1_report::render::highlight_css()
}

/// The page keeps its own preferences under `ui.`; everything else in the settings table (the
/// shell's typed settings, API keys, the hub token) is neither readable nor writable from it.
fn ui_key(key: &str) -> CmdResult<&str> {
    match key.strip_prefix("ui.") {
        Some(rest) if !rest.is_empty() => Ok(key),
        _ => Err(CommandError::Invalid(format!("the UI cannot read or set {key:?}"))),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn get_setting(state: State<'_, AppState>, key: String) -> CmdResult<Option<serde_json::Value>> {
    Ok(state.store.setting(ui_key(&key)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_setting(state: State<'_, AppState>, key: String, value: serde_json::Value) -> CmdResult<()> {
    Ok(state.store.set_setting(ui_key(&key)?, &value).await?)
}

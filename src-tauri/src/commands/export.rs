//! The export dialog: one conversation as a report file.

use std::path::PathBuf;

use fin_r1_report::{self as report, Format, ReasoningMode, ReportOptions};
use serde::Deserialize;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct ExportRequest {
    pub conversation_id: i64,
    pub format: Format,
    #[serde(default)]
    pub reasoning: ReasoningMode,
    /// Answers to include (with their questions); `None`: the whole branch on show.
    #[serde(default)]
    pub messages: Option<Vec<i64>>,
    #[serde(default)]
    pub title: Option<String>,
    /// The file to write (from the save dialog).
    pub path: PathBuf,
}

/// The file a report goes to: the path chosen, with the format's extension added if missing.
pub(crate) fn report_path(chosen: &std::path::Path, format: Format) -> CmdResult<PathBuf> {
    let mut path = chosen.to_owned();
    if path.as_os_str().is_empty() || path.is_dir() {
        return Err(CommandError::Invalid("choose a file to write the report to".into()));
    }
    if path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some(format.extension()) {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(format.extension());
        path.set_file_name(name);
    }
    Ok(path)
}

/// Writes the report; returns the path written (with the format's extension added if missing).
#[tauri::command]
#[specta::specta]
pub async fn export_conversation(state: State<'_, AppState>, request: ExportRequest) -> CmdResult<PathBuf> {
    if request.messages.as_ref().is_some_and(Vec::is_empty) {
        return Err(CommandError::Invalid("choose at least one answer to export".into()));
    }
    let path = report_path(&request.path, request.format)?;
    let opts = ReportOptions {
        reasoning: request.reasoning,
        title: request.title.clone().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        messages: request.messages.clone(),
    };
    let result = async {
        let bytes = report::export(&state.store, request.conversation_id, Some(&state.scenario_dir()), request.format, &opts).await?;
        report::write_atomic(&path, &bytes)
    }
    .await;
    result.map_err(|e| {
        let e = CommandError::from(e);
        state.record_error(&e.to_string());
        e
    })?;
    tracing::info!(format = request.format.extension(), "report exported");
    Ok(path)
}

/// Opens a written report in the system's viewer.
#[tauri::command]
#[specta::specta]
pub async fn open_report(path: PathBuf) -> CmdResult<()> {
    if !path.is_file() {
        return Err(CommandError::Invalid(format!("{} does not exist", path.display())));
    }
    // Waits a moment for the opener's verdict: off the async runtime.
    super::off_thread(move || crate::commands::system::open_with_system(path.as_os_str())).await
}

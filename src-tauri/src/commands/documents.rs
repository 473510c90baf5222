//! Documents attached in the window: read in a child process (`documents::child`: a file that
//! still crashes a reader takes only the child) with page progress and a way to stop, kept
//! read until the question is sent (so a 300-page report is read once), and the stored text of
//! an attachment for its extracted view.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use fin_r1_core::documents::limits::MAX_FILE_BYTES;
use fin_r1_core::documents::{chunks::estimate_tokens, Document, DocumentKind, DocumentMeta, SheetGrid};
use fin_r1_core::filings::{self, SourceCheck, SourceState};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use super::off_thread;
use crate::error::{CmdResult, CommandError};
use crate::reading::read_in_child;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ReadProgress {
    pub done: u32,
    pub total: u32,
}

/// What the window shows of a read file: its chip and its extracted view.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DocumentPreview {
    pub path: PathBuf,
    #[serde(flatten)]
    pub meta: DocumentMeta,
    /// What was read, as the model would see it whole, up to `PREVIEW_BYTES` (a line says
    /// what is not shown).
    pub markdown: String,
    /// Of everything read.
    pub tokens: u32,
}

/// The extracted view shows this much; the tokens count everything.
const PREVIEW_BYTES: usize = 1 << 20;

/// A document's text as a view in the window shows it: at most `PREVIEW_BYTES`, and a line
/// that says how much more there is.
fn for_view(mut markdown: String, rest_is: &str) -> String {
    if markdown.len() > PREVIEW_BYTES {
        let mut end = PREVIEW_BYTES;
        while !markdown.is_char_boundary(end) {
            end -= 1;
        }
        let rest = markdown.len() - end;
        markdown.truncate(end);
        markdown.push_str(&format!("\n\n> … {} KB more not shown here; {rest_is}\n", rest >> 10));
    }
    markdown
}

fn preview(path: PathBuf, d: &Document) -> DocumentPreview {
    let markdown = d.to_markdown();
    let tokens = u32::try_from(estimate_tokens(&markdown)).unwrap_or(u32::MAX);
    let markdown = for_view(markdown, "the question takes the parts that fit.");
    DocumentPreview { path, meta: d.meta.clone(), tokens, markdown }
}

/// Reads a file to attach, telling each page of a PDF through `on_progress`.
#[tauri::command]
#[specta::specta]
pub async fn read_document(state: State<'_, AppState>, path: PathBuf, on_progress: Channel<ReadProgress>) -> CmdResult<DocumentPreview> {
    let stop = state.reading.begin(&path);
    let at = path.clone();
    let read = off_thread(move || {
        let mut last = std::time::Instant::now();
        let mut on_page = |done: u32, total: u32| {
            // A progress message every tenth of a second at most: a fast PDF does not flood
            // the channel.
            if done == total || last.elapsed().as_millis() >= 100 {
                last = std::time::Instant::now();
                let _ = on_progress.send(ReadProgress { done, total });
            }
        };
        read_in_child(&at, &mut on_page, &stop)
    })
    .await;
    state.reading.end(&path, read.as_ref().ok());
    let doc = read.inspect_err(|e| state.record_error(&e.to_string()))?;
    Ok(preview(path, &doc))
}

/// Stops reading a file (the chip's ×), or forgets one read and not sent.
#[tauri::command]
#[specta::specta]
pub async fn discard_document(state: State<'_, AppState>, path: PathBuf) -> CmdResult<()> {
    state.reading.discard(&path);
    forget_pasted(&state.data_dir, &path);
    Ok(())
}

/// The folder a pasted file's copy is written in: `<data>/pasted/paste-<hex>/`, one per paste.
/// Only folders of that form are ever removed (a data folder chosen in Settings may hold a
/// `pasted/` of the analyst's own).
fn is_paste_folder(name: &std::ffi::OsStr) -> bool {
    name.to_str().and_then(|n| n.strip_prefix("paste-")).is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

/// A pasted file's copy is the app's own: removed once it is sent or discarded.
pub fn forget_pasted(data_dir: &Path, path: &Path) {
    let pasted = data_dir.join("pasted");
    if let (Ok(dir), Some(parent)) = (pasted.canonicalize(), path.parent().and_then(|p| p.canonicalize().ok())) {
        if parent.parent() == Some(dir.as_path()) && parent.file_name().is_some_and(is_paste_folder) {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Pasted copies older than a day are left from a session that ended before sending them.
pub fn clean_pasted(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir.join("pasted")) else { return };
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in entries.flatten().filter(|e| is_paste_folder(&e.file_name())) {
        let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A pasted file (a screenshot of a table is not one: files only) written where the app keeps
/// its data, then read as any other.
#[tauri::command]
#[specta::specta]
pub async fn save_pasted_document(state: State<'_, AppState>, file_name: String, bytes: Vec<u8>) -> CmdResult<PathBuf> {
    let name = Path::new(&file_name).file_name().map(|n| n.to_string_lossy().into_owned()).filter(|n| !n.is_empty() && n != "." && n != "..");
    let Some(name) = name else { return Err(CommandError::Invalid(format!("{file_name:?} is not a file name"))) };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CommandError::Invalid(format!("{name}: {} MB; files up to {} MB are read", bytes.len() >> 20, MAX_FILE_BYTES >> 20)));
    }
    let dir = state.data_dir.join("pasted").join(uuid_like());
    off_thread(move || {
        std::fs::create_dir_all(&dir).map_err(CommandError::io(dir.display()))?;
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            // A full disk leaves no part of the copy behind (nor its folder).
            let _ = std::fs::remove_dir_all(&dir);
            return Err(CommandError::io(path.display())(e));
        }
        Ok(path)
    })
    .await
}

/// `paste-<time>-<n>`: the time's resolution is coarse on some systems, the count is not.
fn uuid_like() -> String {
    static PASTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("paste-{now:x}-{:x}", PASTES.fetch_add(1, Ordering::Relaxed))
}

/// A stored attachment's extracted view: everything read, and what the prompt carried.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AttachmentText {
    pub text: String,
    pub included: String,
}

#[tauri::command]
#[specta::specta]
pub async fn attachment_text(state: State<'_, AppState>, id: i64) -> CmdResult<AttachmentText> {
    let (text, included) = state.store.attachment_text(id).await?;
    // The store keeps everything read; the window's view of it is bounded as the preview was.
    Ok(AttachmentText {
        text: for_view(text, "the whole text is in the store and in exported reports."),
        included: for_view(included, "the prompt carried all of it."),
    })
}

/// Whose original: a file read in this window and not yet sent (only while the window holds
/// it), or a stored attachment (by id: the page never names a path).
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum OriginalOf {
    Pending { path: PathBuf },
    Stored { id: i64 },
}

/// A document as its file has it, beside what was read: a workbook's sheets as laid out, a
/// PDF's pages (drawn in the window from `document_pdf`).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct OriginalView {
    pub sheets: Vec<SheetGrid>,
    /// For a PDF: whether the file is still where it was read, and the same.
    pub pdf: Option<SourceCheck>,
}

struct Located {
    file_name: String,
    kind: DocumentKind,
    sha256: String,
    path: Option<PathBuf>,
    sheets: Vec<SheetGrid>,
}

async fn locate(state: &AppState, of: OriginalOf) -> CmdResult<Located> {
    match of {
        OriginalOf::Pending { path } => {
            let d = state.reading.peek(&path).ok_or_else(|| CommandError::Invalid(format!("{} is not read in this window", path.display())))?;
            Ok(Located { file_name: d.meta.file_name, kind: d.meta.kind, sha256: d.meta.sha256, path: Some(path), sheets: d.originals })
        }
        OriginalOf::Stored { id } => {
            let a = state.store.attachment_original(id).await?;
            Ok(Located { file_name: a.file_name, kind: a.kind, sha256: a.sha256, path: a.path.map(PathBuf::from), sheets: a.originals })
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn document_original(state: State<'_, AppState>, of: OriginalOf) -> CmdResult<OriginalView> {
    let at = locate(&state, of).await?;
    let pdf = match (at.kind, at.path) {
        (DocumentKind::Pdf, Some(path)) => Some(off_thread(move || Ok(filings::check_file(&path, &at.sha256, false))).await?),
        // A conversation imported from a file names no path of the machine it came from.
        (DocumentKind::Pdf, None) => {
            Some(SourceCheck { state: SourceState::Missing, paged: true, ocr: false, why: Some("where the file was read from is not known".into()) })
        }
        _ => None,
    };
    Ok(OriginalView { sheets: at.sheets, pdf })
}

/// An attached PDF's bytes for its pages drawn in the window; raw, outside the typed bindings
/// (as `library::source_pdf`).
#[tauri::command]
pub async fn document_pdf(state: State<'_, AppState>, of: OriginalOf) -> CmdResult<tauri::ipc::Response> {
    let at = locate(&state, of).await?;
    let Some(path) = at.path else { return Err(CommandError::Invalid(format!("where {} was read from is not known", at.file_name))) };
    let what = path.display().to_string();
    let bytes = off_thread(move || filings::read_pdf(&path, &at.file_name).map_err(|source| CommandError::Io { what, source })).await?;
    Ok(tauri::ipc::Response::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored document's whole text no longer crosses to the window: its view is bounded,
    /// cut at a character, and says what is left.
    #[test]
    fn a_long_text_is_cut_for_the_view_at_a_character() {
        let text = "净利润".repeat(PREVIEW_BYTES / 5);
        let shown = for_view(text.clone(), "rest.");
        assert!(shown.len() < PREVIEW_BYTES + 200, "{}", shown.len());
        assert!(shown.ends_with("KB more not shown here; rest.\n"), "{}", &shown[shown.len() - 80..]);
        assert!(text.starts_with(shown.split("\n\n> …").next().unwrap_or_default()));
        assert_eq!(for_view("short".into(), "rest."), "short");
    }
}

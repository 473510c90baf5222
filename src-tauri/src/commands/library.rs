//! The library of filings in the window: folders added, read with progress (files, pages,
//! time) and a Stop, read again, removed; a folder's files with what was refused and why.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fin_r1_core::filings::{self, ScanProgress, ScanReport};
use fin_r1_core::store::{LibraryFile, LibraryFolder};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

async fn scan(state: &AppState, id: i64, on_progress: Channel<ScanProgress>) -> CmdResult<ScanReport> {
    let mut last = std::time::Instant::now();
    let mut progress = move |p: &ScanProgress| {
        if p.done == p.total || last.elapsed().as_millis() >= 100 {
            last = std::time::Instant::now();
            let _ = on_progress.send(p.clone());
        }
    };
    scan_with(state, id, &mut progress).await
}

/// Every folder read again for what changed while the app was closed, in the background (a
/// folder the analyst is reading from Settings waits its turn: the slot is one).
pub async fn rescan_at_start(state: &AppState) {
    let Ok(folders) = state.store.library_folders().await else { return };
    for f in folders {
        match scan_with(state, f.id, &mut |_| {}).await {
            Ok(r) if r.added + r.updated + r.missing > 0 || r.folder_missing => {
                tracing::info!(
                    folder = f.id,
                    added = r.added,
                    updated = r.updated,
                    gone = r.missing,
                    folder_gone = r.folder_missing,
                    "library folder read again at start"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(folder = f.id, "library folder not read again at start: {e}"),
        }
    }
}

/// Watches the library's folders while the app runs: a folder whose files change is read
/// again, and the window told (`library-changed`, with what the scan did). The folders watched
/// are the store's, taken again when one is added or removed. A folder already waiting to be
/// read is not queued twice (changes during a long OCR scan queue one more read, not one each).
pub async fn watch_folders<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    use tauri::{Emitter, Manager};
    let state = app.state::<AppState>();
    let queued: Arc<std::sync::Mutex<std::collections::HashSet<i64>>> = Arc::default();
    loop {
        let folders: Vec<(i64, PathBuf)> = state.store.library_folders().await.unwrap_or_default().into_iter().map(|f| (f.id, PathBuf::from(f.path))).collect();
        let on = app.clone();
        let queue = queued.clone();
        let changed = move |id: i64| {
            if !queue.lock().map(|mut q| q.insert(id)).unwrap_or(false) {
                return;
            }
            let (app, queue) = (on.clone(), queue.clone());
            tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                let result = match take_slot(&state).await {
                    Ok(slot) => {
                        // From here a change is a new read: this one may have listed the folder.
                        if let Ok(mut q) = queue.lock() {
                            q.remove(&id);
                        }
                        scan_in(&state, &slot, id, &mut |_| {}).await
                    }
                    Err(e) => {
                        if let Ok(mut q) = queue.lock() {
                            q.remove(&id);
                        }
                        Err(e)
                    }
                };
                match result {
                    Ok(report) => {
                        tracing::info!(
                            folder = id,
                            added = report.added,
                            updated = report.updated,
                            gone = report.missing,
                            "library folder changed and read again"
                        );
                        let _ = app.emit("library-changed", report);
                    }
                    Err(e) => tracing::warn!(folder = id, "library folder changed, not read again: {e}"),
                }
            });
        };
        // Setting the watches walks the folders: off the async workers.
        let watch = tauri::async_runtime::spawn_blocking(move || fin_r1_core::filings_watch::watch(&folders, changed)).await;
        match &watch {
            Ok(Ok(w)) => w.notes.iter().for_each(|n| tracing::warn!("{n}")),
            Ok(Err(e)) => tracing::warn!("the library's folders are not watched ({e}): they are read again at start and on Read again"),
            Err(e) => tracing::warn!("the library's folders are not watched ({e})"),
        }
        state.library_rewatch.notified().await;
        drop(watch);
    }
}

/// The library's one scan slot, held: freed however the scan ends (an error, or its command
/// dropped with the window), and only its own (never a later scan's switch).
struct Slot<'a> {
    state: &'a AppState,
    stop: Arc<AtomicBool>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.state.library_scan.lock() {
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.stop)) {
                *slot = None;
            }
        }
    }
}

/// Waits for the scan slot (one folder is read at a time). A Stop pressed while this waits
/// stops it too: the analyst stops what is queued, not only what runs.
async fn take_slot(state: &AppState) -> CmdResult<Slot<'_>> {
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = state.library_stops.load(Ordering::Relaxed);
    loop {
        {
            let mut slot = state.library_scan.lock().map_err(|_| CommandError::Task("the library's scan slot".into()))?;
            if slot.is_none() {
                *slot = Some(stop.clone());
                return Ok(Slot { state, stop });
            }
        }
        if state.library_stops.load(Ordering::Relaxed) != epoch {
            return Err(CommandError::Model { kind: fin_r1_engine::ErrorKind::Cancelled, message: "stopped".into() });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn scan_in(state: &AppState, slot: &Slot<'_>, id: i64, progress: &mut (dyn FnMut(&ScanProgress) + Send)) -> CmdResult<ScanReport> {
    filings::scan(&state.store, id, filings::child_reader(), progress, &slot.stop)
        .await
        .map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })
}

async fn scan_with(state: &AppState, id: i64, progress: &mut (dyn FnMut(&ScanProgress) + Send)) -> CmdResult<ScanReport> {
    let slot = take_slot(state).await?;
    scan_in(state, &slot, id, progress).await
}

#[tauri::command]
#[specta::specta]
pub async fn library_folders(state: State<'_, AppState>) -> CmdResult<Vec<LibraryFolder>> {
    Ok(state.store.library_folders().await?)
}

/// Adds a folder and reads it, telling its progress through `on_progress`.
#[tauri::command]
#[specta::specta]
pub async fn add_library_folder(state: State<'_, AppState>, path: PathBuf, on_progress: Channel<ScanProgress>) -> CmdResult<ScanReport> {
    let folder = filings::add_folder(&state.store, &path).await.map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })?;
    state.library_rewatch.notify_one();
    scan(&state, folder.id, on_progress).await
}

/// Reads again what changed in a folder.
#[tauri::command]
#[specta::specta]
pub async fn reindex_library_folder(state: State<'_, AppState>, id: i64, on_progress: Channel<ScanProgress>) -> CmdResult<ScanReport> {
    scan(&state, id, on_progress).await
}

/// Stops the folder being read (what was read stays).
#[tauri::command]
#[specta::specta]
pub async fn stop_library_scan(state: State<'_, AppState>) -> CmdResult<bool> {
    state.library_stops.fetch_add(1, Ordering::Relaxed);
    let slot = state.library_scan.lock().map_err(|_| CommandError::Task("the library's scan slot".into()))?;
    Ok(slot.as_ref().map(|s| s.store(true, Ordering::Relaxed)).is_some())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_library_folder(state: State<'_, AppState>, id: i64) -> CmdResult<bool> {
    let removed = state.store.remove_library_folder(id).await?;
    state.library_rewatch.notify_one();
    Ok(removed)
}

#[tauri::command]
#[specta::specta]
pub async fn library_files(state: State<'_, AppState>, id: i64) -> CmdResult<Vec<LibraryFile>> {
    Ok(state.store.library_files(id).await?)
}

async fn cited(state: &AppState, message_id: i64, n: i64) -> CmdResult<fin_r1_core::store::AnswerSource> {
    state.store.answer_source(message_id, n).await?.ok_or_else(|| CommandError::Invalid(format!("answer {message_id} has no source [{n}]")))
}

/// Whether a cited file is still the one the answer read, and how the window shows it.
#[tauri::command]
#[specta::specta]
pub async fn check_source(state: State<'_, AppState>, message_id: i64, n: i64) -> CmdResult<filings::SourceCheck> {
    let source = cited(&state, message_id, n).await?;
    tauri::async_runtime::spawn_blocking(move || filings::check_source(&source)).await.map_err(|e| CommandError::Task(e.to_string()))
}

/// A cited PDF's bytes, for its page drawn in the window: only files an answer cited, never a
/// path the page names. Raw bytes (an `ArrayBuffer` in the page), not JSON; outside the typed
/// bindings, which cannot name that type (`bindings::invoke_handler`).
#[tauri::command]
pub async fn source_pdf(state: State<'_, AppState>, message_id: i64, n: i64) -> CmdResult<tauri::ipc::Response> {
    let source = cited(&state, message_id, n).await?;
    let what = source.path.clone();
    let bytes = tauri::async_runtime::spawn_blocking(move || filings::read_source(&source))
        .await
        .map_err(|e| CommandError::Task(e.to_string()))?
        .map_err(|source| CommandError::Io { what, source })?;
    Ok(tauri::ipc::Response::new(bytes))
}

#[tauri::command]
#[specta::specta]
pub async fn library_collections(state: State<'_, AppState>) -> CmdResult<Vec<fin_r1_core::store::LibraryCollection>> {
    Ok(state.store.library_collections().await?)
}

/// Adds the library's files at `paths` to the collection `name` (made if new).
#[tauri::command]
#[specta::specta]
pub async fn add_to_library_collection(state: State<'_, AppState>, name: String, paths: Vec<PathBuf>) -> CmdResult<fin_r1_core::store::LibraryCollection> {
    filings::add_to_collection(&state.store, &name, &paths).await.map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })
}

/// Takes files out of a collection (they stay in the library).
#[tauri::command]
#[specta::specta]
pub async fn remove_from_library_collection(state: State<'_, AppState>, id: i64, paths: Vec<String>) -> CmdResult<()> {
    state.store.remove_from_collection(id, &paths).await?;
    Ok(())
}

/// Deletes a collection (its files stay in the library).
#[tauri::command]
#[specta::specta]
pub async fn delete_library_collection(state: State<'_, AppState>, id: i64) -> CmdResult<bool> {
    Ok(state.store.delete_collection(id).await?)
}

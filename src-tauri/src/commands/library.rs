//! The library of filings in the window: folders added, read with progress (files, pages,
//! time) and a Stop, read again, removed; a folder's files with what was refused and why.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fin_r1_core::filings::{self, Reader, ScanProgress, ScanReport};
use fin_r1_core::store::{LibraryFile, LibraryFolder};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

fn reader() -> Reader {
    Arc::new(|path| {
        use fin_r1_core::documents::child::{extract_in_child, reader_program, ChildLimits};
        extract_in_child(&reader_program(), path, ChildLimits::default(), &mut |_, _| {}, &AtomicBool::new(false))
    })
}

async fn scan(state: &AppState, id: i64, on_progress: Channel<ScanProgress>) -> CmdResult<ScanReport> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut slot = state.library_scan.lock().map_err(|_| CommandError::Task("the library's scan slot".into()))?;
        if slot.as_ref().is_some_and(|s| !s.load(Ordering::Relaxed)) {
            return Err(CommandError::Busy("a folder is being read: wait for it, or stop it".into()));
        }
        *slot = Some(stop.clone());
    }
    let mut last = std::time::Instant::now();
    let mut progress = |p: &ScanProgress| {
        if p.done == p.total || last.elapsed().as_millis() >= 100 {
            last = std::time::Instant::now();
            let _ = on_progress.send(p.clone());
        }
    };
    let result = filings::scan(&state.store, id, reader(), &mut progress, &stop).await;
    if let Ok(mut slot) = state.library_scan.lock() {
        *slot = None;
    }
    result.map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })
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
    let slot = state.library_scan.lock().map_err(|_| CommandError::Task("the library's scan slot".into()))?;
    Ok(slot.as_ref().map(|s| s.store(true, Ordering::Relaxed)).is_some())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_library_folder(state: State<'_, AppState>, id: i64) -> CmdResult<bool> {
    Ok(state.store.remove_library_folder(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn library_files(state: State<'_, AppState>, id: i64) -> CmdResult<Vec<LibraryFile>> {
    Ok(state.store.library_files(id).await?)
}

//! The commands the UI invokes: thin adapters over the core, grouped by the page that uses
//! them. Those that touch the disk, the network or the model are `async`, so the GTK thread
//! never waits.

pub mod chat;
pub mod documents;
pub mod eval;
pub mod export;
pub mod library;
pub mod models;
pub mod settings;
pub mod system;

pub use chat::*;

use crate::error::{CmdResult, CommandError};

/// Runs work that may block (disk, a child process, CPU-heavy rendering) on the blocking pool:
/// neither the GTK thread (where sync commands run) nor an async worker waits on it.
pub async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> CmdResult<T> + Send + 'static) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| CommandError::Task(e.to_string()))?
}

//! Fin-R1 Desktop's Tauri shell: a thin adapter of commands and a channel over fin-r1-core.
//! `builder` is generic over the runtime, so the commands run on Tauri's mock runtime in tests.

pub mod commands;
pub mod error;
pub mod state;
pub mod stream;

use std::path::PathBuf;

use anyhow::Context;
use tauri::{Manager, Runtime};

use fin_r1_core::store::Store;
use state::{AppState, MODEL_PATH};

/// The app's commands, as the permission manifest (build.rs) lists them.
#[macro_export]
macro_rules! handler {
    () => {
        tauri::generate_handler![
            $crate::commands::app_info,
            $crate::commands::load_model,
            $crate::commands::list_models,
            $crate::commands::list_conversations,
            $crate::commands::open_conversation,
            $crate::commands::show_branch,
            $crate::commands::search_conversations,
            $crate::commands::rename_conversation,
            $crate::commands::pin_conversation,
            $crate::commands::delete_conversation,
            $crate::commands::restore_conversation,
            $crate::commands::list_scenarios,
            $crate::commands::send_message,
            $crate::commands::stop_generation,
            $crate::commands::render_markdown,
            $crate::commands::renderer_css,
            $crate::commands::get_setting,
            $crate::commands::set_setting,
            $crate::commands::open_external,
        ]
    };
}

/// Opens the store in `data_dir` and, in the background, loads the last model used (or
/// `$FIN_R1_MODEL` on a first start).
pub fn setup<R: Runtime>(app: &tauri::App<R>, data_dir: PathBuf) -> anyhow::Result<()> {
    let (store, _report) = tauri::async_runtime::block_on(Store::open(&data_dir))
        .with_context(|| format!("opening the conversation store in {}", data_dir.display()))?;
    app.manage(AppState::new(store, data_dir));
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        let state = handle.state::<AppState>();
        let last: Option<PathBuf> = state.store.setting(MODEL_PATH).await.ok().flatten().and_then(|v| serde_json::from_value(v).ok());
        // $FIN_R1_MODEL is a first model for a fresh install (scripts/run.sh gives SmolLM2).
        let first = std::env::var_os("FIN_R1_MODEL").map(PathBuf::from);
        if let Some(path) = last.or(first).filter(|p| p.is_file()) {
            // A model that no longer loads leaves the picker to say so when the user acts.
            let _ = state.load_model(&path).await;
        }
        state.startup_done();
    });
    Ok(())
}

pub fn run() -> anyhow::Result<()> {
    let data_dir = fin_r1_core::paths::default_data_dir();
    tauri::Builder::default()
        .invoke_handler(handler!())
        .setup(move |app| {
            setup(app, data_dir.clone())?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                // Answers still streaming stop and are saved as cancelled.
                window.state::<AppState>().running.cancel_all();
            }
        })
        .run(tauri::generate_context!())
        .context("running the window")
}

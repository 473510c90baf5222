//! Fin-R1 Desktop's Tauri shell: a thin adapter of commands and channels over fin-r1-core.
//! `setup` is generic over the runtime, so the commands run on Tauri's mock runtime in tests.
#![forbid(unsafe_code)]

pub mod bindings;
pub mod commands;
pub mod error;
pub mod instance;
pub mod logging;
pub mod reading;
pub mod state;
pub mod stream;

use std::path::PathBuf;

use anyhow::Context;
use tauri::{Manager, Runtime};

use fin_r1_core::store::Store;
use state::{AppState, MODEL_PATH};

/// Opens the store in `data_dir`, reads the settings (a damaged row falls back with a notice)
/// and, in the background, loads the last model used (or `$FIN_R1_MODEL` on a first start),
/// then applies the engine choice and starts the API server if it was left on.
pub fn setup<R: Runtime>(app: &tauri::App<R>, data_dir: PathBuf) -> anyhow::Result<()> {
    let restored = tauri::async_runtime::block_on(commands::settings::restore_chosen(&data_dir));
    let (store, report) = tauri::async_runtime::block_on(Store::open_or_recover(&data_dir))
        .with_context(|| format!("opening the conversation store in {}", data_dir.display()))?;
    let loaded = tauri::async_runtime::block_on(fin_r1_core::settings::load(&store)).context("reading the settings")?;
    if let Some(n) = loaded.settings.threads {
        // Only the first build of the global pool counts: a change applies at the next start.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    commands::documents::clean_pasted(&data_dir);
    let state = AppState::new(store, data_dir.clone(), loaded.settings);
    if let Some(n) = loaded.notice {
        state.notice(n);
    }
    if let Some(report) = logging::take_crash_notice(&data_dir) {
        state.notice(format!("Fin-R1 Desktop stopped unexpectedly last time. A crash report was written to {}", report.display()));
    }
    if report.interrupted > 0 {
        state.notice(interrupted_notice(report.interrupted));
    }
    if let Some(r) = &report.recovered {
        state.notice(r.notice());
    }
    if let Some(n) = restored {
        state.notice(n);
    }
    app.manage(state);
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        let state = handle.state::<AppState>();
        let last: Option<PathBuf> = state.store.setting(MODEL_PATH).await.ok().flatten().and_then(|v| serde_json::from_value(v).ok());
        // $FIN_R1_MODEL is a first model for a fresh install (scripts/run.sh gives SmolLM2).
        let first = std::env::var_os("FIN_R1_MODEL").map(PathBuf::from);
        if let Some(path) = last.or(first).filter(|p| p.is_file()) {
            if let Err(e) = state.load_model(&path).await {
                state.notice(format!("The model used last time did not load: {e}"));
            }
        }
        if let Err(e) = state.apply_engine_choice().await {
            state.notice(e.to_string());
        }
        state.apply_server_settings().await;
        // The day's backup, once the window is up (SQLite copies beside answers being written).
        if let Err(e) = state.store.backup_if_due().await {
            state.notice(format!("The daily backup of the conversations was not made: {e}"));
        }
        state.startup_done();
        // The library's folders, read again for what changed while the app was closed, then
        // watched for what changes while it runs.
        let again = handle.clone();
        tauri::async_runtime::spawn(async move {
            commands::library::rescan_at_start(&again.state::<AppState>()).await;
            commands::library::watch_folders(again).await
        });
        watch_dead_writers(&state.store, &state).await;
    });
    Ok(())
}

fn interrupted_notice(n: u64) -> String {
    let answers = if n == 1 { "an answer was".to_owned() } else { format!("{n} answers were") };
    format!(
        "Fin-R1 stopped while {answers} being written (the app was closed or crashed). What was written is kept, marked “interrupted”; Regenerate asks again."
    )
}

/// An answer whose writer died a moment before this start still looks `streaming` to the
/// store's open (its last checkpoint is fresh): it is marked once its heartbeat has stopped
/// for `STALE_AFTER`, as is one left by a `fin-r1` process that dies while the app runs.
async fn watch_dead_writers(store: &Store, state: &AppState) {
    loop {
        tokio::time::sleep(fin_r1_core::store::STALE_AFTER).await;
        // Never one this process writes (a machine waking from sleep has let its heartbeat lapse).
        match store.mark_interrupted_except(&state.running.ids()).await {
            Ok(0) => {}
            Ok(n) => state.notice(interrupted_notice(n)),
            Err(e) => tracing::warn!(error = %e, "checking for answers left streaming"),
        }
    }
}

pub fn run() -> anyhow::Result<()> {
    let data_dir = fin_r1_core::paths::default_data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating the data folder {}", data_dir.display()))?;
    // A second launch hands over to the running window and ends here.
    let Some(instance) = instance::claim(&data_dir)? else {
        return Ok(());
    };
    let _log_guard = logging::init(&data_dir);
    logging::install_panic_hook(&data_dir);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %data_dir.display(), "starting");
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(bindings::invoke_handler())
        .setup(move |app| {
            setup(app, data_dir.clone())?;
            instance.serve(app.handle().clone());
            if let Some(path) = instance::model_argument() {
                instance::open_model(app.handle(), path);
            }
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

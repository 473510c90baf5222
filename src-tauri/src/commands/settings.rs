//! The settings page: the typed settings, API keys (written, never read back), the API server
//! and the remote engine they switch, and the data folder.

use std::path::PathBuf;

use fin_r1_core::hardware::Hardware;
use fin_r1_core::settings::{self, Settings};
use fin_r1_engine::DeviceChoice;
use serde::Serialize;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, ServerStatus};

#[derive(Debug, Serialize, specta::Type)]
pub struct SettingsView {
    pub settings: Settings,
    pub has_remote_key: bool,
    pub has_server_key: bool,
    /// Where the keys are kept: the OS keychain, or (none answered) the app's store.
    pub secrets: fin_r1_core::secrets::Vault,
    /// Devices this build can run on.
    pub devices: Vec<DeviceChoice>,
    pub data_dir: PathBuf,
    /// The folder the next start opens (a choice made in Settings, else the current one).
    pub next_data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub hardware: Hardware,
    pub server: ServerStatus,
}

async fn view(state: &AppState) -> CmdResult<SettingsView> {
    let s = state.settings().await;
    Ok(SettingsView {
        has_remote_key: settings::secret(&state.store, settings::REMOTE_KEY).await?.is_some(),
        has_server_key: settings::secret(&state.store, settings::SERVER_KEY).await?.is_some(),
        secrets: fin_r1_core::secrets::vault(&state.store).await,
        devices: DeviceChoice::built(),
        data_dir: state.data_dir.clone(),
        next_data_dir: fin_r1_core::paths::default_data_dir(),
        models_dir: s.models_dir(&state.data_dir),
        hardware: Hardware::detect_off_thread().await,
        server: state.server_status().await,
        settings: s,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    view(&state).await
}

/// A key typed into a password field: `None` keeps the stored one, `""` clears it.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
    remote_api_key: Option<String>,
    server_api_key: Option<String>,
) -> CmdResult<SettingsView> {
    let built = DeviceChoice::built();
    if !built.contains(&settings.device) {
        let names: Vec<&str> = built.iter().map(|d| d.as_str()).collect();
        return Err(CommandError::Invalid(format!("this build cannot run on {}; it has {}", settings.device, names.join(", "))));
    }
    let old = state.settings().await;
    fin_r1_core::settings::save(&state.store, &settings).await.map_err(|e| CommandError::Invalid(e.to_string()))?;
    if let Some(k) = remote_api_key {
        settings::set_secret(&state.store, settings::REMOTE_KEY, Some(k.trim())).await?;
    }
    let server_key_changed = server_api_key.is_some();
    if let Some(k) = server_api_key {
        settings::set_secret(&state.store, settings::SERVER_KEY, Some(k.trim())).await?;
    }
    state.set_settings(settings.clone()).await;
    tracing::info!(theme = %settings.theme, device = %settings.device, server = settings.server.enabled, remote = settings.remote.enabled, "settings saved");
    if old.remote != settings.remote || settings.remote.enabled {
        if state.running.is_busy() {
            return Err(CommandError::Invalid("saved; an answer is streaming, so the engine changes after it ends: save again then".into()));
        }
        state.apply_engine_choice().await?;
    }
    if old.server != settings.server || server_key_changed {
        state.apply_server_settings().await;
    }
    view(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn server_status(state: State<'_, AppState>) -> CmdResult<ServerStatus> {
    Ok(state.server_status().await)
}

/// Makes `path` the data folder from the next start (`None`: the platform's own).
#[tauri::command]
#[specta::specta]
pub async fn choose_data_dir(state: State<'_, AppState>, path: Option<PathBuf>) -> CmdResult<SettingsView> {
    fin_r1_core::paths::choose_data_dir(path.as_deref()).map_err(|e| CommandError::Invalid(format!("cannot use that folder: {e}")))?;
    view(&state).await
}

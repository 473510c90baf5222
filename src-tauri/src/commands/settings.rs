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
    fin_r1_core::settings::save(&state.store, &settings).await?;
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
            return Err(CommandError::Busy("saved; an answer is streaming, so the engine changes after it ends: save again then".into()));
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
    fin_r1_core::paths::choose_data_dir(path.as_deref()).map_err(CommandError::io("cannot use that folder"))?;
    view(&state).await
}

/// The store's backups, newest first (the app makes one a day and before each migration).
#[tauri::command]
#[specta::specta]
pub async fn list_backups(state: State<'_, AppState>) -> CmdResult<BackupsView> {
    let dir = fin_r1_core::store::backup::backups_dir(state.store.path());
    let pending = pending_restore(&state.data_dir);
    super::off_thread(move || Ok(BackupsView { backups: fin_r1_core::store::backup::list(&dir), dir, restore_on_restart: pending })).await
}

/// A backup now.
#[tauri::command]
#[specta::specta]
pub async fn create_backup(state: State<'_, AppState>) -> CmdResult<fin_r1_core::store::backup::Backup> {
    Ok(state.store.backup(fin_r1_core::store::backup::BackupReason::Manual).await?)
}

/// Puts a backup in the store's place at the next start (the store is in use now); `None`
/// takes the choice back. The store it replaces is kept aside, never removed.
#[tauri::command]
#[specta::specta]
pub async fn restore_backup_on_restart(state: State<'_, AppState>, path: Option<PathBuf>) -> CmdResult<BackupsView> {
    let marker = restore_marker(&state.data_dir);
    match &path {
        Some(p) => {
            let dir = fin_r1_core::store::backup::backups_dir(state.store.path());
            // Only one of the listed backups: the page names a file, the shell checks it is one.
            if !fin_r1_core::store::backup::list(&dir).iter().any(|b| &b.path == p) {
                return Err(CommandError::Invalid(format!("{} is not one of the backups in {}", p.display(), dir.display())));
            }
            std::fs::write(&marker, p.to_string_lossy().as_bytes()).map_err(CommandError::io(marker.display()))?;
        }
        None => {
            let _ = std::fs::remove_file(&marker);
        }
    }
    list_backups(state).await
}

#[derive(Debug, Serialize, specta::Type)]
pub struct BackupsView {
    pub dir: PathBuf,
    pub backups: Vec<fin_r1_core::store::backup::Backup>,
    /// The backup the next start restores, if one was chosen.
    pub restore_on_restart: Option<PathBuf>,
}

/// The file that names the backup the next start restores.
pub fn restore_marker(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("restore-on-start")
}

fn pending_restore(data_dir: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(restore_marker(data_dir)).ok()?;
    Some(PathBuf::from(text.trim())).filter(|p| !p.as_os_str().is_empty())
}

/// At start, before the store opens: the restore chosen in Settings, if any. Returns what to
/// tell the analyst.
pub async fn restore_chosen(data_dir: &std::path::Path) -> Option<String> {
    let chosen = pending_restore(data_dir)?;
    let _ = std::fs::remove_file(restore_marker(data_dir));
    let store = data_dir.join(fin_r1_core::store::DB_FILE);
    Some(match fin_r1_core::store::backup::restore(&store, &chosen).await {
        Ok(r) => match r.kept_aside {
            Some(k) => format!("The backup {} was restored; the conversations it replaced were kept as {}.", chosen.display(), k.display()),
            None => format!("The backup {} was restored.", chosen.display()),
        },
        Err(e) => format!("The backup chosen was not restored: {e}"),
    })
}

/// The MCP servers file as Settings edits it: its text (the analyst's own formatting), where it
/// is, and what is wrong with a server in it.
#[derive(Debug, Serialize, specta::Type)]
pub struct McpConfigView {
    pub path: PathBuf,
    pub text: String,
    /// The file's text as read (none: no file yet): handed back on save, which refuses when the
    /// file changed since.
    pub loaded: Option<String>,
    pub problems: Vec<String>,
}

const MCP_EXAMPLE: &str = "{\n  \"mcpServers\": {}\n}\n";

fn mcp_view(state: &AppState) -> CmdResult<McpConfigView> {
    let path = state.mcp.path().to_owned();
    let config = state.mcp.config()?;
    let loaded = state.mcp.text()?;
    let text = loaded.clone().unwrap_or_else(|| MCP_EXAMPLE.to_owned());
    Ok(McpConfigView { problems: config.problems(), path, text, loaded })
}

#[tauri::command]
#[specta::specta]
pub async fn get_mcp_config(state: State<'_, AppState>) -> CmdResult<McpConfigView> {
    mcp_view(&state)
}

/// Saves the MCP servers file (the `mcpServers` JSON other apps write); servers whose entry
/// changed are restarted on their next use.
#[tauri::command]
#[specta::specta]
pub async fn save_mcp_config(state: State<'_, AppState>, text: String, loaded: Option<String>) -> CmdResult<McpConfigView> {
    if text.len() as u64 > fin_r1_core::mcp::MAX_CONFIG_BYTES {
        return Err(CommandError::Invalid(format!("the MCP configuration is over {} KB", fin_r1_core::mcp::MAX_CONFIG_BYTES / 1024)));
    }
    let config = fin_r1_core::mcp::McpConfig::parse(&text)?;
    state.mcp.set_config_if_unchanged(&config, loaded.as_deref()).await?;
    mcp_view(&state)
}

/// Each configured server, started if it is on, with its tools or why it is not connected.
#[tauri::command]
#[specta::specta]
pub async fn mcp_servers(state: State<'_, AppState>) -> CmdResult<Vec<fin_r1_core::mcp::McpServerStatus>> {
    Ok(state.mcp.status().await?)
}

/// What the store's files hold: conversations, documents' text, the library, free pages.
#[tauri::command]
#[specta::specta]
pub async fn store_size(state: State<'_, AppState>) -> CmdResult<fin_r1_core::store::StoreSize> {
    Ok(state.store.store_size().await?)
}

/// Drops the read text of documents attached more than `days` ago (names and hashes stay).
#[tauri::command]
#[specta::specta]
pub async fn drop_document_text(state: State<'_, AppState>, days: u32) -> CmdResult<fin_r1_core::store::DroppedText> {
    Ok(state.store.drop_document_text(days).await?)
}

/// Compacts the store (its log folded in, its free pages given back); returns the bytes freed.
#[tauri::command]
#[specta::specta]
pub async fn compact_store(state: State<'_, AppState>) -> CmdResult<u64> {
    // VACUUM holds the store's write lock longer than a save waits for it.
    if state.library_scan.lock().map(|s| s.is_some()).unwrap_or(false) {
        return Err(CommandError::Busy("a library folder is being read: compact the store when it is done".into()));
    }
    if state.running.is_busy() {
        return Err(CommandError::Busy("an answer is being written: compact the store when it is done".into()));
    }
    if state.eval.lock().map(|s| s.is_some()).unwrap_or(false) {
        return Err(CommandError::Busy("an evaluation is running: compact the store when it is done".into()));
    }
    Ok(state.store.compact().await?)
}

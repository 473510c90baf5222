//! Where the app and the CLI keep their data: one folder, so both see the same conversations.

use std::path::PathBuf;

/// `$FIN_R1_DATA_DIR`, else the platform's app data folder (`~/.local/share/fin-r1-desktop` on
/// Linux, `~/Library/Application Support/fin-r1-desktop` on macOS, `%APPDATA%\\fin-r1-desktop`
/// on Windows).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIN_R1_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("fin-r1-desktop")
}

/// The user's own scenario presets inside a data folder.
pub fn scenario_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("scenarios")
}

//! Where the app and the CLI keep their data: one folder, so both see the same conversations.

use std::path::{Path, PathBuf};

const APP: &str = "fin-r1-desktop";

/// `$FIN_R1_DATA_DIR`, else the folder chosen in Settings (kept in the config folder, since the
/// choice cannot live inside the folder it names), else the platform's app data folder
/// (`~/.local/share/fin-r1-desktop` on Linux, `~/Library/Application Support/fin-r1-desktop`
/// on macOS, `%APPDATA%\\fin-r1-desktop` on Windows).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIN_R1_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(chosen) = chosen_data_dir() {
        return chosen;
    }
    platform_data_dir()
}

/// `$FIN_R1_CACHE_DIR`, else the platform's cache folder (`~/.cache/fin-r1-desktop` on
/// Linux): what can be made again, kept out of the data folder and its backups.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIN_R1_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join(APP)
}

/// Where the engine keeps shared prompt prefixes (a preset's system prompt and template head)
/// between runs; `model_sha256` if the library already knows the file's hash.
pub fn prefix_cache(model_sha256: Option<String>) -> fin_r1_engine::PrefixCacheOptions {
    fin_r1_engine::PrefixCacheOptions { dir: cache_dir().join("prompt-prefixes"), max_bytes: fin_r1_engine::prefix_cache::DEFAULT_DISK_BYTES, model_sha256 }
}

pub fn platform_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(std::env::temp_dir).join(APP)
}

fn pointer_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join(APP).join("data-dir"))
}

/// The data folder picked in Settings, if any.
pub fn chosen_data_dir() -> Option<PathBuf> {
    let text = std::fs::read_to_string(pointer_file()?).ok()?;
    let p = PathBuf::from(text.trim());
    (p.is_absolute()).then_some(p)
}

/// Makes `dir` the data folder from the next start on (`None`: back to the platform's).
pub fn choose_data_dir(dir: Option<&Path>) -> std::io::Result<()> {
    let Some(file) = pointer_file() else {
        return Err(std::io::Error::other("this system has no configuration folder"));
    };
    match dir {
        Some(d) => {
            if !d.is_absolute() {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} is not an absolute path", d.display())));
            }
            std::fs::create_dir_all(d)?;
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&file, d.display().to_string())
        }
        None => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// The user's own scenario presets inside a data folder.
pub fn scenario_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("scenarios")
}

/// Evaluation runs: where `fin-r1 eval run` puts a run by default and the app lists them.
pub fn eval_runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("eval-runs")
}

/// Rotated logs and crash reports.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// A random token (128 bits from the OS's generator, as hex) for secrets a file hands to
/// another local process.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The room left on the file system of `dir` for an unprivileged user, when it can be read.
pub fn free_space(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        // The blocks free to an unprivileged user, in the file system's fragment size.
        let st = nix::sys::statvfs::statvfs(dir).ok()?;
        Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

//! Backups of the conversation store, and what opening does with a damaged one.
//!
//! A backup is SQLite's own consistent copy of the live database (`VACUUM INTO`: one read
//! transaction, so answers streaming meanwhile are not held up and the copy is whole), written
//! beside the store in `backups/` under a `.partial` name and renamed once complete. One is made
//! each day the store is opened, one before every schema migration, and one on demand; the
//! newest `KEEP` are kept. A backup is checked (`PRAGMA integrity_check`, its schema no newer
//! than this build's) before it replaces the store, and the store it replaces is kept aside,
//! never overwritten. A damaged store is kept aside the same way.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::error::{Result, StoreError};
use super::{now_ms, Store, DB_FILE};

/// The folder beside the store that holds its backups.
pub const BACKUPS_DIR: &str = "backups";
/// How many backups are kept (the oldest removed past it).
pub const KEEP: usize = 10;
/// A backup is made when opening finds none newer than this.
pub const DAILY: Duration = Duration::from_secs(24 * 3600);

/// Why a backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BackupReason {
    /// The first opening of a day.
    Daily,
    /// Before the schema was migrated to this build's.
    Migration,
    /// Asked for (Settings, `fin-r1 backup create`).
    Manual,
}

impl BackupReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Migration => "migration",
            Self::Manual => "manual",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Self::Daily),
            "migration" => Some(Self::Migration),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// One backup on disk.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Backup {
    pub path: PathBuf,
    pub file_name: String,
    /// When it was made (Unix ms), from its name.
    pub created_ms: i64,
    pub size: u64,
    pub reason: BackupReason,
}

/// The backups folder of the store at `store_path`.
pub fn backups_dir(store_path: &Path) -> PathBuf {
    store_path.parent().unwrap_or_else(|| Path::new(".")).join(BACKUPS_DIR)
}

/// `conversations-<ms>-<reason>.sqlite3`.
fn backup_name(ms: i64, reason: BackupReason) -> String {
    format!("conversations-{ms:013}-{}.sqlite3", reason.as_str())
}

fn parse_name(name: &str) -> Option<(i64, BackupReason)> {
    let rest = name.strip_prefix("conversations-")?.strip_suffix(".sqlite3")?;
    let (ms, reason) = rest.split_once('-')?;
    Some((ms.parse().ok()?, BackupReason::parse(reason)?))
}

/// The backups in `dir`, newest first; files not named as backups are left alone.
pub fn list(dir: &Path) -> Vec<Backup> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<Backup> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let file_name = e.file_name().to_str()?.to_owned();
            let (created_ms, reason) = parse_name(&file_name)?;
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some(Backup { path: e.path(), file_name, created_ms, size: meta.len(), reason })
        })
        .collect();
    out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| b.file_name.cmp(&a.file_name)));
    out
}

/// Removes all but the newest `keep` backups (and partial ones a kill left behind).
pub fn prune(dir: &Path, keep: usize) {
    for b in list(dir).into_iter().skip(keep) {
        let _ = std::fs::remove_file(&b.path);
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_str().is_some_and(|n| n.starts_with("conversations-") && n.ends_with(".partial")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Backup { path: path.to_owned(), source }
}

impl Store {
    /// Makes a backup now, then keeps the newest `KEEP`.
    pub async fn backup(&self, reason: BackupReason) -> Result<Backup> {
        let dir = backups_dir(self.path());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut ms = now_ms();
        // Two backups in one millisecond (a test, a double click) get names of their own.
        while dir.join(backup_name(ms, reason)).exists() {
            ms += 1;
        }
        let path = dir.join(backup_name(ms, reason));
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let written = sqlx::query("VACUUM INTO ?1").bind(partial.to_string_lossy().into_owned()).execute(self.pool()).await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        prune(&dir, KEEP);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Backup { path, file_name, created_ms: ms, size, reason })
    }

    /// The day's backup, when there is none from the last `DAILY`.
    pub async fn backup_if_due(&self) -> Result<Option<Backup>> {
        let newest = list(&backups_dir(self.path())).first().map(|b| b.created_ms);
        if newest.is_some_and(|ms| now_ms() - ms < DAILY.as_millis() as i64) {
            return Ok(None);
        }
        self.backup(BackupReason::Daily).await.map(Some)
    }
}

/// A database file's own check: `PRAGMA integrity_check` and its schema version, read-only.
/// `Err` says what is wrong with it.
pub async fn check_file(path: &Path) -> std::result::Result<i64, String> {
    if !path.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    let opts = SqliteConnectOptions::from_str("sqlite://").map_err(|e| e.to_string())?.filename(path).read_only(true).immutable(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(|e| e.to_string())?;
    let checked: std::result::Result<i64, String> = async {
        let verdict: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&pool).await.map_err(|e| e.to_string())?;
        if verdict.first().map(String::as_str) != Some("ok") {
            return Err(verdict.into_iter().take(5).collect::<Vec<_>>().join("; "));
        }
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success").fetch_one(&pool).await.map_err(|e| e.to_string())
    }
    .await;
    pool.close().await;
    checked
}

/// Moves the store (and its WAL files) aside as `<name>.<why>-<ms>`, never overwriting it:
/// what a damaged store becomes, and what a restore does with the store it replaces. Returns
/// the new path of the database file, `None` when there was none.
pub fn set_aside(store_path: &Path, why: &str) -> Result<Option<PathBuf>> {
    if !store_path.exists() {
        return Ok(None);
    }
    let ms = now_ms();
    let name = store_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| DB_FILE.to_owned());
    let aside = store_path.with_file_name(format!("{name}.{why}-{ms}"));
    std::fs::rename(store_path, &aside).map_err(io(store_path))?;
    for suffix in ["-wal", "-shm"] {
        let side = store_path.with_file_name(format!("{name}{suffix}"));
        if side.exists() {
            let _ = std::fs::rename(&side, store_path.with_file_name(format!("{name}.{why}-{ms}{suffix}")));
        }
    }
    Ok(Some(aside))
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Restored {
    pub from: PathBuf,
    /// Where the store it replaced was kept.
    pub kept_aside: Option<PathBuf>,
}

/// Replaces the store at `store_path` with a backup, once the backup is checked whole and not
/// newer than this build; the store replaced is kept aside. The store must not be open.
pub async fn restore(store_path: &Path, backup: &Path) -> Result<Restored> {
    let version = check_file(backup).await.map_err(|why| StoreError::BadBackup { path: backup.to_owned(), why })?;
    if version > Store::schema_version() {
        return Err(StoreError::Newer { path: backup.to_owned(), found: version });
    }
    let partial = store_path.with_file_name(format!("{DB_FILE}.restoring"));
    std::fs::copy(backup, &partial).map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        StoreError::Backup { path: partial.clone(), source }
    })?;
    let kept_aside = match set_aside(store_path, "before-restore") {
        Ok(k) => k,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, store_path).map_err(io(store_path))?;
    Ok(Restored { from: backup.to_owned(), kept_aside })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_strangers_are_left_alone() {
        let name = backup_name(1_765_000_000_000, BackupReason::Migration);
        assert_eq!(parse_name(&name), Some((1_765_000_000_000, BackupReason::Migration)));
        assert_eq!(parse_name("conversations-12-weekly.sqlite3"), None);
        assert_eq!(parse_name("notes.sqlite3"), None);
        assert_eq!(parse_name("conversations-x-daily.sqlite3"), None);
    }
}

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
    // A partial copy a kill left behind; one being written now (another process's backup)
    // is younger than an hour and left alone.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let partial = e.file_name().to_str().is_some_and(|n| n.starts_with("conversations-") && n.ends_with(".partial"));
            let old = e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|age| age > Duration::from_secs(3600));
            if partial && old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The lock file beside the store.
fn lock_path(store_path: &Path) -> PathBuf {
    let name = store_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| DB_FILE.to_owned());
    store_path.with_file_name(format!("{name}.lock"))
}

fn open_lock(store_path: &Path) -> Result<std::fs::File> {
    let path = lock_path(store_path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))
}

/// Held by every open store (waits out a restore in progress).
pub(super) fn lock_shared(store_path: &Path) -> Result<std::fs::File> {
    let f = open_lock(store_path)?;
    f.lock_shared().map_err(io(&lock_path(store_path)))?;
    Ok(f)
}

/// The store to itself: `None` while any process has it open.
pub fn lock_exclusive(store_path: &Path) -> Result<Option<std::fs::File>> {
    let f = open_lock(store_path)?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&lock_path(store_path))(e)),
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
        // A name of its own, claimed by creating its partial file: two backups at once (the
        // day's and one asked for, or another process's) never share one.
        let mut ms = now_ms();
        let (path, partial) = loop {
            let path = dir.join(backup_name(ms, reason));
            let partial = path.with_extension("partial");
            if !path.exists() {
                match std::fs::OpenOptions::new().write(true).create_new(true).open(&partial) {
                    Ok(_) => break (path, partial),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(&partial)(e)),
                }
            }
            ms += 1;
        };
        // SQLite writes into a file that does not exist yet.
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
        // One from the future (a clock set wrong then) does not stop the daily ones.
        if newest.is_some_and(|ms| (0..DAILY.as_millis() as i64).contains(&(now_ms() - ms))) {
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

/// A store moved aside: where its files went, and how to put them back.
#[derive(Debug, Clone)]
pub struct Aside {
    /// The database file's new path.
    pub path: PathBuf,
    moved: Vec<(PathBuf, PathBuf)>,
}

impl Aside {
    /// Puts every file back where it was (a restore that could not finish).
    fn undo(&self) {
        for (from, to) in self.moved.iter().rev() {
            let _ = std::fs::rename(to, from);
        }
    }
}

/// Moves the store (and its WAL files) aside as `<name>.<why>-<ms>`, never overwriting it:
/// what a damaged store becomes, and what a restore does with the store it replaces. `None`
/// when there was no store. The caller holds the exclusive lock.
pub fn set_aside(store_path: &Path, why: &str) -> Result<Option<Aside>> {
    if !store_path.exists() {
        return Ok(None);
    }
    let ms = now_ms();
    let name = store_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| DB_FILE.to_owned());
    let aside = Aside { path: store_path.with_file_name(format!("{name}.{why}-{ms}")), moved: Vec::new() };
    let mut aside = aside;
    // The WAL goes with its database: a WAL left behind would be replayed onto whatever takes
    // the name next.
    for suffix in ["-wal", "-shm", ""] {
        let from = store_path.with_file_name(format!("{name}{suffix}"));
        if !from.exists() {
            continue;
        }
        let to = store_path.with_file_name(format!("{name}.{why}-{ms}{suffix}"));
        if let Err(e) = std::fs::rename(&from, &to) {
            // A WAL the last connection's close removed just now: nothing left to move (seen
            // once in CI, on a machine whose disk had filled).
            if !suffix.is_empty() && e.kind() == std::io::ErrorKind::NotFound {
                continue;
            }
            aside.undo();
            return Err(io(&from)(e));
        }
        aside.moved.push((from, to));
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
/// newer than this build; the store replaced is kept aside. Refused while any process has the
/// store open.
pub async fn restore(store_path: &Path, backup: &Path) -> Result<Restored> {
    let Some(_exclusive) = lock_exclusive(store_path)? else {
        return Err(StoreError::ReadOnly(format!("{} is open in Fin-R1 Desktop or a fin-r1 command: close them, then restore", store_path.display())));
    };
    restore_locked(store_path, backup).await
}

/// `restore`, the caller holding the exclusive lock.
pub(super) async fn restore_locked(store_path: &Path, backup: &Path) -> Result<Restored> {
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
    if let Err(e) = std::fs::rename(&partial, store_path) {
        // The store it was to replace goes back where it was: never no store at all.
        if let Some(a) = &kept_aside {
            a.undo();
        }
        let _ = std::fs::remove_file(&partial);
        return Err(io(store_path)(e));
    }
    Ok(Restored { from: backup.to_owned(), kept_aside: kept_aside.map(|a| a.path) })
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

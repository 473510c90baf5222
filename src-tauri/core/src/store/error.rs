use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the conversation store {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error(
        "the conversation store {path} was written by a newer Fin-R1 Desktop (schema version {found}); \
         update the app, or pass another --data-dir"
    )]
    Newer { path: PathBuf, found: i64 },
    #[error("updating the conversation store's schema failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("no conversation {0}")]
    NoConversation(String),
    #[error("no message {0}")]
    NoMessage(i64),
    #[error("no attached document {0}")]
    NoAttachment(i64),
    #[error("the disk is full: the conversation store could not save (free some space; nothing already saved was lost)")]
    DiskFull,
    #[error("the conversation store is read-only or locked by another program: {0}")]
    ReadOnly(String),
    #[error("the conversation store: {0}")]
    Db(sqlx::Error),
    #[error("reading the model file {path} to hash it: {source}")]
    Hash { path: PathBuf, source: std::io::Error },
    #[error("the conversation store is damaged ({why})")]
    Damaged { path: PathBuf, why: String },
    #[error("a backup of the conversation store ({path}): {source}")]
    Backup { path: PathBuf, source: std::io::Error },
    #[error("{path} cannot be restored: {why}")]
    BadBackup { path: PathBuf, why: String },
}

impl StoreError {
    /// A short, stable name for JSON output and the UI.
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::CreateDir { .. } | Self::Open { .. } => fin_r1_engine::ErrorKind::StoreOpen,
            Self::Newer { .. } => fin_r1_engine::ErrorKind::StoreNewer,
            Self::Migrate(_) => fin_r1_engine::ErrorKind::StoreMigrate,
            Self::NoConversation(_) | Self::NoMessage(_) | Self::NoAttachment(_) => fin_r1_engine::ErrorKind::NotFound,
            Self::DiskFull => fin_r1_engine::ErrorKind::DiskFull,
            Self::ReadOnly(_) => fin_r1_engine::ErrorKind::StoreReadOnly,
            Self::Db(_) => fin_r1_engine::ErrorKind::Store,
            Self::Hash { .. } => fin_r1_engine::ErrorKind::ModelHash,
            Self::Damaged { .. } | Self::BadBackup { .. } => fin_r1_engine::ErrorKind::StoreDamaged,
            Self::Backup { source, .. } => fin_r1_engine::ErrorKind::of_io(source),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // SQLite's primary result codes: 13 SQLITE_FULL, 8 SQLITE_READONLY, 5 SQLITE_BUSY.
        let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
        match code {
            Some(13) => Self::DiskFull,
            // SQLITE_CORRUPT, SQLITE_NOTADB: the file is not (any more) a whole database.
            Some(11) | Some(26) => Self::Damaged { path: PathBuf::new(), why: e.to_string() },
            Some(8) | Some(5) => Self::ReadOnly(e.to_string()),
            _ => Self::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

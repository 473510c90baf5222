//! Conversations in SQLite (sqlx): WAL, so the app and a `fin-r1` process read and write the same
//! file at once; migrations embedded and run on open; a streaming answer checkpointed about once a
//! second, and on open rows a dead process left `streaming` become `interrupted` with their text.

mod attachments;
pub mod backup;
mod error;
pub mod library;
mod rows;
mod search;
mod tool_calls;
mod types;
mod upkeep;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use attachments::{Attachment, NewAttachment};
pub use error::{Result, StoreError};
pub use library::{AnswerSource, CollectionFile, LibraryCollection, LibraryFile, LibraryFolder, LibraryHit, LibraryScope, NewLibraryFile, NewPart};
pub use tool_calls::StoredToolCall;
pub use types::{
    Conversation, ConversationSummary, EngineKind, EngineRef, LibraryModel, Message, MessageRole, MessageStatus, Outcome, Provenance, QuestionForm,
    SearchField, SearchHit,
};
pub use upkeep::{DroppedText, StoreSize};

/// The file inside the data folder.
pub const DB_FILE: &str = "conversations.sqlite3";
/// A streaming row whose writer has not checkpointed for this long belongs to a dead process.
/// Writers checkpoint at least every `CHECKPOINT_EVERY`, tokens or not.
pub const STALE_AFTER: Duration = Duration::from_secs(5);
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Soft-deleted conversations stay restorable this long (the session's undo), then go for good.
pub const PURGE_AFTER: Duration = Duration::from_secs(12 * 3600);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub use fin_r1_engine::digest::now_ms;

fn is_io_error(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
    code == Some(10)
}

/// Less than a megabyte left beside the store.
fn nearly_full(path: &Path) -> bool {
    path.parent().and_then(crate::paths::free_space).is_some_and(|free| free < 1 << 20)
}

/// SQLite said the file is not a whole database (SQLITE_CORRUPT, SQLITE_NOTADB).
fn is_damage(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
    matches!(code, Some(11) | Some(26))
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    /// A shared lock on `<store>.lock`, held while any process has the store open: a damaged
    /// store is set aside, and a backup restored, only under the exclusive lock (never beneath
    /// the app or a `fin-r1` that has the file open).
    _lock: Arc<std::fs::File>,
}

/// What opening found and repaired.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Answers a dead process left streaming, now `interrupted`.
    pub interrupted: u64,
    /// Soft-deleted conversations purged for good.
    pub purged: u64,
    /// The store was damaged: what was done about it.
    pub recovered: Option<Recovery>,
    /// The backup made before this build's migrations ran.
    pub migration_backup: Option<backup::Backup>,
}

/// A damaged store found on opening: kept aside, and the newest whole backup put in its place.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub why: String,
    /// Where the damaged file now is (it is never overwritten or removed).
    pub kept_aside: Option<PathBuf>,
    /// The backup restored; `None`: there was no whole backup, the store starts empty.
    pub restored: Option<backup::Backup>,
}

impl Recovery {
    /// What the analyst is told.
    pub fn notice(&self) -> String {
        let kept = self.kept_aside.as_ref().map(|p| format!(" It was kept as {}.", p.display())).unwrap_or_default();
        match &self.restored {
            Some(b) => format!(
                "The conversation store was damaged ({}).{kept} The backup {} was restored: work since it was made is in the damaged file only.",
                self.why, b.file_name
            ),
            None => format!("The conversation store was damaged ({}).{kept} No whole backup was found: a new, empty store was started.", self.why),
        }
    }
}

impl Store {
    /// Opens (creating) the store in a data folder.
    pub async fn open(data_dir: &Path) -> Result<(Self, OpenReport)> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir { path: data_dir.to_owned(), source })?;
        Self::open_file(&data_dir.join(DB_FILE)).await
    }

    pub async fn open_file(path: &Path) -> Result<(Self, OpenReport)> {
        let damaged = |e: StoreError| match e {
            StoreError::Damaged { why, .. } => StoreError::Damaged { path: path.to_owned(), why },
            StoreError::Open { source, .. } if is_damage(&source) => StoreError::Damaged { path: path.to_owned(), why: source.to_string() },
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(source)) if is_damage(&source) => {
                StoreError::Damaged { path: path.to_owned(), why: source.to_string() }
            }
            // SQLite says only "disk I/O error" when it cannot size its shared-memory file or
            // WAL on a full disk: the room left tells.
            StoreError::Open { source, .. } | StoreError::Db(source) if is_io_error(&source) && nearly_full(path) => StoreError::DiskFull,
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(source)) if is_io_error(&source) && nearly_full(path) => StoreError::DiskFull,
            other => other,
        };
        let store = Self::connect(path).await.map_err(damaged)?;
        let opened: Result<(Self, OpenReport)> = async {
            store.quick_check().await?;
            let applied = store.applied_version().await?;
            let migration_backup =
                if applied > 0 && applied < Self::schema_version() { Some(store.backup(backup::BackupReason::Migration).await?) } else { None };
            store.migrate(&MIGRATOR).await?;
            let report =
                OpenReport { interrupted: store.mark_interrupted().await?, purged: store.purge_deleted(PURGE_AFTER).await?, recovered: None, migration_backup };
            Ok((store.clone(), report))
        }
        .await;
        if opened.is_err() {
            store.close().await;
        }
        opened.map_err(damaged)
    }

    /// Opens the store; a damaged one (truncated, a corrupt page) is kept aside and the newest
    /// whole backup restored in its place, or a new store started when there is none. A store
    /// from a newer build, or one another program holds locked, is not touched: that is an
    /// error to show.
    pub async fn open_or_recover(data_dir: &Path) -> Result<(Self, OpenReport)> {
        let why = match Self::open(data_dir).await {
            Err(StoreError::Damaged { why, .. }) => why,
            other => return other,
        };
        let path = data_dir.join(DB_FILE);
        tracing::warn!(path = %path.display(), "the conversation store is damaged: {why}");
        // Only when no other process has it open: renaming a database beneath its users loses
        // what they write next.
        let Some(_exclusive) = backup::lock_exclusive(&path)? else {
            return Err(StoreError::Damaged {
                path,
                why: format!("{why}; another Fin-R1 process has it open: close it, then start again to restore the latest backup"),
            });
        };
        let kept_aside = backup::set_aside(&path, "damaged")?.map(|a| a.path);
        let mut restored = None;
        for b in backup::list(&backup::backups_dir(&path)) {
            match backup::restore_locked(&path, &b.path).await {
                Ok(_) => {
                    restored = Some(b);
                    break;
                }
                Err(e) => tracing::warn!(backup = %b.path.display(), "not restored: {e}"),
            }
        }
        drop(_exclusive);
        let (store, mut report) = Self::open(data_dir).await?;
        report.recovered = Some(Recovery { why, kept_aside, restored });
        Ok((store, report))
    }

    /// SQLite's quick check of every page: a damaged store is found on opening, not mid-answer.
    async fn quick_check(&self) -> Result<()> {
        let verdict: Vec<String> = sqlx::query_scalar("PRAGMA quick_check").fetch_all(&self.pool).await?;
        match verdict.first().map(String::as_str) {
            Some("ok") => Ok(()),
            _ => Err(StoreError::Damaged { path: self.path.clone(), why: verdict.into_iter().take(3).collect::<Vec<_>>().join("; ") }),
        }
    }

    /// The schema version applied, 0 for a new file.
    async fn applied_version(&self) -> Result<i64> {
        let has_table: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'").fetch_one(&self.pool).await?;
        if has_table == 0 {
            return Ok(0);
        }
        self.version().await
    }

    /// A store at an earlier schema version, as an older release left it: for migration tests.
    #[doc(hidden)]
    pub async fn open_at_version(path: &Path, version: i64) -> Result<Self> {
        let store = Self::connect(path).await?;
        let older = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(MIGRATOR.iter().filter(|m| m.version <= version).cloned().collect()),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        store.migrate(&older).await?;
        Ok(store)
    }

    /// The newest schema version this build knows.
    pub fn schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    async fn connect(path: &Path) -> Result<Self> {
        let lock = Arc::new(backup::lock_shared(path)?);
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses nothing when the process dies, only on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        Ok(Self { pool, path: path.to_owned(), _lock: lock })
    }

    async fn migrate(&self, migrator: &sqlx::migrate::Migrator) -> Result<()> {
        match migrator.run(&self.pool).await {
            Ok(()) => Ok(()),
            Err(sqlx::migrate::MigrateError::VersionMissing(found)) => Err(StoreError::Newer { path: self.path.clone(), found }),
            Err(e) => Err(StoreError::Migrate(e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applied schema version.
    pub async fn version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?)
    }

    /// Closes every connection of this store (its clones' too: they share the pool) and lets
    /// go of its lock.
    pub async fn close(&self) {
        self.pool.close().await;
        let _ = self._lock.unlock();
    }

    /// Rows left `streaming` by a process that stopped checkpointing become `interrupted`.
    pub async fn mark_interrupted(&self) -> Result<u64> {
        self.mark_interrupted_except(&[]).await
    }

    /// As `mark_interrupted`, leaving alone the answers the caller is writing itself.
    pub async fn mark_interrupted_except(&self, live: &[i64]) -> Result<u64> {
        let stale = now_ms() - STALE_AFTER.as_millis() as i64;
        let live = serde_json::to_string(live).unwrap_or_else(|_| "[]".into());
        let done = sqlx::query(
            "UPDATE messages SET status = 'interrupted', updated_at = ?1 \
             WHERE status = 'streaming' AND updated_at < ?2 AND id NOT IN (SELECT value FROM json_each(?3))",
        )
        .bind(now_ms())
        .bind(stale)
        .bind(live)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    // ---- conversations -------------------------------------------------------------------

    pub async fn create_conversation(&self, title: &str, scenario_id: Option<&str>, system_prompt: Option<&str>, model: Option<&str>) -> Result<Conversation> {
        let now = now_ms();
        let uid = uuid::Uuid::new_v4().to_string();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (uid, title, scenario_id, system_prompt, model, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
        )
        .bind(&uid)
        .bind(title)
        .bind(scenario_id)
        .bind(system_prompt)
        .bind(model)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.conversation(id).await
    }

    /// A conversation, deleted or not.
    pub async fn conversation(&self, id: i64) -> Result<Conversation> {
        let row = sqlx::query("SELECT * FROM conversations WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| rows::conversation(&r)).transpose()?.ok_or_else(|| StoreError::NoConversation(id.to_string()))
    }

    /// The conversation most recently written to (not deleted).
    pub async fn latest_conversation(&self) -> Result<Option<Conversation>> {
        let row =
            sqlx::query("SELECT * FROM conversations WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC LIMIT 1").fetch_optional(&self.pool).await?;
        Ok(row.map(|r| rows::conversation(&r)).transpose()?)
    }

    /// `ID` or `latest`, as the CLI's `--conversation` takes it.
    pub async fn resolve(&self, reference: &str) -> Result<Conversation> {
        if reference.eq_ignore_ascii_case("latest") {
            return self.latest_conversation().await?.ok_or_else(|| StoreError::NoConversation("(there are none yet)".into()));
        }
        let found = match reference.parse::<i64>() {
            Ok(id) => sqlx::query("SELECT * FROM conversations WHERE id = ?1 AND deleted_at IS NULL").bind(id),
            Err(_) => sqlx::query("SELECT * FROM conversations WHERE uid = ?1 AND deleted_at IS NULL").bind(reference),
        }
        .fetch_optional(&self.pool)
        .await?;
        found.map(|r| rows::conversation(&r)).transpose()?.ok_or_else(|| StoreError::NoConversation(reference.to_owned()))
    }

    /// Pinned first, then most recently updated.
    pub async fn list_conversations(&self, limit: i64) -> Result<Vec<ConversationSummary>> {
        let found = sqlx::query(
            "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count \
             FROM conversations c WHERE c.deleted_at IS NULL ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|r| {
                use sqlx::Row;
                Ok(ConversationSummary { conversation: rows::conversation(r)?, messages: r.try_get("message_count")? })
            })
            .collect()
    }

    pub async fn rename(&self, id: i64, title: &str) -> Result<()> {
        self.touch_conversation("UPDATE conversations SET title = ?2, updated_at = ?3 WHERE id = ?1", id, title).await
    }

    /// The sampling set for one conversation (all fields unset clears it).
    pub async fn set_conversation_sampling(&self, id: i64, sampling: &fin_r1_engine::SamplingOverrides) -> Result<()> {
        let json = (*sampling != fin_r1_engine::SamplingOverrides::default()).then(|| serde_json::to_string(sampling).unwrap_or_default());
        let done = sqlx::query("UPDATE conversations SET sampling = ?2 WHERE id = ?1").bind(id).bind(json).execute(&self.pool).await?;
        changed(done.rows_affected(), id)
    }

    pub async fn set_pinned(&self, id: i64, pinned: bool) -> Result<()> {
        let done = sqlx::query("UPDATE conversations SET pinned = ?2 WHERE id = ?1").bind(id).bind(pinned).execute(&self.pool).await?;
        changed(done.rows_affected(), id)
    }

    /// Soft delete: hidden at once, restorable until purged.
    pub async fn delete_conversation(&self, id: i64) -> Result<()> {
        let done =
            sqlx::query("UPDATE conversations SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL").bind(id).bind(now_ms()).execute(&self.pool).await?;
        changed(done.rows_affected(), id)
    }

    pub async fn restore_conversation(&self, id: i64) -> Result<()> {
        let done = sqlx::query("UPDATE conversations SET deleted_at = NULL WHERE id = ?1 AND deleted_at IS NOT NULL").bind(id).execute(&self.pool).await?;
        changed(done.rows_affected(), id)
    }

    /// Removes for good the conversations deleted longer ago than `older_than`.
    pub async fn purge_deleted(&self, older_than: Duration) -> Result<u64> {
        let before = now_ms() - older_than.as_millis() as i64;
        let done = sqlx::query("DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?1").bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn touch_conversation(&self, sql: &str, id: i64, text: &str) -> Result<()> {
        let done = sqlx::query(sql).bind(id).bind(text).bind(now_ms()).execute(&self.pool).await?;
        changed(done.rows_affected(), id)
    }

    // ---- messages ------------------------------------------------------------------------

    /// Every message of a conversation, all branches, oldest first.
    pub async fn messages(&self, conversation_id: i64) -> Result<Vec<Message>> {
        let found = sqlx::query("SELECT * FROM messages WHERE conversation_id = ?1 ORDER BY id").bind(conversation_id).fetch_all(&self.pool).await?;
        Ok(found.iter().map(rows::message).collect::<Result<_, _>>()?)
    }

    pub async fn message(&self, id: i64) -> Result<Message> {
        let row = sqlx::query("SELECT * FROM messages WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| rows::message(&r)).transpose()?.ok_or(StoreError::NoMessage(id))
    }

    /// The branch on show, root first: from the conversation's active leaf up its parents.
    pub async fn active_path(&self, conversation_id: i64) -> Result<Vec<Message>> {
        let conversation = self.conversation(conversation_id).await?;
        let all = self.messages(conversation_id).await?;
        Ok(match conversation.active_leaf_id.or_else(|| all.last().map(|m| m.id)) {
            Some(leaf) => branch(&all, leaf),
            None => Vec::new(),
        })
    }

    /// The messages from the root down to `leaf`, inclusive.
    pub async fn path_to(&self, leaf: i64) -> Result<Vec<Message>> {
        let m = self.message(leaf).await?;
        Ok(branch(&self.messages(m.conversation_id).await?, leaf))
    }

    /// Shows the branch ending at `leaf` (after the user picks an earlier answer).
    pub async fn set_active_leaf(&self, conversation_id: i64, leaf: i64) -> Result<()> {
        let m = self.message(leaf).await?;
        if m.conversation_id != conversation_id {
            return Err(StoreError::NoMessage(leaf));
        }
        sqlx::query("UPDATE conversations SET active_leaf_id = ?2 WHERE id = ?1").bind(conversation_id).bind(leaf).execute(&self.pool).await?;
        Ok(())
    }

    /// A user's question; it becomes the conversation's active leaf.
    pub async fn add_question(
        &self,
        conversation_id: i64,
        parent_id: Option<i64>,
        question: &str,
        scenario_id: Option<&str>,
        form: Option<&QuestionForm>,
    ) -> Result<Message> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, parent_id, role, content, status, scenario_id, form, created_at, updated_at) \
             VALUES (?1, ?2, 'user', ?3, 'complete', ?4, ?5, ?6, ?6) RETURNING id",
        )
        .bind(conversation_id)
        .bind(parent_id)
        .bind(question)
        .bind(scenario_id)
        .bind(form.and_then(|f| serde_json::to_string(f).ok()))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        new_leaf(&mut tx, conversation_id, id, now).await?;
        tx.commit().await?;
        self.message(id).await
    }

    /// An answer starting to stream, under the question `parent_id`.
    pub async fn begin_answer(&self, conversation_id: i64, parent_id: i64, p: &Provenance) -> Result<Message> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, parent_id, role, status, engine, model_file, model_sha256, quantization, \
             remote_url, system_prompt, sampling, seed, scenario_id, created_at, updated_at) \
             VALUES (?1, ?2, 'assistant', 'streaming', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) RETURNING id",
        )
        .bind(conversation_id)
        .bind(parent_id)
        .bind(p.engine.engine.as_str())
        .bind(&p.engine.model_file)
        .bind(&p.engine.model_sha256)
        .bind(&p.engine.quantization)
        .bind(&p.engine.remote_url)
        .bind(&p.system_prompt)
        .bind(p.sampling.as_ref().and_then(|s| serde_json::to_string(s).ok()))
        .bind(p.sampling.as_ref().and_then(|s| s.seed).map(|s| s as i64))
        .bind(&p.scenario_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        new_leaf(&mut tx, conversation_id, id, now).await?;
        tx.commit().await?;
        self.message(id).await
    }

    /// Saves a streaming answer's text so far (and proves its writer alive).
    pub async fn checkpoint(&self, id: i64, reasoning: &str, answer: &str) -> Result<()> {
        sqlx::query("UPDATE messages SET reasoning = ?2, answer = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'streaming'")
            .bind(id)
            .bind(reasoning)
            .bind(answer)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Settles a streaming answer: complete, cancelled or error, with its usage.
    pub async fn finish_answer(&self, id: i64, o: &Outcome) -> Result<Message> {
        let status = MessageStatus::from(o);
        let u = o.usage.clone().unwrap_or_default();
        let has_usage = o.usage.is_some();
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE messages SET reasoning = ?2, answer = ?3, status = ?4, stop_reason = ?5, error_kind = ?6, error_message = ?7, \
             prompt_tokens = ?8, cached_prompt_tokens = ?9, reasoning_tokens = ?10, answer_tokens = ?11, ttft_ms = ?12, \
             prefill_tok_s = ?13, decode_tok_s = ?14, total_ms = ?15, seed = COALESCE(?16, seed), updated_at = ?17, \
             model_sha256 = COALESCE(?18, model_sha256) WHERE id = ?1",
        )
        .bind(id)
        .bind(&o.reasoning)
        .bind(&o.answer)
        .bind(status.as_str())
        .bind(o.stop_reason.map(|r| r.as_str()))
        .bind(o.error.as_ref().map(|e| e.0.as_str()))
        .bind(o.error.as_ref().map(|e| &e.1))
        .bind(has_usage.then_some(u.prompt_tokens as i64))
        .bind(has_usage.then_some(u.cached_prompt_tokens as i64))
        .bind(has_usage.then_some(u.reasoning_tokens as i64))
        .bind(has_usage.then_some(u.answer_tokens as i64))
        .bind(has_usage.then_some(u.time_to_first_token_ms))
        .bind(has_usage.then_some(u.prefill_tok_s))
        .bind(has_usage.then_some(u.decode_tok_s))
        .bind(has_usage.then_some(u.total_ms))
        .bind(o.seed.map(|s| s as i64))
        .bind(now)
        .bind(&o.model_sha256)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE conversations SET updated_at = ?2 WHERE id = (SELECT conversation_id FROM messages WHERE id = ?1)")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.message(id).await
    }

    // ---- settings and per-preset state ---------------------------------------------------

    pub async fn setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1").bind(key).fetch_optional(&self.pool).await?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// A setting's stored text as it is, for readers that report a row they cannot parse.
    pub async fn setting_text(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Deletes a row that held a secret so that its bytes leave the files too: zeroed in the
    /// page (`secure_delete`), then the write-ahead log checkpointed and truncated, so the old
    /// page images it kept are gone (best effort while another connection reads).
    pub async fn forget_setting(&self, key: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await?;
        let done = sqlx::query("DELETE FROM settings WHERE key = ?1").bind(key).execute(&mut *conn).await;
        let _ = sqlx::query("PRAGMA secure_delete = OFF").execute(&mut *conn).await;
        if done?.rows_affected() > 0 {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn scenario_used(&self, id: &str) -> Result<()> {
        sqlx::query("INSERT INTO scenarios (id, last_used_at) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET last_used_at = excluded.last_used_at")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- model files ---------------------------------------------------------------------

    /// The SHA-256 of a model file, hashed once per file version (path, size, modification time).
    /// The file's SHA-256 if already recorded for its current size and time; never hashes.
    pub async fn known_model_sha256(&self, path: &Path) -> Result<Option<String>> {
        let (key, size, modified) = file_identity(path)?;
        self.recorded_sha256(&key, size, modified).await
    }

    async fn recorded_sha256(&self, key: &str, size: i64, modified: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT sha256 FROM model_files WHERE path = ?1 AND size = ?2 AND modified = ?3")
            .bind(key)
            .bind(size)
            .bind(modified)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn model_sha256(&self, path: &Path) -> Result<String> {
        let (key, size, modified) = file_identity(path)?;
        if let Some(h) = self.recorded_sha256(&key, size, modified).await? {
            return Ok(h);
        }
        let owned = path.to_owned();
        let hash = tokio::task::spawn_blocking(move || sha256_file(&owned))
            .await
            .map_err(|e| StoreError::Hash { path: path.to_owned(), source: std::io::Error::other(e.to_string()) })?
            .map_err(|source| StoreError::Hash { path: path.to_owned(), source })?;
        sqlx::query(
            "INSERT INTO model_files (path, size, modified, sha256) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (path) DO UPDATE SET size = excluded.size, modified = excluded.modified, sha256 = excluded.sha256",
        )
        .bind(&key)
        .bind(size)
        .bind(modified)
        .bind(&hash)
        .execute(&self.pool)
        .await?;
        Ok(hash)
    }

    /// Writes a whole conversation read from a file: messages in order, each `parent` an
    /// index of an earlier one. The uid is kept unless another conversation has it.
    pub async fn insert_conversation(&self, c: &Conversation, messages: &[(Message, Option<usize>)], active: Option<usize>) -> Result<Conversation> {
        let mut tx = self.pool.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE uid = ?1").bind(&c.uid).fetch_optional(&mut *tx).await?;
        let uid = if taken.is_some() { uuid::Uuid::new_v4().to_string() } else { c.uid.clone() };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (uid, title, scenario_id, system_prompt, model, pinned, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(&uid)
        .bind(&c.title)
        .bind(&c.scenario_id)
        .bind(&c.system_prompt)
        .bind(&c.model)
        .bind(c.pinned)
        .bind(c.created_at)
        .bind(c.updated_at)
        .fetch_one(&mut *tx)
        .await?;
        let mut ids: Vec<i64> = Vec::with_capacity(messages.len());
        for (m, parent) in messages {
            let e = m.engine.clone().unwrap_or_default();
            let new_id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (conversation_id, parent_id, role, content, reasoning, answer, status, stop_reason, error_kind, \
                 error_message, prompt_tokens, cached_prompt_tokens, reasoning_tokens, answer_tokens, ttft_ms, prefill_tok_s, \
                 decode_tok_s, total_ms, engine, model_file, model_sha256, quantization, remote_url, system_prompt, sampling, seed, \
                 scenario_id, form, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                 ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30) RETURNING id",
            )
            .bind(id)
            .bind(parent.and_then(|p| ids.get(p).copied()))
            .bind(m.role.as_str())
            .bind(&m.content)
            .bind(&m.reasoning)
            .bind(&m.answer)
            .bind(m.status.as_str())
            .bind(m.stop_reason.map(|r| r.as_str()))
            .bind(m.error_kind.map(|k| k.as_str()))
            .bind(&m.error_message)
            .bind(m.prompt_tokens)
            .bind(m.cached_prompt_tokens)
            .bind(m.reasoning_tokens)
            .bind(m.answer_tokens)
            .bind(m.ttft_ms)
            .bind(m.prefill_tok_s)
            .bind(m.decode_tok_s)
            .bind(m.total_ms)
            .bind(m.engine.as_ref().map(|_| e.engine.as_str()))
            .bind(&e.model_file)
            .bind(&e.model_sha256)
            .bind(&e.quantization)
            .bind(&e.remote_url)
            .bind(&m.system_prompt)
            .bind(m.sampling.as_ref().and_then(|s| serde_json::to_string(s).ok()))
            .bind(m.seed.map(|s| s as i64))
            .bind(&m.scenario_id)
            .bind(m.form.as_ref().and_then(|f| serde_json::to_string(f).ok()))
            .bind(m.created_at)
            .bind(m.updated_at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(new_id);
        }
        sqlx::query("UPDATE conversations SET active_leaf_id = ?2 WHERE id = ?1")
            .bind(id)
            .bind(active.and_then(|a| ids.get(a).copied()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.conversation(id).await
    }

    // ---- the model library ----------------------------------------------------------------

    /// Adds (or refreshes) a checked model file.
    pub async fn add_model(&self, m: &LibraryModel) -> Result<()> {
        sqlx::query(
            "INSERT INTO models (path, file_name, size, sha256, name, architecture, quantization, n_params, context, source, repo, added_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (path) DO UPDATE SET \
             file_name = excluded.file_name, size = excluded.size, sha256 = excluded.sha256, name = excluded.name, \
             architecture = excluded.architecture, quantization = excluded.quantization, n_params = excluded.n_params, \
             context = excluded.context, source = excluded.source, repo = excluded.repo",
        )
        .bind(&m.path)
        .bind(&m.file_name)
        .bind(m.size)
        .bind(&m.sha256)
        .bind(&m.name)
        .bind(&m.architecture)
        .bind(&m.quantization)
        .bind(m.n_params)
        .bind(m.context)
        .bind(&m.source)
        .bind(&m.repo)
        .bind(m.added_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn models(&self) -> Result<Vec<LibraryModel>> {
        let found = sqlx::query("SELECT * FROM models ORDER BY added_at DESC, id DESC").fetch_all(&self.pool).await?;
        Ok(found.iter().map(rows::library_model).collect::<Result<_, _>>()?)
    }

    /// How fast the engine decoded here: the median, over the last 20 complete local answers of
    /// 32 tokens or more on files of 1 GB or more, of the bytes a second each read; with
    /// how many answers it is from. Smaller files are left out: their speed is the engine's
    /// overhead, not the memory's pace.
    pub async fn measured_decode(&self) -> Result<Option<(f64, u32)>> {
        let found: Vec<(f64, i64)> = sqlx::query_as(
            "SELECT decode_tok_s, size FROM (SELECT m.id, m.decode_tok_s, \
             (SELECT MAX(d.size) FROM models d WHERE d.sha256 = m.model_sha256) AS size FROM messages m \
             WHERE m.role = 'assistant' AND m.engine = 'local' AND m.status = 'complete' AND m.decode_tok_s > 0 \
             AND COALESCE(m.reasoning_tokens, 0) + COALESCE(m.answer_tokens, 0) >= 32) \
             WHERE size >= 1000000000 ORDER BY id DESC LIMIT 20",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut rates: Vec<f64> =
            found.into_iter().filter_map(|(tok_s, size)| crate::catalog::Speed::bytes_per_s_of(tok_s, u64::try_from(size).unwrap_or(0))).collect();
        rates.retain(|r| *r > 0.0);
        if rates.is_empty() {
            return Ok(None);
        }
        rates.sort_by(f64::total_cmp);
        Ok(Some((rates[rates.len() / 2], rates.len() as u32)))
    }

    /// Forgets a model (the file stays where it is); false if it was not in the library.
    pub async fn remove_model(&self, path: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM models WHERE path = ?1").bind(path).execute(&self.pool).await?.rows_affected() > 0)
    }

    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        search::search(&self.pool, query, limit).await
    }
}

/// An update that touched no row named a conversation that is not there (or not in the state
/// the change needs).
fn changed(rows: u64, id: i64) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NoConversation(id.to_string()));
    }
    Ok(())
}

/// A message just added becomes the end of the branch on show.
async fn new_leaf(tx: &mut sqlx::SqliteConnection, conversation_id: i64, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE conversations SET active_leaf_id = ?2, updated_at = ?3 WHERE id = ?1").bind(conversation_id).bind(id).bind(now).execute(tx).await?;
    Ok(())
}

/// Root-first chain of parents ending at `leaf`; a cycle (only a corrupt file could hold one)
/// stops the walk instead of looping.
fn branch(all: &[Message], leaf: i64) -> Vec<Message> {
    let mut path = Vec::new();
    let mut cursor = Some(leaf);
    while let Some(id) = cursor {
        let Some(m) = all.iter().find(|m| m.id == id) else { break };
        if path.len() > all.len() {
            break;
        }
        path.push(m.clone());
        cursor = m.parent_id;
    }
    path.reverse();
    path
}

pub use fin_r1_engine::digest::sha256_file;

/// A model file as `model_files` records it: path, size, modification time (ms).
fn file_identity(path: &Path) -> Result<(String, i64, i64)> {
    let meta = std::fs::metadata(path).map_err(|source| StoreError::Hash { path: path.to_owned(), source })?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as i64).unwrap_or(0);
    Ok((path.to_string_lossy().into_owned(), meta.len() as i64, modified))
}

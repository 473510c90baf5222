//! The store kept small: what takes its room (conversations, documents' text, the library),
//! dropping the read text of old attachments (their names, sizes and SHA-256 stay, so reports
//! still name them), and compacting the file and its write-ahead log.

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::{now_ms, Store};

/// What the store's files hold, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StoreSize {
    /// The database file.
    pub file_bytes: u64,
    /// Its write-ahead log (folded into the file by a compaction).
    pub wal_bytes: u64,
    /// Pages the file holds free (given back by a compaction).
    pub free_bytes: u64,
    /// Attached documents' text, as read and as the prompts carried it.
    pub documents_bytes: u64,
    pub documents: u64,
    /// Documents whose text can still be dropped (not dropped already).
    pub documents_with_text: u64,
    /// The library's passages.
    pub library_bytes: u64,
    /// Questions, reasoning and answers.
    pub messages_bytes: u64,
}

/// What dropping old documents' text did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DroppedText {
    pub documents: u64,
    pub bytes: u64,
}

impl Store {
    pub async fn store_size(&self) -> Result<StoreSize> {
        let (file_bytes, wal_bytes) = self.file_and_wal();
        let page: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&self.pool).await?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&self.pool).await?;
        let (documents, documents_bytes, with_text): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(text AS BLOB)) + LENGTH(CAST(included AS BLOB)) + (CASE WHEN originals = '[]' THEN 0 ELSE LENGTH(CAST(originals AS BLOB)) END)), 0), COALESCE(SUM(text <> ''), 0) FROM attachments",
        )
        .fetch_one(&self.pool)
        .await?;
        let library: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM library_parts").fetch_one(&self.pool).await?;
        let messages: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(LENGTH(CAST(content AS BLOB)) + LENGTH(CAST(reasoning AS BLOB)) + LENGTH(CAST(answer AS BLOB))), 0) FROM messages",
        )
        .fetch_one(&self.pool)
        .await?;
        let u = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(StoreSize {
            file_bytes,
            wal_bytes,
            free_bytes: u(page.saturating_mul(free)),
            documents_bytes: u(documents_bytes),
            documents: u(documents),
            documents_with_text: u(with_text),
            library_bytes: u(library),
            messages_bytes: u(messages),
        })
    }

    /// Drops the whole text read from documents attached more than `days` ago (0: all of
    /// them). What each prompt carried of them stays (it is what the model saw: regenerating,
    /// continuing and the reports still have it); their names, sizes and SHA-256 stay, and they
    /// are still found by name and by what the prompt carried.
    pub async fn drop_document_text(&self, days: u32) -> Result<DroppedText> {
        let before = now_ms() - i64::from(days) * 86_400_000;
        let mut tx = self.pool.begin().await?;
        let (documents, bytes): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(text AS BLOB)) + (CASE WHEN originals = '[]' THEN 0 ELSE LENGTH(CAST(originals AS BLOB)) END)), 0) FROM attachments WHERE created_at <= ?1 AND text <> ''")
                .bind(before)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM attachment_search WHERE rowid IN (SELECT id FROM attachments WHERE created_at <= ?1 AND text <> '')")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO attachment_search (rowid, text) SELECT id, file_name || char(10) || included FROM attachments WHERE created_at <= ?1 AND text <> ''",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE attachments SET text = '', originals = '[]', \
             notes = json_insert(CASE WHEN json_valid(notes) THEN notes ELSE '[]' END, '$[#]', 'the whole text read was dropped to keep the store small (what the prompt carried is kept)') \
             WHERE created_at <= ?1 AND text <> ''",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DroppedText { documents: u64::try_from(documents).unwrap_or(0), bytes: u64::try_from(bytes).unwrap_or(0) })
    }

    /// Folds the write-ahead log into the file and rewrites the file without its free pages;
    /// returns the bytes given back. Waits for readers; needs free disk about the file's size.
    pub async fn compact(&self) -> Result<u64> {
        let before = self.file_bytes();
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
        drop(conn);
        Ok(before.saturating_sub(self.file_bytes()))
    }

    /// The database file and its write-ahead log, in bytes.
    fn file_and_wal(&self) -> (u64, u64) {
        let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        (len(&self.path), len(std::path::Path::new(&wal)))
    }

    fn file_bytes(&self) -> u64 {
        let (file, wal) = self.file_and_wal();
        file + wal
    }
}

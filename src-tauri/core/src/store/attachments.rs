//! Documents attached to questions: stored with everything read from them and what of them the
//! prompt carried.

use fin_r1_documents::{DocumentKind, DocumentMeta, SheetGrid};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::error::Result;
use super::{now_ms, Store};

/// One attached file as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Attachment {
    pub id: i64,
    pub message_id: i64,
    #[serde(flatten)]
    pub meta: DocumentMeta,
    /// "all of report.xlsx", or which parts went into the prompt.
    pub included_summary: String,
}

/// An attachment to store: the file as read, and the text the prompt carries.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub meta: DocumentMeta,
    /// Everything read from the file (Markdown).
    pub text: String,
    pub included: String,
    pub included_summary: String,
    /// Where the file was read from (none for a conversation imported from a file).
    pub path: Option<String>,
    /// A workbook's sheets as laid out in its file.
    pub originals: Vec<SheetGrid>,
}

/// What an attachment's original view needs: the file's identity and where it was, and a
/// workbook's grids.
#[derive(Debug, Clone)]
pub struct AttachmentOriginal {
    pub file_name: String,
    pub kind: DocumentKind,
    pub sha256: String,
    pub path: Option<String>,
    pub originals: Vec<SheetGrid>,
}

impl Store {
    pub async fn add_attachments(&self, message_id: i64, files: &[NewAttachment]) -> Result<Vec<Attachment>> {
        let mut tx = self.pool.begin().await?;
        // After any the question already holds (an edit's kept documents come first).
        let first: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE message_id = ?1").bind(message_id).fetch_one(&mut *tx).await?;
        for (i, f) in files.iter().enumerate() {
            sqlx::query(
                "INSERT INTO attachments (message_id, position, file_name, kind, size, sha256, notes, text, included, included_summary, created_at, pages, path, originals) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .bind(message_id)
            .bind(first + i as i64)
            .bind(&f.meta.file_name)
            .bind(f.meta.kind.as_str())
            .bind(i64::try_from(f.meta.size).unwrap_or(i64::MAX))
            .bind(&f.meta.sha256)
            .bind(serde_json::to_string(&f.meta.notes).unwrap_or_else(|_| "[]".into()))
            .bind(&f.text)
            .bind(&f.included)
            .bind(&f.included_summary)
            .bind(now_ms())
            .bind(f.meta.pages.map(i64::from))
            .bind(&f.path)
            .bind(serde_json::to_string(&f.originals).unwrap_or_else(|_| "[]".into()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(self.attachments_of(message_id).await?.into_iter().map(|(a, _)| a).collect())
    }

    /// One attachment's whole extracted text and the part of it its prompt carried.
    pub async fn attachment_text(&self, id: i64) -> Result<(String, String)> {
        let r = sqlx::query("SELECT text, included FROM attachments WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?;
        match r {
            Some(r) => Ok((r.try_get("text")?, r.try_get("included")?)),
            None => Err(super::error::StoreError::NoAttachment(id)),
        }
    }

    /// What an attachment's original view is drawn from.
    pub async fn attachment_original(&self, id: i64) -> Result<AttachmentOriginal> {
        let r = sqlx::query("SELECT file_name, kind, sha256, path, originals FROM attachments WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?;
        let Some(r) = r else { return Err(super::error::StoreError::NoAttachment(id)) };
        let kind: String = r.try_get("kind")?;
        let originals: String = r.try_get("originals")?;
        Ok(AttachmentOriginal {
            file_name: r.try_get("file_name")?,
            kind: DocumentKind::parse(&kind),
            sha256: r.try_get("sha256")?,
            path: r.try_get("path")?,
            originals: serde_json::from_str(&originals).unwrap_or_default(),
        })
    }

    /// A question's attachments in the order attached, each with the text its prompt carried.
    pub async fn attachments_of(&self, message_id: i64) -> Result<Vec<(Attachment, String)>> {
        self.query_attachments("WHERE message_id = ?1", message_id).await
    }

    /// Every attachment of a conversation (all branches), with the text each prompt carried.
    pub async fn conversation_attachments(&self, conversation_id: i64) -> Result<Vec<(Attachment, String)>> {
        self.query_attachments("WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?1)", conversation_id).await
    }

    /// Copies a question's attachments to another (an edited question keeps its documents).
    /// Copies a question's documents to another (an edit of it): all of them, or only those
    /// whose ids are in `keep`.
    pub async fn copy_attachments(&self, from: i64, to: i64, keep: Option<&[i64]>) -> Result<()> {
        let keep = keep.map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()));
        sqlx::query(
            "INSERT INTO attachments (message_id, position, file_name, kind, size, sha256, notes, text, included, included_summary, created_at, pages, path, originals) \
             SELECT ?2, position, file_name, kind, size, sha256, notes, text, included, included_summary, ?3, pages, path, originals FROM attachments \
             WHERE message_id = ?1 AND (?4 IS NULL OR id IN (SELECT value FROM json_each(?4)))",
        )
        .bind(from)
        .bind(to)
        .bind(now_ms())
        .bind(keep)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn query_attachments(&self, filter: &str, id: i64) -> Result<Vec<(Attachment, String)>> {
        let sql = format!(
            "SELECT id, message_id, file_name, kind, size, pages, sha256, notes, included, included_summary FROM attachments {filter} ORDER BY message_id, position"
        );
        let mut out = Vec::new();
        for r in sqlx::query(&sql).bind(id).fetch_all(&self.pool).await? {
            let notes: String = r.try_get("notes")?;
            let kind: String = r.try_get("kind")?;
            let size: i64 = r.try_get("size")?;
            let pages: Option<i64> = r.try_get("pages")?;
            out.push((
                Attachment {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    meta: DocumentMeta {
                        file_name: r.try_get("file_name")?,
                        kind: DocumentKind::parse(&kind),
                        size: u64::try_from(size).unwrap_or(0),
                        pages: pages.and_then(|p| u32::try_from(p).ok()),
                        sha256: r.try_get("sha256")?,
                        notes: serde_json::from_str(&notes).unwrap_or_default(),
                    },
                    included_summary: r.try_get("included_summary")?,
                },
                r.try_get("included")?,
            ));
        }
        Ok(out)
    }
}

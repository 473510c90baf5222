//! The library of filings in the store: folders, their files, each file's parts in an FTS5
//! trigram index (Chinese has no spaces; a trigram index finds its words as it finds English
//! ones), and the parts each answer was given, kept as its numbered sources.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::error::Result;
use super::{now_ms, Store};

/// Where a question's passages are looked for: the whole library, one folder, one collection
/// (both given: the collection's files in that folder).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryScope {
    #[serde(default)]
    pub folder: Option<i64>,
    #[serde(default)]
    pub collection: Option<i64>,
}

/// A hand-picked set of the library's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryCollection {
    pub id: i64,
    pub name: String,
    pub files: Vec<CollectionFile>,
}

/// A collection's member: its path and the library's status for it (`missing` where the
/// library no longer holds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CollectionFile {
    pub path: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryFolder {
    pub id: i64,
    pub path: String,
    /// `ok`, or `missing` (gone at the last scan; its parts are kept until it is removed).
    pub status: String,
    pub added_at: i64,
    pub scanned_at: Option<i64>,
    pub files: i64,
    pub indexed: i64,
    pub refused: i64,
    pub parts: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryFile {
    pub id: i64,
    pub folder_id: i64,
    pub path: String,
    pub file_name: String,
    pub kind: String,
    pub size: i64,
    pub mtime: i64,
    pub sha256: String,
    pub pages: Option<i64>,
    /// `indexed`, `refused` (the reader's reason in `error`) or `missing`.
    pub status: String,
    pub error: Option<String>,
    pub notes: Vec<String>,
    pub parts: i64,
}

/// A part to store: where it is in its file and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPart {
    pub page: Option<u32>,
    pub label: String,
    pub text: String,
    pub tokens: usize,
}

/// A file as read, to store with its parts (replacing what was stored for its path).
#[derive(Debug, Clone)]
pub struct NewLibraryFile<'a> {
    pub folder_id: i64,
    pub path: &'a str,
    pub file_name: &'a str,
    pub kind: &'a str,
    pub size: u64,
    pub mtime: i64,
    pub sha256: &'a str,
    pub pages: Option<u32>,
    pub error: Option<&'a str>,
    pub notes: &'a [String],
}

/// A part found for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryHit {
    pub part_id: i64,
    pub file_id: i64,
    pub path: String,
    pub file_name: String,
    pub sha256: String,
    pub page: Option<i64>,
    pub label: String,
    pub text: String,
    pub tokens: i64,
    /// FTS5's bm25: lower is better.
    pub rank: f64,
}

/// A source an answer was given: `[n]` in its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AnswerSource {
    pub message_id: i64,
    pub n: i64,
    pub part_id: Option<i64>,
    pub path: String,
    pub file_name: String,
    pub page: Option<i64>,
    pub label: String,
    pub sha256: String,
    pub text: String,
}

const FOLDER_COLUMNS: &str = "f.id, f.path, f.status, f.added_at, f.scanned_at, \
    (SELECT COUNT(*) FROM library_files x WHERE x.folder_id = f.id) AS files, \
    (SELECT COUNT(*) FROM library_files x WHERE x.folder_id = f.id AND x.status = 'indexed') AS indexed, \
    (SELECT COUNT(*) FROM library_files x WHERE x.folder_id = f.id AND x.status = 'refused') AS refused, \
    (SELECT COUNT(*) FROM library_parts p JOIN library_files x ON x.id = p.file_id WHERE x.folder_id = f.id) AS parts, \
    (SELECT COALESCE(SUM(x.pages), 0) FROM library_files x WHERE x.folder_id = f.id AND x.status = 'indexed') AS pages";

fn folder(r: &sqlx::sqlite::SqliteRow) -> LibraryFolder {
    LibraryFolder {
        id: r.get("id"),
        path: r.get("path"),
        status: r.get("status"),
        added_at: r.get("added_at"),
        scanned_at: r.get("scanned_at"),
        files: r.get("files"),
        indexed: r.get("indexed"),
        refused: r.get("refused"),
        parts: r.get("parts"),
        pages: r.get("pages"),
    }
}

fn hit(r: &sqlx::sqlite::SqliteRow) -> LibraryHit {
    LibraryHit {
        part_id: r.get("part_id"),
        file_id: r.get("file_id"),
        path: r.get("path"),
        file_name: r.get("file_name"),
        sha256: r.get("sha256"),
        page: r.get("page"),
        label: r.get("label"),
        text: r.get("text"),
        tokens: r.get("tokens"),
        rank: r.get("rank"),
    }
}

/// The two-character words of a question's Chinese (its bigrams, less question words).
pub fn chinese_bigrams(question: &str) -> Vec<String> {
    const STOP: &[&str] = &["多少", "什么", "哪些", "如何", "怎么", "是否", "为什", "是多", "么是", "请问", "一下", "的是", "是什", "有哪", "哪个", "分别"];
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut Vec<String>| {
        for w in run.windows(2) {
            let s: String = w.iter().collect();
            if !STOP.contains(&s.as_str()) && !out.contains(&s) && out.len() < 16 {
                out.push(s);
            }
        }
        run.clear();
    };
    for c in question.chars() {
        if is_han(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn file(r: &sqlx::sqlite::SqliteRow) -> LibraryFile {
    let notes: String = r.get("notes");
    LibraryFile {
        id: r.get("id"),
        folder_id: r.get("folder_id"),
        path: r.get("path"),
        file_name: r.get("file_name"),
        kind: r.get("kind"),
        size: r.get("size"),
        mtime: r.get("mtime"),
        sha256: r.get("sha256"),
        pages: r.get("pages"),
        status: r.get("status"),
        error: r.get("error"),
        notes: serde_json::from_str(&notes).unwrap_or_default(),
        parts: r.get("parts"),
    }
}

/// The words of a question as an FTS5 expression: any of them (ranked by bm25), each quoted.
/// Latin words and numbers of three characters or more; a run of Chinese as its trigrams (a
/// two-character Chinese word alone is too short for the index and finds nothing).
pub fn retrieval_query(question: &str) -> Option<String> {
    const STOP: &[&str] = &[
        "the", "and", "for", "with", "what", "which", "that", "this", "from", "was", "were", "are", "how", "why", "when", "does", "did", "its", "their",
        "about", "into", "than", "then", "there", "these", "those", "have", "has", "had", "been", "will", "would", "could", "should", "any", "all", "per",
        "our", "you",
    ];
    let mut terms: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !terms.contains(&t) && terms.len() < 64 {
            terms.push(t);
        }
    };
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, push: &mut dyn FnMut(String)| {
        let w = word.to_lowercase();
        if w.chars().count() >= 3 && !STOP.contains(&w.as_str()) {
            push(w);
        }
        word.clear();
    };
    let flush_cjk = |cjk: &mut Vec<char>, push: &mut dyn FnMut(String)| {
        if cjk.len() >= 3 {
            for w in cjk.windows(3) {
                push(w.iter().collect());
            }
        }
        cjk.clear();
    };
    for c in question.chars() {
        if is_han(c) {
            flush_word(&mut word, &mut push);
            cjk.push(c);
        } else if c.is_alphanumeric() || c == '.' && !word.is_empty() {
            flush_cjk(&mut cjk, &mut push);
            word.push(c);
        } else {
            flush_word(&mut word, &mut push);
            flush_cjk(&mut cjk, &mut push);
        }
    }
    flush_word(&mut word, &mut push);
    flush_cjk(&mut cjk, &mut push);
    let quoted: Vec<String> = terms
        .into_iter()
        .map(|t| t.trim_end_matches('.').to_owned())
        // A trigram index cannot hold a shorter term.
        .filter(|t| t.chars().count() >= 3)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

/// A Chinese character, not its punctuation (`chunks::is_cjk` counts that too): what a word
/// of a question is made of.
fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF)
}

impl Store {
    /// Adds a folder (or returns the one already there for this path).
    pub async fn add_library_folder(&self, path: &str) -> Result<LibraryFolder> {
        sqlx::query("INSERT INTO library_folders (path, added_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING")
            .bind(path)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(&format!("SELECT {FOLDER_COLUMNS} FROM library_folders f WHERE f.path = ?1")).bind(path).fetch_one(&self.pool).await?;
        Ok(folder(&row))
    }

    pub async fn library_folders(&self) -> Result<Vec<LibraryFolder>> {
        let rows = sqlx::query(&format!("SELECT {FOLDER_COLUMNS} FROM library_folders f ORDER BY f.path")).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(folder).collect())
    }

    pub async fn library_folder(&self, id: i64) -> Result<Option<LibraryFolder>> {
        let row = sqlx::query(&format!("SELECT {FOLDER_COLUMNS} FROM library_folders f WHERE f.id = ?1")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(folder))
    }

    /// Removes a folder with its files and parts (answers keep their copied sources).
    pub async fn remove_library_folder(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM library_folders WHERE id = ?1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn set_library_folder_scanned(&self, id: i64, status: &str) -> Result<()> {
        sqlx::query("UPDATE library_folders SET status = ?2, scanned_at = ?3 WHERE id = ?1").bind(id).bind(status).bind(now_ms()).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn library_files(&self, folder_id: i64) -> Result<Vec<LibraryFile>> {
        let rows = sqlx::query(
            "SELECT f.*, (SELECT COUNT(*) FROM library_parts p WHERE p.file_id = f.id) AS parts FROM library_files f WHERE f.folder_id = ?1 ORDER BY f.path",
        )
        .bind(folder_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(file).collect())
    }

    /// Stores a file as read, with its parts, in place of what was stored for its path; a
    /// refused file (`error`) is stored with its reason and no parts.
    pub async fn put_library_file(&self, f: &NewLibraryFile<'_>, parts: &[NewPart]) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM library_files WHERE path = ?1").bind(f.path).execute(&mut *tx).await?;
        let status = if f.error.is_some() { "refused" } else { "indexed" };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO library_files (folder_id, path, file_name, kind, size, mtime, sha256, pages, status, error, notes, indexed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        )
        .bind(f.folder_id)
        .bind(f.path)
        .bind(f.file_name)
        .bind(f.kind)
        .bind(i64::try_from(f.size).unwrap_or(i64::MAX))
        .bind(f.mtime)
        .bind(f.sha256)
        .bind(f.pages.map(i64::from))
        .bind(status)
        .bind(f.error)
        .bind(serde_json::to_string(f.notes).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        for (i, p) in parts.iter().enumerate() {
            sqlx::query("INSERT INTO library_parts (file_id, position, page, label, text, tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .bind(id)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(p.page.map(i64::from))
                .bind(&p.label)
                .bind(&p.text)
                .bind(i64::try_from(p.tokens).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// A file unchanged but for its time (same size and hash): only the time is kept.
    pub async fn touch_library_file(&self, id: i64, mtime: i64) -> Result<()> {
        sqlx::query("UPDATE library_files SET mtime = ?2 WHERE id = ?1").bind(id).bind(mtime).execute(&self.pool).await?;
        Ok(())
    }

    /// A file gone from its folder: its parts go (they can no longer be opened), the row stays
    /// so the folder's list says what went.
    pub async fn mark_library_file_missing(&self, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM library_parts WHERE file_id = ?1").bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE library_files SET status = 'missing' WHERE id = ?1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn forget_library_file(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM library_files WHERE id = ?1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// The parts that best match `question` (bm25 over the trigram index), within `scope`, at
    /// most `limit`.
    pub async fn search_library(&self, scope: LibraryScope, question: &str, limit: usize) -> Result<Vec<LibraryHit>> {
        let Some(expr) = retrieval_query(question) else { return Ok(Vec::new()) };
        let rows = sqlx::query(
            "SELECT p.id AS part_id, p.file_id, f.path, f.file_name, f.sha256, p.page, p.label, p.text, p.tokens, bm25(library_search) AS rank \
             FROM library_search s JOIN library_parts p ON p.id = s.rowid JOIN library_files f ON f.id = p.file_id \
             WHERE library_search MATCH ?1 AND (?2 IS NULL OR f.folder_id = ?2) \
             AND (?4 IS NULL OR f.path IN (SELECT path FROM library_collection_files WHERE collection_id = ?4)) ORDER BY rank LIMIT ?3",
        )
        .bind(expr)
        .bind(scope.folder)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(scope.collection)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(hit).collect())
    }

    /// Parts holding any of `words` (LIKE: the two-character Chinese words a trigram index
    /// cannot hold), each scored by how many of them it holds, best first.
    pub async fn search_library_words(&self, scope: LibraryScope, words: &[String], limit: usize) -> Result<Vec<LibraryHit>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let any: Vec<String> = (0..words.len()).map(|i| format!("p.text LIKE ?{} ESCAPE '\\'", i + 4)).collect();
        let sql = format!(
            "SELECT p.id AS part_id, p.file_id, f.path, f.file_name, f.sha256, p.page, p.label, p.text, p.tokens, 0.0 AS rank \
             FROM library_parts p JOIN library_files f ON f.id = p.file_id \
             WHERE (?1 IS NULL OR f.folder_id = ?1) \
             AND (?3 IS NULL OR f.path IN (SELECT path FROM library_collection_files WHERE collection_id = ?3)) AND ({}) LIMIT ?2",
            any.join(" OR ")
        );
        let mut q = sqlx::query(&sql).bind(scope.folder).bind(i64::try_from(limit.saturating_mul(4)).unwrap_or(i64::MAX)).bind(scope.collection);
        for w in words {
            q = q.bind(format!("%{}%", w.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut hits: Vec<LibraryHit> = rows.iter().map(hit).collect();
        for h in &mut hits {
            h.rank = -(words.iter().filter(|w| h.text.contains(w.as_str())).count() as f64);
        }
        hits.sort_by(|a, b| a.rank.total_cmp(&b.rank));
        hits.truncate(limit);
        Ok(hits)
    }

    /// Every collection, by name, with its members' paths.
    pub async fn library_collections(&self) -> Result<Vec<LibraryCollection>> {
        let rows = sqlx::query("SELECT id, name FROM library_collections ORDER BY name COLLATE NOCASE").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get("id");
            out.push(LibraryCollection { id, name: r.get("name"), files: self.collection_members(id).await? });
        }
        Ok(out)
    }

    async fn collection_members(&self, id: i64) -> Result<Vec<CollectionFile>> {
        let rows = sqlx::query(
            "SELECT c.path, f.status FROM library_collection_files c LEFT JOIN library_files f ON f.path = c.path \
             WHERE c.collection_id = ?1 ORDER BY c.path",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| CollectionFile { path: r.get("path"), status: r.get::<Option<String>, _>("status").unwrap_or_else(|| "missing".into()) })
            .collect())
    }

    /// The collection named `name`, made if there is none, with `paths` added to it.
    pub async fn add_to_collection(&self, name: &str, paths: &[String]) -> Result<LibraryCollection> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO library_collections (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM library_collections WHERE name = ?1").bind(name).fetch_one(&mut *tx).await?;
        for p in paths {
            sqlx::query("INSERT OR IGNORE INTO library_collection_files (collection_id, path) VALUES (?1, ?2)").bind(id).bind(p).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(LibraryCollection { id, name: name.to_owned(), files: self.collection_members(id).await? })
    }

    /// Takes `paths` out of a collection (not out of the library); returns those it did not
    /// hold.
    pub async fn remove_from_collection(&self, id: i64, paths: &[String]) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let mut absent = Vec::new();
        for p in paths {
            let gone = sqlx::query("DELETE FROM library_collection_files WHERE collection_id = ?1 AND path = ?2").bind(id).bind(p).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                absent.push(p.clone());
            }
        }
        tx.commit().await?;
        Ok(absent)
    }

    /// Deletes a collection (its files stay in the library).
    pub async fn delete_collection(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM library_collections WHERE id = ?1").bind(id).execute(&self.pool).await?.rows_affected() > 0)
    }

    /// The library's file at `path`, if it holds one.
    pub async fn library_file_at(&self, path: &str) -> Result<Option<LibraryFile>> {
        let row = sqlx::query("SELECT f.*, (SELECT COUNT(*) FROM library_parts p WHERE p.file_id = f.id) AS parts FROM library_files f WHERE f.path = ?1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(file))
    }

    pub async fn add_answer_sources(&self, message_id: i64, sources: &[AnswerSource]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for s in sources {
            sqlx::query("INSERT OR REPLACE INTO answer_sources (message_id, n, part_id, path, file_name, page, label, sha256, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .bind(message_id)
                .bind(s.n)
                .bind(s.part_id)
                .bind(&s.path)
                .bind(&s.file_name)
                .bind(s.page)
                .bind(&s.label)
                .bind(&s.sha256)
                .bind(&s.text)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Source `n` of one answer.
    pub async fn answer_source(&self, message_id: i64, n: i64) -> Result<Option<AnswerSource>> {
        let row = sqlx::query("SELECT * FROM answer_sources WHERE message_id = ?1 AND n = ?2").bind(message_id).bind(n).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(source))
    }

    /// Every source of a conversation's answers, by answer then number.
    pub async fn conversation_sources(&self, conversation_id: i64) -> Result<Vec<AnswerSource>> {
        let rows =
            sqlx::query("SELECT s.* FROM answer_sources s JOIN messages m ON m.id = s.message_id WHERE m.conversation_id = ?1 ORDER BY s.message_id, s.n")
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(source).collect())
    }
}

fn source(r: &sqlx::sqlite::SqliteRow) -> AnswerSource {
    AnswerSource {
        message_id: r.get("message_id"),
        n: r.get("n"),
        part_id: r.get("part_id"),
        path: r.get("path"),
        file_name: r.get("file_name"),
        page: r.get("page"),
        label: r.get("label"),
        sha256: r.get("sha256"),
        text: r.get("text"),
    }
}

#[cfg(test)]
mod tests {
    use super::retrieval_query;

    #[test]
    fn a_question_becomes_its_words_and_trigrams() {
        assert_eq!(retrieval_query("What was the net interest margin in 2023?").as_deref(), Some("\"net\" OR \"interest\" OR \"margin\" OR \"2023\""));
        assert_eq!(retrieval_query("净利润增长").as_deref(), Some("\"净利润\" OR \"利润增\" OR \"润增长\""));
        assert_eq!(retrieval_query("现值"), None);
        assert_eq!(super::chinese_bigrams("贷款利率是多少？"), vec!["贷款", "款利", "利率", "率是"]);
        assert_eq!(retrieval_query("? !"), None);
        assert_eq!(retrieval_query("say \"OR\" NEAR(").as_deref(), Some("\"say\" OR \"near\""));
    }
}

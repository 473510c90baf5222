//! Search over titles, questions, reasoning and answers. Every word of the query must occur;
//! words of three characters or more go through the FTS5 trigram index, shorter ones (a
//! two-character Chinese word such as 现值) through LIKE on the same table, since a trigram index
//! cannot hold them.

use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::error::Result;
use super::types::{SearchField, SearchHit};

struct Query {
    /// FTS5 expression over the long words, if any.
    matching: Option<String>,
    /// LIKE patterns for the short words.
    likes: Vec<String>,
    words: Vec<String>,
}

fn parse(query: &str) -> Query {
    let words: Vec<String> = query.split_whitespace().map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned()).filter(|w| !w.is_empty()).collect();
    let long: Vec<String> = words.iter().filter(|w| w.chars().count() >= 3).map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    let likes =
        words.iter().filter(|w| w.chars().count() < 3).map(|w| format!("%{}%", w.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))).collect();
    Query { matching: (!long.is_empty()).then(|| long.join(" AND ")), likes, words }
}

/// `columns` of the FTS table `table`, aliased `s`.
fn conditions(q: &Query, table: &str, columns: &[&str]) -> String {
    let mut sql = String::new();
    if q.matching.is_some() {
        sql.push_str(&format!(" AND {table} MATCH ?"));
    }
    for _ in &q.likes {
        let any: Vec<String> = columns.iter().map(|c| format!("s.{c} LIKE ? ESCAPE '\\'")).collect();
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    sql
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    q: &'q Query,
    columns: usize,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    if let Some(m) = &q.matching {
        query = query.bind(m);
    }
    for l in &q.likes {
        for _ in 0..columns {
            query = query.bind(l);
        }
    }
    query
}

/// Where in `text` the first query word occurs, with context, on one line.
fn snippet(text: &str, words: &[String]) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = words.iter().filter_map(|w| lower.find(&w.to_ascii_lowercase())).min()?;
    let start = text[..at].char_indices().rev().nth(40).map(|(i, _)| i).unwrap_or(0);
    let end = text[at..].char_indices().nth(80).map(|(i, _)| at + i).unwrap_or(text.len());
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.push_str(&text[start..end].split_whitespace().collect::<Vec<_>>().join(" "));
    if end < text.len() {
        s.push('…');
    }
    Some(s)
}

pub async fn search(pool: &SqlitePool, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
    let q = parse(query);
    if q.words.is_empty() {
        return Ok(Vec::new());
    }
    let limit = limit.max(1) as i64;
    let mut hits = Vec::new();

    let sql = format!(
        "SELECT c.id, c.title, c.updated_at FROM conversation_search s JOIN conversations c ON c.id = s.rowid \
         WHERE c.deleted_at IS NULL{} ORDER BY c.updated_at DESC LIMIT ?",
        conditions(&q, "conversation_search", &["title"])
    );
    for r in bind_all(sqlx::query(&sql), &q, 1).bind(limit).fetch_all(pool).await? {
        let title: String = r.try_get("title")?;
        hits.push(SearchHit {
            conversation_id: r.try_get("id")?,
            snippet: title.clone(),
            title,
            message_id: None,
            field: SearchField::Title,
            updated_at: r.try_get("updated_at")?,
        });
    }

    let sql = format!(
        "SELECT m.id, m.conversation_id, m.role, s.content, m.reasoning, m.answer, c.title, c.updated_at \
         FROM message_search s JOIN messages m ON m.id = s.rowid JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.deleted_at IS NULL{} ORDER BY c.updated_at DESC, m.id DESC LIMIT ?",
        conditions(&q, "message_search", &["content", "reasoning", "answer"])
    );
    for r in bind_all(sqlx::query(&sql), &q, 3).bind(limit).fetch_all(pool).await? {
        let content: String = r.try_get("content")?;
        let reasoning: String = r.try_get("reasoning")?;
        let answer: String = r.try_get("answer")?;
        let (field, snippet) = [(SearchField::Question, &content), (SearchField::Answer, &answer), (SearchField::Reasoning, &reasoning)]
            .into_iter()
            .find_map(|(f, t)| snippet(t, &q.words).map(|s| (f, s)))
            .unwrap_or((SearchField::Answer, String::new()));
        hits.push(SearchHit {
            conversation_id: r.try_get("conversation_id")?,
            title: r.try_get("title")?,
            message_id: Some(r.try_get("id")?),
            field,
            snippet,
            updated_at: r.try_get("updated_at")?,
        });
    }

    let sql = format!(
        "SELECT a.message_id, m.conversation_id, a.file_name, s.text, c.title, c.updated_at \
         FROM attachment_search s JOIN attachments a ON a.id = s.rowid JOIN messages m ON m.id = a.message_id \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.deleted_at IS NULL{} ORDER BY c.updated_at DESC, a.id DESC LIMIT ?",
        conditions(&q, "attachment_search", &["text"])
    );
    for r in bind_all(sqlx::query(&sql), &q, 1).bind(limit).fetch_all(pool).await? {
        let text: String = r.try_get("text")?;
        let file: String = r.try_get("file_name")?;
        hits.push(SearchHit {
            conversation_id: r.try_get("conversation_id")?,
            title: r.try_get("title")?,
            message_id: Some(r.try_get("message_id")?),
            field: SearchField::Attachment,
            snippet: format!("{file}: {}", snippet(&text, &q.words).unwrap_or_default()),
            updated_at: r.try_get("updated_at")?,
        });
    }
    hits.truncate(limit as usize);
    Ok(hits)
}

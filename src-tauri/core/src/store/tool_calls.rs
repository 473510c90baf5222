//! The tools an answer called, each with its arguments and what it gave (or why it did not run).

use fin_r1_engine::{ToolCall, ToolResult, ToolStatus};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::error::Result;
use super::{now_ms, Store};

/// One call of an answer, as stored and as the window's folded card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StoredToolCall {
    pub message_id: i64,
    pub call: ToolCall,
    pub result: ToolResult,
}

fn status_text(s: ToolStatus) -> &'static str {
    match s {
        ToolStatus::Done => "done",
        ToolStatus::Error => "error",
        ToolStatus::Denied => "denied",
        ToolStatus::Timeout => "timeout",
    }
}

fn status_of(s: &str) -> ToolStatus {
    match s {
        "done" => ToolStatus::Done,
        "denied" => ToolStatus::Denied,
        "timeout" => ToolStatus::Timeout,
        _ => ToolStatus::Error,
    }
}

impl Store {
    /// Stores a call and its result, after those the answer made before.
    pub async fn add_tool_call(&self, message_id: i64, call: &ToolCall, result: &ToolResult) -> Result<()> {
        sqlx::query(
            "INSERT INTO tool_calls (message_id, position, call_id, name, arguments, source, status, result, ms, created_at) \
             VALUES (?1, (SELECT COUNT(*) FROM tool_calls WHERE message_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(message_id)
        .bind(&call.id)
        .bind(&call.name)
        .bind(call.arguments.to_string())
        .bind(&result.source)
        .bind(status_text(result.status))
        .bind(&result.content)
        .bind(i64::try_from(result.ms).unwrap_or(i64::MAX))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every tool call of a conversation's answers, in order.
    pub async fn conversation_tool_calls(&self, conversation_id: i64) -> Result<Vec<StoredToolCall>> {
        let rows = sqlx::query(
            "SELECT message_id, call_id, name, arguments, source, status, result, ms FROM tool_calls \
             WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?1) ORDER BY message_id, position",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let name: String = r.get("name");
                let arguments: String = r.get("arguments");
                StoredToolCall {
                    message_id: r.get("message_id"),
                    call: ToolCall {
                        id: r.get("call_id"),
                        name: name.clone(),
                        arguments: serde_json::from_str(&arguments).unwrap_or(serde_json::Value::String(arguments)),
                    },
                    result: ToolResult {
                        id: r.get("call_id"),
                        name,
                        source: r.get("source"),
                        status: status_of(r.get::<String, _>("status").as_str()),
                        content: r.get("result"),
                        ms: u64::try_from(r.get::<i64, _>("ms")).unwrap_or(0),
                    },
                }
            })
            .collect())
    }
}

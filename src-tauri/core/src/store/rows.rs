//! Rows to values. A value the schema's CHECKs allow but this build does not know is a decode
//! error, not a panic.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::types::{Conversation, EngineKind, EngineRef, LibraryModel, Message, MessageRole, MessageStatus};

fn bad(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: format!("unknown value {value:?}").into() }
}

pub fn conversation(r: &SqliteRow) -> Result<Conversation, sqlx::Error> {
    Ok(Conversation {
        id: r.try_get("id")?,
        uid: r.try_get("uid")?,
        title: r.try_get("title")?,
        scenario_id: r.try_get("scenario_id")?,
        system_prompt: r.try_get("system_prompt")?,
        model: r.try_get("model")?,
        pinned: r.try_get("pinned")?,
        active_leaf_id: r.try_get("active_leaf_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at: r.try_get("deleted_at")?,
        // A value an older or newer build wrote that does not parse counts as none set.
        sampling: r.try_get::<Option<String>, _>("sampling")?.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
    })
}

pub fn message(r: &SqliteRow) -> Result<Message, sqlx::Error> {
    let role: String = r.try_get("role")?;
    let status: String = r.try_get("status")?;
    let engine: Option<String> = r.try_get("engine")?;
    let sampling: Option<String> = r.try_get("sampling")?;
    let form: Option<String> = r.try_get("form")?;
    let seed: Option<i64> = r.try_get("seed")?;
    let stop_reason: Option<String> = r.try_get("stop_reason")?;
    let error_kind: Option<String> = r.try_get("error_kind")?;
    Ok(Message {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        parent_id: r.try_get("parent_id")?,
        role: MessageRole::parse(&role).ok_or_else(|| bad("role", &role))?,
        content: r.try_get("content")?,
        reasoning: r.try_get("reasoning")?,
        answer: r.try_get("answer")?,
        status: MessageStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        // Older rows say "interrupted" here (the status says it now): not a stop reason.
        stop_reason: stop_reason.as_deref().and_then(fin_r1_engine::StopReason::parse),
        error_kind: error_kind.as_deref().map(fin_r1_engine::ErrorKind::parse),
        error_message: r.try_get("error_message")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        cached_prompt_tokens: r.try_get("cached_prompt_tokens")?,
        reasoning_tokens: r.try_get("reasoning_tokens")?,
        answer_tokens: r.try_get("answer_tokens")?,
        ttft_ms: r.try_get("ttft_ms")?,
        prefill_tok_s: r.try_get("prefill_tok_s")?,
        decode_tok_s: r.try_get("decode_tok_s")?,
        total_ms: r.try_get("total_ms")?,
        engine: match engine {
            None => None,
            Some(engine) => Some(EngineRef {
                engine: EngineKind::parse(&engine).unwrap_or_default(),
                model_file: r.try_get("model_file")?,
                model_sha256: r.try_get("model_sha256")?,
                quantization: r.try_get("quantization")?,
                remote_url: r.try_get("remote_url")?,
            }),
        },
        system_prompt: r.try_get("system_prompt")?,
        sampling: sampling.and_then(|s| serde_json::from_str(&s).ok()),
        seed: seed.map(|s| s as u64),
        scenario_id: r.try_get("scenario_id")?,
        form: form.and_then(|f| serde_json::from_str(&f).ok()),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub fn library_model(r: &SqliteRow) -> Result<LibraryModel, sqlx::Error> {
    Ok(LibraryModel {
        path: r.try_get("path")?,
        file_name: r.try_get("file_name")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        name: r.try_get("name")?,
        architecture: r.try_get("architecture")?,
        quantization: r.try_get("quantization")?,
        n_params: r.try_get("n_params")?,
        context: r.try_get("context")?,
        source: r.try_get("source")?,
        repo: r.try_get("repo")?,
        added_at: r.try_get("added_at")?,
    })
}

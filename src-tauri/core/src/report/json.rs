//! The conversation file: a documented, versioned JSON that imports back into the app. All
//! branches travel; messages refer to their parent by position in the file, not by database
//! id, so export → import → export gives the same bytes apart from the export time.
//!
//! ```text
//! { "format": "fin-r1-conversation", "version": 1, "app_version": "0.1.0", "exported_at": ms,
//!   "conversation": { "uid", "title", "scenario_id", "system_prompt", "model", "pinned",
//!                     "created_at", "updated_at" },
//!   "active_leaf": index | null,
//!   "messages": [ { "index", "parent": index | null, "role", "content", "reasoning", "answer",
//!                   "status", "stop_reason", "error_kind", "error_message", "prompt_tokens",
//!                   "cached_prompt_tokens", "reasoning_tokens", "answer_tokens", "ttft_ms",
//!                   "prefill_tok_s", "decode_tok_s", "total_ms", "engine", "system_prompt",
//!                   "sampling", "seed", "scenario_id", "form", "created_at", "updated_at" } ] }
//! ```
//! Times are Unix milliseconds. A reader refuses another `format` and a newer `version`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Conversation, Message, Store, StoreError};

pub const FORMAT: &str = "fin-r1-conversation";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationMeta {
    pub uid: String,
    pub title: String,
    pub scenario_id: Option<String>,
    pub system_prompt: Option<String>,
    pub model: Option<String>,
    pub pinned: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationFile {
    pub format: String,
    pub version: u32,
    pub app_version: String,
    pub exported_at: i64,
    pub conversation: ConversationMeta,
    pub active_leaf: Option<usize>,
    pub messages: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("not a conversation file: {0}")]
    Parse(String),
    #[error("a {found:?} file, not a Fin-R1 conversation ({FORMAT:?})")]
    Format { found: String },
    #[error("written by a newer Fin-R1 Desktop (conversation file version {0}; this one reads {VERSION}): update the app")]
    Newer(u32),
    #[error("message {index}: {problem}")]
    Message { index: usize, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A whole conversation (every branch) as the file.
pub async fn to_json(store: &Store, conversation_id: i64) -> Result<String, JsonError> {
    let c = store.conversation(conversation_id).await?;
    let messages = store.messages(conversation_id).await?;
    let index_of = |id: i64| messages.iter().position(|m| m.id == id);
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let mut v = serde_json::to_value(m).map_err(|e| JsonError::Parse(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.remove("id");
            o.remove("conversation_id");
            o.remove("parent_id");
            o.insert("index".into(), i.into());
            o.insert("parent".into(), m.parent_id.and_then(index_of).map(Value::from).unwrap_or(Value::Null));
        }
        out.push(v);
    }
    let file = ConversationFile {
        format: FORMAT.into(),
        version: VERSION,
        app_version: env!("CARGO_PKG_VERSION").into(),
        exported_at: crate::store::now_ms(),
        active_leaf: c.active_leaf_id.and_then(index_of),
        conversation: ConversationMeta {
            uid: c.uid,
            title: c.title,
            scenario_id: c.scenario_id,
            system_prompt: c.system_prompt,
            model: c.model,
            pinned: c.pinned,
            created_at: c.created_at,
            updated_at: c.updated_at,
        },
        messages: out,
    };
    serde_json::to_string_pretty(&file).map_err(|e| JsonError::Parse(e.to_string()))
}

pub fn from_json(text: &str) -> Result<ConversationFile, JsonError> {
    let v: Value = serde_json::from_str(text).map_err(|e| JsonError::Parse(e.to_string()))?;
    let format = v["format"].as_str().unwrap_or_default();
    if format != FORMAT {
        return Err(JsonError::Format { found: format.to_owned() });
    }
    let version = v["version"].as_u64().unwrap_or(0) as u32;
    if version > VERSION {
        return Err(JsonError::Newer(version));
    }
    serde_json::from_value(v).map_err(|e| JsonError::Parse(e.to_string()))
}

/// Imports a conversation file as a new conversation (its uid kept unless the store has it
/// already); returns the new conversation.
pub async fn import(store: &Store, file: &ConversationFile) -> Result<Conversation, JsonError> {
    let mut messages = Vec::with_capacity(file.messages.len());
    for (i, v) in file.messages.iter().enumerate() {
        let parent = match &v["parent"] {
            Value::Null => None,
            p => match p.as_u64() {
                Some(p) if (p as usize) < i => Some(p as usize),
                _ => return Err(JsonError::Message { index: i, problem: "its parent must be an earlier message".into() }),
            },
        };
        let mut o = v.clone();
        if let Some(map) = o.as_object_mut() {
            map.remove("index");
            map.remove("parent");
            map.insert("id".into(), 0.into());
            map.insert("conversation_id".into(), 0.into());
            map.insert("parent_id".into(), Value::Null);
        }
        let m: Message = serde_json::from_value(o).map_err(|e| JsonError::Message { index: i, problem: e.to_string() })?;
        messages.push((m, parent));
    }
    if file.active_leaf.is_some_and(|a| a >= messages.len()) {
        return Err(JsonError::Message { index: file.active_leaf.unwrap_or(0), problem: "active_leaf points past the messages".into() });
    }
    let c = &file.conversation;
    let conv = Conversation {
        id: 0,
        uid: c.uid.clone(),
        title: c.title.clone(),
        scenario_id: c.scenario_id.clone(),
        system_prompt: c.system_prompt.clone(),
        model: c.model.clone(),
        pinned: c.pinned,
        active_leaf_id: None,
        created_at: c.created_at,
        updated_at: c.updated_at,
        deleted_at: None,
    };
    Ok(store.insert_conversation(&conv, &messages, file.active_leaf).await?)
}

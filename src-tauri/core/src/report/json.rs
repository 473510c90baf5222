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
//!                   "sampling", "seed", "scenario_id", "form", "created_at", "updated_at",
//!                   "attachments": [ { "file_name", "kind", "size", "pages", "sha256",
//!                                      "notes", "text", "included", "included_summary" } ] } ] }
//! ```
//! Times are Unix milliseconds. A reader refuses another `format` and a newer `version`.
//! Version 2 adds a question's attached documents (everything read from each, and what the
//! prompt carried); a conversation without any is still written as version 1, byte for byte,
//! so an older app reads it, and one with documents is refused by an older app rather than
//! imported without them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Conversation, EngineRef, Message, MessageRole, MessageStatus, Store, StoreError};

pub const FORMAT: &str = "fin-r1-conversation";
/// The newest version this app reads and writes.
pub const VERSION: u32 = 2;

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
    pub messages: Vec<FileMessage>,
}

/// A message as file format v1 writes it. The file owns these types (and the nested ones)
/// rather than serialising the store's: renaming a store field must not change the format,
/// which `tests/fixtures/conversation-v1.json` pins. Fields are in alphabetical order, the
/// order the first v1 files were written in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileMessage {
    pub answer: String,
    pub answer_tokens: Option<i64>,
    pub cached_prompt_tokens: Option<i64>,
    pub content: String,
    pub created_at: i64,
    pub decode_tok_s: Option<f64>,
    pub engine: Option<FileEngine>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub form: Option<Value>,
    pub index: usize,
    pub parent: Option<usize>,
    pub prefill_tok_s: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub reasoning: String,
    pub reasoning_tokens: Option<i64>,
    /// "system", "user" or "assistant".
    pub role: String,
    pub sampling: Option<FileSampling>,
    pub scenario_id: Option<String>,
    pub seed: Option<u64>,
    /// "streaming", "complete", "cancelled", "interrupted" or "error".
    pub status: String,
    pub stop_reason: Option<String>,
    pub system_prompt: Option<String>,
    pub total_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub updated_at: i64,
    /// Version 2: documents attached to a question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<FileAttachment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileAttachment {
    pub file_name: String,
    pub kind: String,
    pub size: u64,
    pub pages: Option<u32>,
    pub sha256: String,
    pub notes: Vec<String>,
    /// Everything read from the file.
    pub text: String,
    /// What the question's prompt carried of it.
    pub included: String,
    pub included_summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEngine {
    pub engine: String,
    pub model_file: Option<String>,
    pub model_sha256: Option<String>,
    pub quantization: Option<String>,
    pub remote_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileSampling {
    pub max_tokens: usize,
    pub repetition_penalty: f32,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
}

impl FileMessage {
    fn from_store(m: &Message, index: usize, parent: Option<usize>) -> Self {
        Self {
            index,
            parent,
            role: m.role.as_str().to_owned(),
            content: m.content.clone(),
            reasoning: m.reasoning.clone(),
            answer: m.answer.clone(),
            status: m.status.as_str().to_owned(),
            stop_reason: m.stop_reason.map(|r| r.as_str().to_owned()),
            error_kind: m.error_kind.map(|k| k.as_str().to_owned()),
            error_message: m.error_message.clone(),
            prompt_tokens: m.prompt_tokens,
            cached_prompt_tokens: m.cached_prompt_tokens,
            reasoning_tokens: m.reasoning_tokens,
            answer_tokens: m.answer_tokens,
            ttft_ms: m.ttft_ms,
            prefill_tok_s: m.prefill_tok_s,
            decode_tok_s: m.decode_tok_s,
            total_ms: m.total_ms,
            engine: m.engine.as_ref().map(|e| FileEngine {
                engine: e.engine.clone(),
                model_file: e.model_file.clone(),
                model_sha256: e.model_sha256.clone(),
                quantization: e.quantization.clone(),
                remote_url: e.remote_url.clone(),
            }),
            system_prompt: m.system_prompt.clone(),
            sampling: m.sampling.as_ref().map(|s| FileSampling {
                temperature: s.temperature,
                top_p: s.top_p,
                top_k: s.top_k,
                repetition_penalty: s.repetition_penalty,
                max_tokens: s.max_tokens,
                seed: s.seed,
                stop: s.stop.clone(),
            }),
            seed: m.seed,
            scenario_id: m.scenario_id.clone(),
            form: m.form.as_ref().and_then(|f| serde_json::to_value(f).ok()),
            created_at: m.created_at,
            updated_at: m.updated_at,
            attachments: Vec::new(),
        }
    }

    fn to_store(&self) -> Result<Message, String> {
        Ok(Message {
            id: 0,
            conversation_id: 0,
            parent_id: None,
            role: MessageRole::parse(&self.role).ok_or_else(|| format!("role {:?}: system, user or assistant", self.role))?,
            content: self.content.clone(),
            reasoning: self.reasoning.clone(),
            answer: self.answer.clone(),
            status: MessageStatus::parse(&self.status).ok_or_else(|| format!("status {:?} is not one this app writes", self.status))?,
            stop_reason: self.stop_reason.as_deref().and_then(fin_r1_engine::StopReason::parse),
            error_kind: self.error_kind.as_deref().map(fin_r1_engine::ErrorKind::parse),
            error_message: self.error_message.clone(),
            prompt_tokens: self.prompt_tokens,
            cached_prompt_tokens: self.cached_prompt_tokens,
            reasoning_tokens: self.reasoning_tokens,
            answer_tokens: self.answer_tokens,
            ttft_ms: self.ttft_ms,
            prefill_tok_s: self.prefill_tok_s,
            decode_tok_s: self.decode_tok_s,
            total_ms: self.total_ms,
            engine: self.engine.as_ref().map(|e| EngineRef {
                engine: e.engine.clone(),
                model_file: e.model_file.clone(),
                model_sha256: e.model_sha256.clone(),
                quantization: e.quantization.clone(),
                remote_url: e.remote_url.clone(),
            }),
            system_prompt: self.system_prompt.clone(),
            sampling: self.sampling.as_ref().map(|s| fin_r1_engine::SamplingParams {
                temperature: s.temperature,
                top_p: s.top_p,
                top_k: s.top_k,
                repetition_penalty: s.repetition_penalty,
                max_tokens: s.max_tokens,
                seed: s.seed,
                stop: s.stop.clone(),
            }),
            seed: self.seed,
            scenario_id: self.scenario_id.clone(),
            form: self.form.as_ref().and_then(|f| serde_json::from_value(f.clone()).ok()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
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
    let mut out: Vec<FileMessage> = messages.iter().enumerate().map(|(i, m)| FileMessage::from_store(m, i, m.parent_id.and_then(index_of))).collect();
    for (a, included) in store.conversation_attachments(conversation_id).await? {
        let (text, _) = store.attachment_text(a.id).await?;
        if let Some(i) = index_of(a.message_id) {
            out[i].attachments.push(FileAttachment {
                file_name: a.file_name,
                kind: a.kind,
                size: u64::try_from(a.size).unwrap_or(0),
                pages: a.pages.and_then(|p| u32::try_from(p).ok()),
                sha256: a.sha256,
                notes: a.notes,
                text,
                included,
                included_summary: a.included_summary,
            });
        }
    }
    let with_documents = out.iter().any(|m| !m.attachments.is_empty());
    let file = ConversationFile {
        format: FORMAT.into(),
        version: if with_documents { 2 } else { 1 },
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
    for (i, m) in file.messages.iter().enumerate() {
        let parent = match m.parent {
            None => None,
            Some(p) if p < i => Some(p),
            Some(_) => return Err(JsonError::Message { index: i, problem: "its parent must be an earlier message".into() }),
        };
        let msg = m.to_store().map_err(|problem| JsonError::Message { index: i, problem })?;
        messages.push((msg, parent));
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
        sampling: Default::default(),
    };
    let created = store.insert_conversation(&conv, &messages, file.active_leaf).await?;
    if file.messages.iter().any(|m| !m.attachments.is_empty()) {
        // Messages are stored in the file's order: the i-th stored is the file's i-th.
        let stored = store.messages(created.id).await?;
        for (m, s) in file.messages.iter().zip(&stored) {
            if m.attachments.is_empty() {
                continue;
            }
            let files: Vec<crate::store::NewAttachment> = m
                .attachments
                .iter()
                .map(|a| crate::store::NewAttachment {
                    file_name: a.file_name.clone(),
                    kind: a.kind.clone(),
                    size: a.size,
                    pages: a.pages,
                    sha256: a.sha256.clone(),
                    notes: a.notes.clone(),
                    text: a.text.clone(),
                    included: a.included.clone(),
                    included_summary: a.included_summary.clone(),
                })
                .collect();
            store.add_attachments(s.id, &files).await?;
        }
    }
    Ok(created)
}

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
//! imported without them. Version 3 adds an answer's tool calls, each with its result
//! (`"tool_calls": [ { "call": { "id", "name", "arguments" }, "result": { "id", "name",
//! "source", "status", "content", "ms" } } ]`); written only where there are any.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use fin_r1_core::store::{Conversation, EngineRef, Message, MessageRole, MessageStatus, Store, StoreError};

pub const FORMAT: &str = "fin-r1-conversation";
/// The newest version this app reads and writes.
pub const VERSION: u32 = 3;

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
    /// Version 3: the tools an answer called, in order, with what each gave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<FileToolCall>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileToolCall {
    pub call: fin_r1_engine::ToolCall,
    pub result: fin_r1_engine::ToolResult,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileAttachment {
    #[serde(flatten)]
    pub meta: fin_r1_core::documents::DocumentMeta,
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
                engine: e.engine.as_str().to_owned(),
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
            tool_calls: Vec::new(),
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
                engine: fin_r1_core::store::EngineKind::parse(&e.engine).unwrap_or_default(),
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
    #[error("{what} is {size} {unit}; a conversation file may have at most {max}")]
    TooLarge { what: String, size: usize, max: usize, unit: &'static str },
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
            out[i].attachments.push(FileAttachment { meta: a.meta, text, included, included_summary: a.included_summary });
        }
    }
    for c in store.conversation_tool_calls(conversation_id).await? {
        if let Some(i) = index_of(c.message_id) {
            out[i].tool_calls.push(FileToolCall { call: c.call, result: c.result });
        }
    }
    let with_documents = out.iter().any(|m| !m.attachments.is_empty());
    let with_tools = out.iter().any(|m| !m.tool_calls.is_empty());
    let file = ConversationFile {
        format: FORMAT.into(),
        version: if with_tools {
            3
        } else if with_documents {
            2
        } else {
            1
        },
        app_version: env!("CARGO_PKG_VERSION").into(),
        exported_at: fin_r1_core::store::now_ms(),
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
    // The header first, every other field skipped unread (no tree of the whole file is built:
    // a file of numbers would cost many times its size), then the file into its own types.
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        format: Option<Value>,
        #[serde(default)]
        version: Option<Value>,
    }
    let h: Header = serde_json::from_str(text).map_err(|e| JsonError::Parse(e.to_string()))?;
    let format = h.format.as_ref().and_then(Value::as_str).unwrap_or_default();
    if format != FORMAT {
        return Err(JsonError::Format { found: format.chars().take(100).collect() });
    }
    let version = h.version.as_ref().and_then(Value::as_u64).map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
    if version > VERSION {
        return Err(JsonError::Newer(version));
    }
    serde_json::from_str(text).map_err(|e| JsonError::Parse(e.to_string()))
}

/// What a conversation file may hold, whatever it declares: a file from elsewhere must not put
/// a 50 MB title in every list, nor more in the store than the app itself would write.
pub mod bounds {
    /// The file itself (an answer of 16 MB with its documents' text fits many times).
    pub const FILE_BYTES: u64 = 256 << 20;
    pub const TITLE_CHARS: usize = 10_000;
    pub const NAME_CHARS: usize = 1_000;
    /// A question, a reasoning chain, an answer, a system prompt, an error message.
    pub const TEXT_BYTES: usize = 16 << 20;
    pub const MESSAGES: usize = 100_000;
    pub const ATTACHMENTS: usize = 64;
    pub const NOTES: usize = 1_000;
    pub const NOTE_CHARS: usize = 4_000;
    /// Tool calls of one answer: far more rounds than the runner makes.
    pub const TOOL_CALLS: usize = 256;
}

fn too_large(what: impl Into<String>, size: usize, max: usize, unit: &'static str) -> JsonError {
    JsonError::TooLarge { what: what.into(), size, max, unit }
}

fn bounded_chars(what: &str, s: &str, max: usize) -> Result<(), JsonError> {
    // Bytes bound characters from above: most strings are decided without counting.
    if s.len() > max && s.chars().count() > max {
        return Err(too_large(what, s.chars().count(), max, "characters"));
    }
    Ok(())
}

fn bounded_bytes(what: &str, s: &str, max: usize) -> Result<(), JsonError> {
    if s.len() > max {
        return Err(too_large(what, s.len(), max, "bytes"));
    }
    Ok(())
}

/// Every field of a file within `bounds`, or the first one past them, named.
pub fn check_bounds(file: &ConversationFile) -> Result<(), JsonError> {
    use bounds::*;
    let c = &file.conversation;
    bounded_chars("the title", &c.title, TITLE_CHARS)?;
    bounded_chars("the conversation's uid", &c.uid, NAME_CHARS)?;
    for (what, v) in [("the scenario id", &c.scenario_id), ("the model name", &c.model)] {
        bounded_chars(what, v.as_deref().unwrap_or_default(), NAME_CHARS)?;
    }
    bounded_bytes("the system prompt", c.system_prompt.as_deref().unwrap_or_default(), TEXT_BYTES)?;
    if file.messages.len() > MESSAGES {
        return Err(too_large("the message list", file.messages.len(), MESSAGES, "messages"));
    }
    for (i, m) in file.messages.iter().enumerate() {
        let at = |what: &str| format!("message {i}'s {what}");
        for (what, v) in [("question or answer", &m.content), ("reasoning", &m.reasoning), ("answer", &m.answer)] {
            bounded_bytes(&at(what), v, TEXT_BYTES)?;
        }
        for (what, v) in [("system prompt", &m.system_prompt), ("error message", &m.error_message)] {
            bounded_bytes(&at(what), v.as_deref().unwrap_or_default(), TEXT_BYTES)?;
        }
        for (what, v) in [("scenario id", &m.scenario_id), ("error kind", &m.error_kind), ("stop reason", &m.stop_reason)] {
            bounded_chars(&at(what), v.as_deref().unwrap_or_default(), NAME_CHARS)?;
        }
        if let Some(f) = &m.form {
            bounded_bytes(&at("form"), &f.to_string(), TEXT_BYTES)?;
        }
        if m.attachments.len() > ATTACHMENTS {
            return Err(too_large(at("document list"), m.attachments.len(), ATTACHMENTS, "documents"));
        }
        if m.tool_calls.len() > TOOL_CALLS {
            return Err(too_large(at("tool call list"), m.tool_calls.len(), TOOL_CALLS, "calls"));
        }
        for t in &m.tool_calls {
            for (what, v) in [("tool call id", &t.call.id), ("tool name", &t.call.name), ("tool source", &t.result.source)] {
                bounded_chars(&at(what), v, NAME_CHARS)?;
            }
            bounded_bytes(&at("tool arguments"), &t.call.arguments.to_string(), TEXT_BYTES)?;
            bounded_bytes(&at("tool result"), &t.result.content, TEXT_BYTES)?;
        }
        for a in &m.attachments {
            bounded_chars(&at("document name"), &a.meta.file_name, NAME_CHARS)?;
            bounded_chars(&at("document hash"), &a.meta.sha256, NAME_CHARS)?;
            for (what, v) in [("document text", &a.text), ("document part", &a.included)] {
                bounded_bytes(&at(what), v, TEXT_BYTES)?;
            }
            bounded_chars(&at("document summary"), &a.included_summary, NAME_CHARS)?;
            if a.meta.notes.len() > NOTES {
                return Err(too_large(at("document notes"), a.meta.notes.len(), NOTES, "notes"));
            }
            for n in &a.meta.notes {
                bounded_chars(&at("document note"), n, NOTE_CHARS)?;
            }
        }
    }
    Ok(())
}

/// Reads a conversation file from disk, refusing one larger than `bounds::FILE_BYTES` before
/// reading it.
pub fn read_file(path: &std::path::Path) -> Result<ConversationFile, JsonError> {
    let size = std::fs::metadata(path).map_err(|e| JsonError::Parse(format!("{}: {e}", path.display())))?.len();
    if size > bounds::FILE_BYTES {
        return Err(too_large(path.display().to_string(), usize::try_from(size).unwrap_or(usize::MAX), bounds::FILE_BYTES as usize, "bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| JsonError::Parse(format!("{}: {e}", path.display())))?;
    from_json(&text)
}

/// Imports a conversation file as a new conversation (its uid kept unless the store has it
/// already); returns the new conversation. A file past `bounds` is refused, naming the field.
pub async fn import(store: &Store, file: &ConversationFile) -> Result<Conversation, JsonError> {
    check_bounds(file)?;
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
    if file.messages.iter().any(|m| !m.tool_calls.is_empty()) {
        let stored = store.messages(created.id).await?;
        for (m, s) in file.messages.iter().zip(&stored) {
            for t in &m.tool_calls {
                store.add_tool_call(s.id, &t.call, &t.result).await?;
            }
        }
    }
    if file.messages.iter().any(|m| !m.attachments.is_empty()) {
        // Messages are stored in the file's order: the i-th stored is the file's i-th.
        let stored = store.messages(created.id).await?;
        for (m, s) in file.messages.iter().zip(&stored) {
            if m.attachments.is_empty() {
                continue;
            }
            let files: Vec<fin_r1_core::store::NewAttachment> = m
                .attachments
                .iter()
                .map(|a| fin_r1_core::store::NewAttachment {
                    meta: a.meta.clone(),
                    text: a.text.clone(),
                    included: a.included.clone(),
                    included_summary: a.included_summary.clone(),
                    // A conversation file names no path of the sender's machine.
                    path: None,
                    originals: Vec::new(),
                })
                .collect();
            store.add_attachments(s.id, &files).await?;
        }
    }
    Ok(created)
}

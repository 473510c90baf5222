//! What the store holds, as the CLI, the app and the reports see it.

use serde::{Deserialize, Serialize};

use fin_r1_engine::{ErrorKind, SamplingParams, StopReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Being written now; checkpointed about once a second.
    Streaming,
    Complete,
    /// Stopped by the user; the text so far is kept.
    Cancelled,
    /// The process died while it streamed; the last checkpoint is kept.
    Interrupted,
    Error,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Complete => "complete",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
            Self::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "streaming" => Self::Streaming,
            "complete" => Self::Complete,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            "error" => Self::Error,
            _ => return None,
        })
    }
}

/// How a finished turn is stored: the one mapping from an outcome to a status.
impl From<&Outcome> for MessageStatus {
    fn from(o: &Outcome) -> Self {
        Self::ended(o.stop_reason, o.error.is_some())
    }
}

impl MessageStatus {
    /// The status a generation that ended so has: an error, else cancelled or complete by its
    /// stop reason. Stored turns and the live stream (the shell's channel) both use this.
    pub fn ended(stop: Option<StopReason>, failed: bool) -> Self {
        match (failed, stop) {
            (true, _) => Self::Error,
            (false, Some(StopReason::Cancelled)) => Self::Cancelled,
            _ => Self::Complete,
        }
    }

    /// The status after a generation's last event (`Done` or `Error`); `None` for any other.
    pub fn after(ev: &fin_r1_engine::GenerationEvent) -> Option<Self> {
        match ev {
            fin_r1_engine::GenerationEvent::Done(d) => Some(Self::ended(Some(d.reason), false)),
            fin_r1_engine::GenerationEvent::Error { .. } => Some(Self::ended(None, true)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    System,
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "system" => Self::System,
            "user" => Self::User,
            "assistant" => Self::Assistant,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Conversation {
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub scenario_id: Option<String>,
    /// `None`: the model's default system prompt.
    pub system_prompt: Option<String>,
    pub model: Option<String>,
    pub pinned: bool,
    pub active_leaf_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Sampling set for this conversation, over the preset's and the user's defaults.
    #[serde(default)]
    pub sampling: fin_r1_engine::SamplingOverrides,
}

/// Which engine answered: the model in this process, or an OpenAI-compatible server (vLLM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Local,
    Remote,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
        }
    }

    /// The stored word; anything else (a conversation file from elsewhere, a row of a newer
    /// build) is not known.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "remote" => Some(Self::Remote),
            _ => None,
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file that names an engine this build does not know still imports: its answers were made
/// somewhere, and "local" is what the provenance of earlier builds' empty word meant.
impl<'de> Deserialize<'de> for EngineKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(v.as_ref().and_then(serde_json::Value::as_str).and_then(Self::parse).unwrap_or_default())
    }
}

/// Where an answer came from: what a report's provenance section prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EngineRef {
    #[serde(default)]
    pub engine: EngineKind,
    pub model_file: Option<String>,
    pub model_sha256: Option<String>,
    pub quantization: Option<String>,
    pub remote_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub parent_id: Option<i64>,
    pub role: MessageRole,
    /// The question for a user message.
    pub content: String,
    pub reasoning: String,
    pub answer: String,
    pub status: MessageStatus,
    /// `None` while streaming, after an error, or when the process died mid-answer.
    pub stop_reason: Option<StopReason>,
    pub error_kind: Option<ErrorKind>,
    pub error_message: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub cached_prompt_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub answer_tokens: Option<i64>,
    pub ttft_ms: Option<f64>,
    pub prefill_tok_s: Option<f64>,
    pub decode_tok_s: Option<f64>,
    pub total_ms: Option<f64>,
    pub engine: Option<EngineRef>,
    pub system_prompt: Option<String>,
    pub sampling: Option<SamplingParams>,
    pub seed: Option<u64>,
    pub scenario_id: Option<String>,
    pub form: Option<QuestionForm>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A preset's question as the analyst filled it in: the typed question and the form's fields
/// (kept apart from the filled prompt in `content`, for editing, the view and reports).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QuestionForm {
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A conversation as listed: with its last question, for the sidebar and `conversations list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: i64,
}

/// Which text of a conversation a search hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SearchField {
    Title,
    Question,
    Reasoning,
    Answer,
    /// A document attached to the question.
    Attachment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    pub conversation_id: i64,
    pub title: String,
    pub message_id: Option<i64>,
    pub field: SearchField,
    /// The matched text with some context on either side, on one line.
    pub snippet: String,
    pub updated_at: i64,
}

/// What a finished (or stopped, or failed) assistant message records.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub reasoning: String,
    pub answer: String,
    pub stop_reason: Option<StopReason>,
    pub error: Option<(ErrorKind, String)>,
    pub usage: Option<fin_r1_engine::Usage>,
    pub seed: Option<u64>,
    /// Hashing a large model runs beside the generation; its result lands with the outcome.
    pub model_sha256: Option<String>,
}

/// The request side of an assistant message, recorded when it starts.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub engine: EngineRef,
    pub system_prompt: Option<String>,
    pub sampling: Option<SamplingParams>,
    pub scenario_id: Option<String>,
}

/// A GGUF in the model library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryModel {
    pub path: String,
    pub file_name: String,
    pub size: i64,
    pub sha256: Option<String>,
    pub name: Option<String>,
    pub architecture: String,
    pub quantization: String,
    pub n_params: i64,
    pub context: i64,
    /// "import", "download" or "quantize".
    pub source: String,
    pub repo: Option<String>,
    pub added_at: i64,
}

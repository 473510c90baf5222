//! The one typed event stream a generation produces. The CLI, the store, the API server and the
//! UI channel all consume exactly this.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenerationEvent {
    /// A piece of the reasoning chain (inside `<think>…</think>`).
    Reasoning {
        text: String,
    },
    /// A piece of the answer.
    Answer {
        text: String,
    },
    /// Reading the prompt: `done` of its `total` tokens are in the cache (reused ones
    /// included). Sent before the first forward pass and after each; a consumer that shows no
    /// progress ignores it.
    Prefill {
        done: usize,
        total: usize,
    },
    /// The model called a tool (`<tool_call>…</tool_call>` parsed); whoever runs the turn
    /// decides whether it runs.
    ToolCall(crate::ToolCall),
    /// A `<tool_call>` that is no call (not JSON, no name, never closed): shown as the text it
    /// is, with the reason.
    ToolCallMalformed {
        text: String,
        reason: String,
    },
    /// What a tool call gave (or why it did not run): sent by the runner, never by the engine.
    ToolResult(ToolResult),
    Usage(Usage),
    /// The generation ended; always the last event unless an `Error` came instead.
    Done(Done),
    Error {
        kind: ErrorKind,
        message: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Usage {
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values were already cached from an earlier turn.
    pub cached_prompt_tokens: usize,
    pub reasoning_tokens: usize,
    pub answer_tokens: usize,
    pub time_to_first_token_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    End,
    /// max_tokens or the context was reached.
    Length,
    StopString,
    Cancelled,
    /// The output had become the same few tokens over and over (`repetition`).
    Repetition,
}

impl StopReason {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "end" => Self::End,
            "length" => Self::Length,
            "stop_string" => Self::StopString,
            "cancelled" => Self::Cancelled,
            "repetition" => Self::Repetition,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::End => "end",
            Self::Length => "length",
            Self::StopString => "stop_string",
            Self::Cancelled => "cancelled",
            Self::Repetition => "repetition",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Done {
    pub reason: StopReason,
    /// The output ended inside the reasoning chain: there is no answer.
    pub reasoning_unterminated: bool,
    /// The seed the sampler used (given or drawn), to repeat the run.
    pub seed: u64,
    /// Oldest turns left out of the prompt to fit the context (policy `DropOldestTurns`).
    pub dropped_turns: usize,
}

impl GenerationEvent {
    pub fn error(e: &crate::EngineError) -> Self {
        Self::Error { kind: e.kind(), message: e.to_string() }
    }
}

/// Why something failed, in one vocabulary for the stream, the store, the API server and the UI:
/// the engine's own kinds, a remote server's, the store's and the app's. Stored and sent as its
/// snake_case name; a name this build does not know (a newer build's row) reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Io,
    NotGguf,
    Malformed,
    Truncated,
    UnsupportedArchitecture,
    UnsupportedTensorType,
    InvalidMetadata,
    InvalidTensors,
    Tokenizer,
    Template,
    PromptTooLong,
    InvalidRequest,
    DeviceUnavailable,
    EngineStopped,
    Compute,
    Quantize,
    Cancelled,
    /// A generation ended without a last event (its task died).
    Unfinished,
    /// A remote server refused the key.
    Unauthorized,
    NotFound,
    RemoteUnreachable,
    RemoteBusy,
    RemoteServer,
    RemoteStream,
    StoreOpen,
    StoreNewer,
    StoreMigrate,
    StoreReadOnly,
    /// The store's file is not a whole database (truncated, a corrupt page).
    StoreDamaged,
    Store,
    DiskFull,
    ModelHash,
    Scenario,
    NoModel,
    /// The model hub could not be reached.
    Unreachable,
    /// The address answers, but not as a model hub.
    NotAHub,
    /// A downloaded file is not the one the hub listed.
    HashMismatch,
    /// A download stopped part way (it resumes next time).
    Interrupted,
    /// An attached document could not be read (damaged, locked, scanned only, not a kind read).
    Document,
    /// Something else is running that this must wait for (an answer streaming, a download).
    Busy,
    #[serde(other)]
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::NotGguf => "not_gguf",
            Self::Malformed => "malformed",
            Self::Truncated => "truncated",
            Self::UnsupportedArchitecture => "unsupported_architecture",
            Self::UnsupportedTensorType => "unsupported_tensor_type",
            Self::InvalidMetadata => "invalid_metadata",
            Self::InvalidTensors => "invalid_tensors",
            Self::Tokenizer => "tokenizer",
            Self::Template => "template",
            Self::PromptTooLong => "prompt_too_long",
            Self::InvalidRequest => "invalid_request",
            Self::DeviceUnavailable => "device_unavailable",
            Self::EngineStopped => "engine_stopped",
            Self::Compute => "compute",
            Self::Quantize => "quantize",
            Self::Cancelled => "cancelled",
            Self::Unfinished => "unfinished",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::RemoteUnreachable => "remote_unreachable",
            Self::RemoteBusy => "remote_busy",
            Self::RemoteServer => "remote_server",
            Self::RemoteStream => "remote_stream",
            Self::StoreOpen => "store_open",
            Self::StoreNewer => "store_newer",
            Self::StoreMigrate => "store_migrate",
            Self::StoreReadOnly => "store_read_only",
            Self::StoreDamaged => "store_damaged",
            Self::Store => "store",
            Self::DiskFull => "disk_full",
            Self::ModelHash => "model_hash",
            Self::Scenario => "scenario",
            Self::NoModel => "no_model",
            Self::Unreachable => "unreachable",
            Self::NotAHub => "not_a_hub",
            Self::HashMismatch => "hash_mismatch",
            Self::Interrupted => "interrupted",
            Self::Document => "document",
            Self::Busy => "busy",
            Self::Other => "other",
        }
    }

    /// A failed read or write: a full disk (or quota) is its own kind, the analyst's remedy
    /// differs.
    pub fn of_io(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Self::DiskFull,
            std::io::ErrorKind::NotFound => Self::NotFound,
            _ => Self::Io,
        }
    }

    /// Reads a stored name; an unknown one is `Other` (as serde reads it).
    pub fn parse(s: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(Self::Other)
    }
}

/// Compared with its stored name (tests and logs read kinds as text).
impl PartialEq<str> for ErrorKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Done,
    /// The tool ran and failed (its error is the content).
    Error,
    /// The analyst said no.
    Denied,
    /// No result within the time allowed.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ToolResult {
    /// The call's id.
    pub id: String,
    pub name: String,
    /// Where it ran: `calculator`, or `mcp:SERVER`.
    pub source: String,
    pub status: ToolStatus,
    /// What the model is told: the result, or the error.
    pub content: String,
    pub ms: u64,
}

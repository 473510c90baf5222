//! The one typed event stream a generation produces. The CLI, the store, the API server and the
//! UI channel all consume exactly this.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenerationEvent {
    /// A piece of the reasoning chain (inside `<think>…</think>`).
    Reasoning { text: String },
    /// A piece of the answer.
    Answer { text: String },
    Usage(Usage),
    /// The generation ended; always the last event unless an `Error` came instead.
    Done(Done),
    Error { kind: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    End,
    /// max_tokens or the context was reached.
    Length,
    StopString,
    Cancelled,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::End => "end",
            Self::Length => "length",
            Self::StopString => "stop_string",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        Self::Error { kind: e.kind().to_owned(), message: e.to_string() }
    }
}

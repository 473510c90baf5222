use std::path::PathBuf;

use crate::events::ErrorKind;

/// Everything the engine can refuse or fail at. Each variant names the problem in words an
/// analyst (or a bug report) can act on; none of them is a panic.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot open model file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("not a GGUF model file (the file starts with {found:?}, a GGUF file starts with \"GGUF\")")]
    NotGguf { found: String },
    #[error("malformed GGUF file: {0}")]
    Malformed(String),
    #[error("the model file is truncated: {0}")]
    Truncated(String),
    #[error("unsupported model architecture {0:?} (supported: qwen2, llama)")]
    UnsupportedArchitecture(String),
    #[error("unsupported tensor type {type_id} for tensor {tensor:?} (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q8_K)")]
    UnsupportedTensorType { tensor: String, type_id: u32 },
    #[error("invalid model metadata: {key}: {problem}")]
    InvalidMetadata { key: String, problem: String },
    #[error("missing model metadata {0:?}")]
    MissingMetadata(String),
    #[error("missing tensor {0:?}")]
    MissingTensor(String),
    #[error("tensor {name:?} has shape {found:?}, expected {expected:?}")]
    TensorShape { name: String, found: Vec<u64>, expected: Vec<u64> },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("the prompt is {prompt_tokens} tokens, the context holds {context} (room is needed for the answer too); shorten the question or start a new conversation")]
    PromptTooLong { prompt_tokens: usize, context: usize },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable { device: String, reason: String },
    #[error("the engine has stopped")]
    EngineStopped,
    #[error("quantize: {0}")]
    Quantize(String),
    #[error("stopped before it finished")]
    Cancelled,
    #[error("inference failed: {0}")]
    Compute(String),
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl EngineError {
    /// A stable machine-readable name for the error's kind (used in JSON events and API errors).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Open { .. } | Self::Io { .. } => ErrorKind::Io,
            Self::NotGguf { .. } => ErrorKind::NotGguf,
            Self::Malformed(_) => ErrorKind::Malformed,
            Self::Truncated(_) => ErrorKind::Truncated,
            Self::UnsupportedArchitecture(_) => ErrorKind::UnsupportedArchitecture,
            Self::UnsupportedTensorType { .. } => ErrorKind::UnsupportedTensorType,
            Self::InvalidMetadata { .. } | Self::MissingMetadata(_) => ErrorKind::InvalidMetadata,
            Self::MissingTensor(_) | Self::TensorShape { .. } => ErrorKind::InvalidTensors,
            Self::Tokenizer(_) => ErrorKind::Tokenizer,
            Self::Template(_) => ErrorKind::Template,
            Self::PromptTooLong { .. } => ErrorKind::PromptTooLong,
            Self::InvalidRequest(_) => ErrorKind::InvalidRequest,
            Self::DeviceUnavailable { .. } => ErrorKind::DeviceUnavailable,
            Self::EngineStopped => ErrorKind::EngineStopped,
            Self::Compute(_) => ErrorKind::Compute,
            Self::Quantize(_) => ErrorKind::Quantize,
            Self::Cancelled => ErrorKind::Cancelled,
        }
    }
}

impl From<candle_core::Error> for EngineError {
    fn from(e: candle_core::Error) -> Self {
        Self::Compute(e.to_string())
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

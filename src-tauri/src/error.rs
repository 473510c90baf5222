use fin_r1_engine::ErrorKind;
use serde::Serialize;

/// What a command's caller (the UI) gets on failure: a stable kind to branch on and a message
/// to show.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Store(#[from] fin_r1_core::store::StoreError),
    #[error(transparent)]
    Run(#[from] fin_r1_core::runner::RunError),
    #[error("{0}")]
    Scenario(#[from] fin_r1_core::scenario::ScenarioError),
    #[error("{message}")]
    Model { kind: ErrorKind, message: String },
    #[error("no model is set: choose a GGUF file in the model picker")]
    NoModel,
    #[error("{0}")]
    Invalid(String),
}

impl CommandError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::Run(e) => e.kind(),
            Self::Scenario(_) => ErrorKind::Scenario,
            Self::Model { kind, .. } => *kind,
            Self::NoModel => ErrorKind::NoModel,
            Self::Invalid(_) => ErrorKind::InvalidRequest,
        }
    }
}

impl Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire { kind: self.kind(), message: self.to_string() }.serialize(s)
    }
}

/// The shape the page receives (and the TypeScript bindings describe).
#[derive(Serialize, specta::Type)]
#[serde(rename = "CommandError")]
struct Wire {
    kind: ErrorKind,
    message: String,
}

impl specta::Type for CommandError {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        Wire::definition(types)
    }
}

pub type CmdResult<T> = Result<T, CommandError>;

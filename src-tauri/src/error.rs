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
    /// The request itself is wrong (an empty title, a file that is not there): its words are
    /// the message.
    #[error("{0}")]
    Invalid(String),
    /// Something else is running that this must wait for.
    #[error("{0}")]
    Busy(String),
    /// A file could not be read or written; a full disk says so by its kind.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Eval(#[from] fin_r1_eval::RunError),
    #[error(transparent)]
    Export(#[from] fin_r1_report::ExportError),
    #[error(transparent)]
    Pdf(#[from] fin_r1_report::PdfError),
    #[error("the remote server: {0}")]
    Remote(#[from] fin_r1_core::remote::RemoteError),
    #[error(transparent)]
    Settings(#[from] fin_r1_core::settings::SaveError),
    #[error(transparent)]
    Catalog(#[from] fin_r1_core::catalog::CatalogError),
    #[error(transparent)]
    Mcp(#[from] fin_r1_core::mcp::McpError),
    /// A background task died (a panic): the work it held is lost, nothing else.
    #[error("background task failed: {0}")]
    Task(String),
}

impl CommandError {
    pub fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { what: what.to_string(), source }
    }
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
            Self::Busy(_) => ErrorKind::Busy,
            Self::Io { source, .. } => ErrorKind::of_io(source),
            Self::Eval(e) => e.kind(),
            Self::Export(e) => e.kind(),
            Self::Pdf(_) | Self::Task(_) => ErrorKind::Other,
            Self::Remote(fin_r1_core::remote::RemoteError::BadUrl(_)) => ErrorKind::InvalidRequest,
            Self::Remote(_) => ErrorKind::RemoteUnreachable,
            Self::Settings(fin_r1_core::settings::SaveError::Store(e)) => e.kind(),
            Self::Settings(_) => ErrorKind::InvalidRequest,
            Self::Catalog(fin_r1_core::catalog::CatalogError::Unknown(_)) => ErrorKind::NotFound,
            Self::Catalog(_) => ErrorKind::Other,
            Self::Mcp(e) => e.kind(),
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

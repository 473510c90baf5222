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
    Model { kind: String, message: String },
    #[error("no model is set: choose a GGUF file in the model picker")]
    NoModel,
    #[error("{0}")]
    Invalid(String),
}

impl CommandError {
    pub fn kind(&self) -> String {
        match self {
            Self::Store(e) => e.kind().to_owned(),
            Self::Run(e) => e.kind().to_owned(),
            Self::Scenario(_) => "scenario".to_owned(),
            Self::Model { kind, .. } => kind.clone(),
            Self::NoModel => "no_model".to_owned(),
            Self::Invalid(_) => "invalid_request".to_owned(),
        }
    }
}

impl Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("CommandError", 2)?;
        st.serialize_field("kind", &self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

pub type CmdResult<T> = Result<T, CommandError>;

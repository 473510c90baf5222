//! Where answers come from: the in-process engine or a remote OpenAI-compatible server, one
//! event stream either way. The CLI, the app and the conversation runner hold a `Backend`.

use std::path::PathBuf;
use std::sync::Arc;

use fin_r1_engine::{Engine, Generation, GenerationRequest, ModelFamily, SamplingParams};

use crate::remote::{RemoteConfig, RemoteEngine, RemoteError};
pub use crate::store::EngineKind;

// One backend per app or command: boxing the larger variant would save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    Local(Arc<Engine>),
    /// `defaults` stand in for the remote model's own, which the API does not tell.
    Remote {
        engine: RemoteEngine,
        defaults: SamplingParams,
        system_prompt: Option<String>,
    },
}

impl Backend {
    /// A remote server's backend; `runtime` carries its HTTP exchanges.
    pub fn remote(config: RemoteConfig, runtime: tokio::runtime::Handle) -> Result<Self, RemoteError> {
        let family = ModelFamily::detect(Some(&config.model), &config.model);
        let defaults = family.default_sampling();
        let system_prompt = family.default_system_prompt().map(str::to_owned);
        Ok(Self::Remote { engine: RemoteEngine::new(config, runtime)?, defaults, system_prompt })
    }

    pub fn generate(&self, request: GenerationRequest) -> Generation {
        match self {
            Backend::Local(e) => e.generate(request),
            Backend::Remote { engine, defaults, .. } => engine.generate(request, defaults),
        }
    }

    /// Forgets the prompt cache (a new conversation shares no prefix with the old one).
    pub fn reset_cache(&self) {
        if let Backend::Local(e) = self {
            e.reset_cache();
        }
    }

    pub fn default_sampling(&self) -> SamplingParams {
        match self {
            Backend::Local(e) => e.info().default_sampling(),
            Backend::Remote { defaults, .. } => defaults.clone(),
        }
    }

    /// The system prompt used when neither the user nor a scenario gives one: what a report
    /// records as the prompt actually sent.
    pub fn default_system_prompt(&self) -> Option<String> {
        match self {
            Backend::Local(e) => e.info().default_system_prompt().map(str::to_owned),
            Backend::Remote { system_prompt, .. } => system_prompt.clone(),
        }
    }

    /// The model's name as a conversation lists it.
    pub fn model_name(&self) -> String {
        match self {
            Backend::Local(e) => e.info().file_name.clone(),
            Backend::Remote { engine, .. } => engine.config().model.clone(),
        }
    }

    /// The context in tokens the prompt must fit: the local model's; a remote server is taken
    /// to serve Fin-R1's 16k.
    pub fn context(&self) -> usize {
        match self {
            Backend::Local(e) => e.info().context,
            Backend::Remote { .. } => fin_r1_engine::runtime::DEFAULT_CONTEXT,
        }
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Backend::Local(_) => EngineKind::Local,
            Backend::Remote { .. } => EngineKind::Remote,
        }
    }

    pub fn is_local(&self) -> bool {
        self.kind() == EngineKind::Local
    }

    /// The local model file, whose SHA-256 goes into each answer's provenance.
    pub fn model_path(&self) -> Option<PathBuf> {
        match self {
            Backend::Local(e) => Some(e.info().path.clone()),
            Backend::Remote { .. } => None,
        }
    }

    pub fn quantization(&self) -> Option<String> {
        match self {
            Backend::Local(e) => Some(e.info().quantization.clone()),
            Backend::Remote { .. } => None,
        }
    }

    /// The remote server's base URL (never its key).
    pub fn remote_url(&self) -> Option<String> {
        match self {
            Backend::Local(_) => None,
            Backend::Remote { engine, .. } => Some(engine.config().base_url.clone()),
        }
    }
}

//! The app's settings: one typed record in the store's `settings` table. A row that cannot be
//! read (an older build's, or damaged) never stops the app: what can be read is kept, the rest
//! falls back to defaults, and the caller is told what happened so the user sees it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use fin_r1_engine::DeviceChoice;

use crate::runner::SamplingOverrides;
use crate::scenario::Lang;
use crate::store::{Store, StoreError};

pub const KEY: &str = "app.settings";
/// Secrets: in the OS keychain, else in their own rows; the UI never reads them back.
pub const REMOTE_KEY: &str = "secret.remote.api_key";
pub const SERVER_KEY: &str = "secret.server.api_key";
pub const HUB_TOKEN: &str = "secret.hub.token";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follows the system's light or dark preference.
    #[default]
    System,
    Light,
    Dark,
}

impl std::fmt::Display for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Settings {
    /// `None` follows the system.
    pub lang: Option<Lang>,
    pub theme: Theme,
    /// Where quantized models are written and the file picker starts; `None`: `<data>/models`.
    pub models_dir: Option<PathBuf>,
    /// The preset a new conversation starts with; `None`: a free question.
    pub default_scenario: Option<String>,
    /// The user's sampling defaults: over the model's and a preset's, under what a
    /// conversation or a turn sets (`fin_r1_engine::sampler::resolve`).
    pub sampling: SamplingOverrides,
    /// Threads for the CPU kernels; `None`: one per core. Read at start.
    pub threads: Option<usize>,
    /// Where the local model runs (what this build has: `devices()` in the shell).
    pub device: DeviceChoice,
    /// The local model's context in tokens; `None`: the model's, at most 16,384. Applies at
    /// the next model load.
    pub context: Option<usize>,
    pub server: ServerSettings,
    pub remote: RemoteSettings,
    /// The hub models are downloaded from (a mirror, say); `None`: `$HF_ENDPOINT`, else
    /// huggingface.co. Its token is kept in `HUB_TOKEN`.
    pub hub_endpoint: Option<String>,
    /// The first-run setup was finished or skipped.
    pub first_run_done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct ServerSettings {
    /// Started with the app (the user turned it on); off by default.
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub served_model_name: String,
    /// Whether requests must carry the API key kept in `SERVER_KEY`.
    pub require_key: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct RemoteSettings {
    /// Answers come from the remote server instead of the local model.
    pub enabled: bool,
    /// Up to and including `/v1`.
    pub base_url: String,
    pub model: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lang: None,
            theme: Theme::System,
            models_dir: None,
            default_scenario: None,
            sampling: SamplingOverrides::default(),
            threads: None,
            device: DeviceChoice::Cpu,
            context: None,
            server: ServerSettings::default(),
            remote: RemoteSettings::default(),
            hub_endpoint: None,
            first_run_done: false,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { enabled: false, host: "127.0.0.1".into(), port: 8000, served_model_name: "Fin-R1".into(), require_key: false }
    }
}

impl Default for RemoteSettings {
    fn default() -> Self {
        Self { enabled: false, base_url: "http://127.0.0.1:8000/v1".into(), model: "Fin-R1".into() }
    }
}

/// The context a user may set: a question with its documents needs room, and a model's own
/// limit (32,768 for Fin-R1) is applied at load.
pub const MIN_CONTEXT: usize = 512;
pub const MAX_CONTEXT: usize = 131_072;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("threads must be between 1 and 1024")]
    Threads,
    #[error("the context must be between {MIN_CONTEXT} and {MAX_CONTEXT} tokens, not {0}")]
    Context(usize),
    #[error("the API server may listen on a loopback address only (127.0.0.1, ::1 or localhost), not {0:?}")]
    Host(String),
    #[error("port {0}: choose one from 1024 to 65535")]
    Port(u16),
    #[error("the remote server's address must start with http:// or https://: {0:?}")]
    RemoteUrl(String),
    #[error("the hub address must start with http:// or https://: {0:?}")]
    HubUrl(String),
    #[error("the remote model name is empty")]
    RemoteModel,
    #[error("default sampling: {0}")]
    Sampling(#[from] fin_r1_engine::SamplingError),
}

impl Settings {
    /// Checks what a user typed before it is saved.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.threads.is_some_and(|t| t == 0 || t > 1024) {
            return Err(SettingsError::Threads);
        }
        if let Some(c) = self.context.filter(|c| !(MIN_CONTEXT..=MAX_CONTEXT).contains(c)) {
            return Err(SettingsError::Context(c));
        }
        if !["127.0.0.1", "::1", "localhost"].contains(&self.server.host.as_str()) {
            return Err(SettingsError::Host(self.server.host.clone()));
        }
        if self.server.port < 1024 {
            return Err(SettingsError::Port(self.server.port));
        }
        if self.remote.enabled {
            let u = self.remote.base_url.trim().to_ascii_lowercase();
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(SettingsError::RemoteUrl(self.remote.base_url.clone()));
            }
            if self.remote.model.trim().is_empty() {
                return Err(SettingsError::RemoteModel);
            }
        }
        if let Some(e) = &self.hub_endpoint {
            let e = e.trim().to_ascii_lowercase();
            let web = e.starts_with("http://") || e.starts_with("https://");
            if !e.is_empty() && !web {
                return Err(SettingsError::HubUrl(self.hub_endpoint.clone().unwrap_or_default()));
            }
        }
        Ok(self.sampling.validate()?)
    }

    /// Where quantized models go.
    pub fn models_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(|| data_dir.join("models"))
    }
}

/// Settings as read, and what could not be read (shown to the user once).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub notice: Option<String>,
}

/// Reads the settings. A damaged row is kept aside under `app.settings.broken` (so nothing the
/// user set is destroyed) and the fields that still parse are used.
pub async fn load(store: &Store) -> Result<Loaded, StoreError> {
    let Some(text) = store.setting_text(KEY).await? else {
        return Ok(Loaded { settings: Settings::default(), notice: None });
    };
    let (settings, bad) = parse(&text);
    if bad.is_empty() {
        return Ok(Loaded { settings, notice: None });
    }
    store.set_setting(&format!("{KEY}.broken"), &Value::String(text)).await?;
    store.set_setting(KEY, &serde_json::to_value(&settings).unwrap_or(Value::Null)).await?;
    let notice = format!("Some settings could not be read and were reset to their defaults: {}.", bad.join(", "));
    tracing::warn!("{notice}");
    Ok(Loaded { settings, notice: Some(notice) })
}

/// Parses a stored row field by field; the names of the fields that fell back are returned.
pub fn parse(text: &str) -> (Settings, Vec<String>) {
    if let Ok(s) = serde_json::from_str::<Settings>(text) {
        if s.validate().is_ok() {
            return (s, Vec::new());
        }
    }
    let Ok(Value::Object(stored)) = serde_json::from_str::<Value>(text) else {
        return (Settings::default(), vec!["all (the row is not a JSON object)".into()]);
    };
    let mut merged = serde_json::to_value(Settings::default()).unwrap_or(Value::Null);
    let mut bad = Vec::new();
    for (k, v) in stored {
        let mut trial = merged.clone();
        trial[&k] = v;
        match serde_json::from_value::<Settings>(trial.clone()) {
            Ok(s) if s.validate().is_ok() => merged = trial,
            _ => bad.push(k),
        }
    }
    (serde_json::from_value(merged).unwrap_or_default(), bad)
}

pub async fn save(store: &Store, settings: &Settings) -> Result<(), SaveError> {
    settings.validate()?;
    store.set_setting(KEY, &serde_json::to_value(settings).map_err(|e| SaveError::Encode(e.to_string()))?).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("encoding the settings: {0}")]
    Encode(String),
}

/// API keys and the hub token: in the OS keychain where one answers (see `secrets`).
pub use crate::secrets::{secret, set_secret};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_field_falls_back_alone() {
        let (s, bad) = parse(r#"{"theme":"dark","threads":"many","device":"tpu","lang":"fr","server":{"enabled":true,"port":9000}}"#);
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(s.threads, None);
        assert_eq!((s.device, s.lang), (DeviceChoice::Cpu, None));
        assert!(s.server.enabled && s.server.port == 9000 && s.server.host == "127.0.0.1");
        assert_eq!(bad, vec!["device".to_owned(), "lang".to_owned(), "threads".to_owned()]);
    }

    #[test]
    fn a_row_that_is_not_json_gives_defaults() {
        let (s, bad) = parse("{not json");
        assert_eq!(s, Settings::default());
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn an_invalid_value_is_refused_on_save_and_dropped_on_read() {
        let mut s = Settings::default();
        s.server.host = "0.0.0.0".into();
        assert!(matches!(s.validate(), Err(SettingsError::Host(_))));
        let (read, bad) = parse(&serde_json::to_string(&s).unwrap_or_default());
        assert_eq!(read.server.host, "127.0.0.1");
        assert_eq!(bad, vec!["server".to_owned()]);
    }
}

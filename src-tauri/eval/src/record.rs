//! A run's files on disk: what a run was (`config.json`), its predictions and reviews (JSON
//! Lines), and their readers and writers. The run, its report, its plan and the list of runs all
//! read these; none of them reads another's code.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use fin_r1_core::store::EngineKind;
use fin_r1_engine::{SamplingParams, StopReason};
use serde::{Deserialize, Serialize};

use super::item::Item;
use super::judge::JudgeMode;
use super::score::Output;

/// What a run was, recorded in `config.json`; `--resume` goes on only when it is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunConfig {
    pub bench: String,
    /// Each data file with its SHA-256.
    pub data: BTreeMap<String, String>,
    /// The engine asked; `None`: outputs made elsewhere, scored as given (`eval score`).
    #[serde(deserialize_with = "engine_kind")]
    #[cfg_attr(feature = "specta", specta(type = Option<fin_r1_core::store::EngineKind>))]
    pub engine: Option<EngineKind>,
    pub model: String,
    pub model_sha256: Option<String>,
    pub quantization: Option<String>,
    pub remote_url: Option<String>,
    pub sampling: SamplingParams,
    pub system_prompt: Option<String>,
    pub scenario: Option<String>,
    pub prompt_version: u32,
    pub limit: usize,
    pub seed: u64,
    pub strict: bool,
    /// The LLM judge, when one is asked: its mode, server and model.
    #[serde(default)]
    pub judge: Option<JudgeConfig>,
    /// The ids asked, in the order they are asked.
    pub items: Vec<String>,
}

impl RunConfig {
    /// The fields in which `other` differs, by name.
    pub fn differences(&self, other: &RunConfig) -> Vec<&'static str> {
        let mut d = Vec::new();
        let mut check = |name, same: bool| {
            if !same {
                d.push(name);
            }
        };
        check("bench", self.bench == other.bench);
        check("data files", self.data == other.data);
        check("engine", self.engine == other.engine && self.remote_url == other.remote_url);
        check("model", self.model == other.model && self.model_sha256 == other.model_sha256);
        check("sampling", self.sampling == other.sampling);
        check("system prompt", self.system_prompt == other.system_prompt && self.scenario == other.scenario);
        check("prompt version", self.prompt_version == other.prompt_version);
        check("limit or seed (the items chosen)", self.items == other.items);
        check("scoring (--strict)", self.strict == other.strict);
        check("judge", self.judge == other.judge);
        d
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JudgeConfig {
    pub mode: JudgeMode,
    pub url: String,
    pub model: String,
}

/// One line of `predictions.jsonl`. `eval score` also reads lines that carry only `id`,
/// `output` and perhaps `finish_reason` (outputs made elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prediction {
    pub id: String,
    /// Everything written, the reasoning inside `<think>…</think>`.
    pub output: String,
    pub reasoning: Option<String>,
    pub answer: Option<String>,
    /// How the answer ended, as the engine says it (`end`, `stop_string`, `length`, `repetition`,
    /// `cancelled`); OpenAI's `stop` and `abort` (outputs made elsewhere, runs of earlier builds)
    /// read as `end` and `cancelled`; `None` when unknown.
    #[serde(deserialize_with = "finish_reason")]
    pub finish_reason: Option<StopReason>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub seconds: f64,
    /// The engine failed on this item (it is asked again on `--resume`).
    pub error: Option<String>,
}

impl Prediction {
    pub fn output(&self) -> Output<'_> {
        // A loop stopped by the engine is cut off as surely as a token limit.
        Output {
            text: &self.output,
            answer: self.answer.as_deref(),
            truncated: matches!(self.finish_reason, Some(StopReason::Length | StopReason::Repetition)),
        }
    }
}

/// A run's engine: `local` or `remote`; anything else (`outputs`, an earlier build's word for
/// outputs scored as given, or none) is `None`.
pub fn engine_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<EngineKind>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(serde_json::Value::as_str).and_then(EngineKind::parse))
}

/// How a run's engine reads in its report.
pub fn engine_word(engine: Option<EngineKind>) -> &'static str {
    engine.map_or("outputs scored as given", EngineKind::as_str)
}

/// A prediction's `finish_reason`: the engine's name, or OpenAI's; anything else (an empty
/// string, a server's own word, a number) is not known.
fn finish_reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<StopReason>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(serde_json::Value::as_str).and_then(|s| {
        StopReason::parse(s).or(match s {
            "stop" => Some(StopReason::End),
            "abort" => Some(StopReason::Cancelled),
            _ => None,
        })
    }))
}

/// One line of `reviews.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub category: String,
    pub extracted: Option<String>,
    pub gold: String,
    pub correct: bool,
    pub reason: String,
    /// The judge was asked and its reply could not be read: the item is left out of the score.
    #[serde(default)]
    pub judge_error: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("the run in {dir} was made differently ({what}): start a new folder, or run it as it was")]
    ConfigDiffers { dir: PathBuf, what: String },
}

impl RunError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::Io { source, .. } => fin_r1_engine::ErrorKind::of_io(source),
            Self::Invalid(_) | Self::ConfigDiffers { .. } => fin_r1_engine::ErrorKind::InvalidRequest,
        }
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_owned(), source }
}

/// The lines of a JSON Lines file that parse; a missing file has none.
pub(crate) fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, RunError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RunError::Io { path: path.to_owned(), source: e }),
    }
}

pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, RunError> {
    // A line cut by a kill mid-write is skipped (`read_jsonl`); the item is asked again.
    Ok(read_jsonl::<Prediction>(path)?.into_iter().filter(|p| !p.id.is_empty()).collect())
}

pub fn read_items(path: &Path) -> Result<Vec<Item>, RunError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| RunError::Invalid(format!("{} line {}: {e}", path.display(), i + 1))))
        .collect()
}

pub(crate) fn write_items(path: &Path, items: &[Item]) -> Result<(), RunError> {
    let text: String = items.iter().filter_map(|i| serde_json::to_string(i).ok()).map(|l| l + "\n").collect();
    write_whole(path, text.as_bytes())
}

pub(crate) fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| RunError::Invalid(e.to_string()))?;
    write_whole(path, (text + "\n").as_bytes())
}

/// Written beside and renamed: a kill or a full disk mid-write leaves the old file or none,
/// never half a `config.json` that makes `--resume` refuse the run.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let partial = path.with_extension("partial");
    if let Err(e) = std::fs::write(&partial, bytes) {
        let _ = std::fs::remove_file(&partial);
        return Err(io(&partial)(e));
    }
    std::fs::rename(&partial, path).map_err(io(path))
}

/// Ids that occur twice in a file (each must be unique to resume and score by).
pub fn duplicate_ids(items: &[Item]) -> Vec<String> {
    let mut seen = HashSet::new();
    items.iter().filter(|i| !seen.insert(i.id.as_str())).map(|i| i.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(line: &str) -> Option<StopReason> {
        serde_json::from_str::<Prediction>(line).expect("a prediction").finish_reason
    }

    /// The engine's typed reason is what a prediction keeps; the words of earlier runs and of
    /// outputs made elsewhere (OpenAI's) still read, and a cut-off answer is still one.
    #[test]
    fn a_prediction_keeps_the_engine_s_stop_reason() {
        let p = Prediction { id: "a".into(), finish_reason: Some(StopReason::Repetition), ..Default::default() };
        let line = serde_json::to_string(&p).expect("json");
        assert!(line.contains(r#""finish_reason":"repetition""#), "{line}");
        assert_eq!(serde_json::from_str::<Prediction>(&line).expect("back"), p);
        assert!(p.output().truncated);
        for (word, reason) in [
            ("end", Some(StopReason::End)),
            ("stop_string", Some(StopReason::StopString)),
            ("length", Some(StopReason::Length)),
            ("cancelled", Some(StopReason::Cancelled)),
            ("stop", Some(StopReason::End)),
            ("abort", Some(StopReason::Cancelled)),
            ("", None),
            ("eos_token", None),
        ] {
            assert_eq!(finish(&format!(r#"{{"id":"a","output":"x","finish_reason":"{word}"}}"#)), reason, "{word:?}");
        }
        assert_eq!(finish(r#"{"id":"a","output":"x"}"#), None);
        assert_eq!(finish(r#"{"id":"a","output":"x","finish_reason":null}"#), None);
        assert_eq!(finish(r#"{"id":"a","output":"x","finish_reason":3}"#), None);
        let cut: Prediction = serde_json::from_str(r#"{"id":"a","output":"x","finish_reason":"length"}"#).expect("json");
        assert!(cut.output().truncated);
    }
}

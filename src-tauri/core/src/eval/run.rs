//! A run: the chosen items asked of one engine, each prediction appended to `predictions.jsonl`
//! (flushed) as it finishes, so a kill loses nothing finished and `--resume` goes on from there;
//! then every prediction scored (`reviews.jsonl`) and reported (`report.json`, `report.md`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fin_r1_engine::{ChatMessage, ContextPolicy, ErrorKind, GenerationEvent, GenerationRequest, SamplingParams, StopReason};
use serde::{Deserialize, Serialize};

use super::item::Item;
use super::prompt::user_prompt;
use super::report::{self, Report};
use super::score::{score, Output, Rules, Verdict};
use crate::backend::Backend;

/// What a run was, recorded in `config.json`; `--resume` goes on only when it is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub bench: String,
    /// Each data file with its SHA-256.
    pub data: BTreeMap<String, String>,
    /// "local" or "remote".
    pub engine: String,
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
        d
    }
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
    /// "stop", "length", "cancelled", or empty when unknown.
    pub finish_reason: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub seconds: f64,
    /// The engine failed on this item (it is asked again on `--resume`).
    pub error: Option<String>,
}

impl Prediction {
    pub fn output(&self) -> Output<'_> {
        Output { text: &self.output, answer: self.answer.as_deref(), truncated: self.finish_reason == "length" }
    }
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_owned(), source }
}

pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    /// Requests at once (a remote server); the local engine answers one at a time.
    pub concurrency: usize,
    /// How long one item may take, and how often a failed request is tried again.
    pub timeout: Duration,
    pub retries: usize,
    pub rules: Rules,
}

/// What a run reports while it goes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub correct: usize,
    pub tokens: usize,
    pub seconds: f64,
    pub elapsed: f64,
}

impl Progress {
    pub fn accuracy(&self) -> f64 {
        if self.done == 0 { 0.0 } else { 100.0 * self.correct as f64 / self.done as f64 }
    }
    pub fn remaining(&self) -> Option<Duration> {
        (self.done > 0 && self.total > self.done).then(|| Duration::from_secs_f64(self.elapsed / self.done as f64 * (self.total - self.done) as f64))
    }
}

/// Asks `items` (already chosen) of `backend` as `config` says, into `options.out`.
/// `stop` ends it between items (Ctrl-C): everything finished stays.
pub fn run(
    backend: &Backend,
    items: &[Item],
    config: &RunConfig,
    options: &RunOptions,
    stop: &AtomicBool,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    let dir = &options.out;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let config_path = dir.join("config.json");
    let predictions_path = dir.join("predictions.jsonl");
    let mut done: HashMap<String, Prediction> = HashMap::new();
    if config_path.exists() {
        if !options.resume {
            return Err(RunError::Invalid(format!("{} already holds a run: add --resume to go on with it, or choose another folder", dir.display())));
        }
        let old: RunConfig = serde_json::from_str(&std::fs::read_to_string(&config_path).map_err(io(&config_path))?)
            .map_err(|e| RunError::Invalid(format!("{}: {e}", config_path.display())))?;
        let diff = old.differences(config);
        if !diff.is_empty() {
            return Err(RunError::ConfigDiffers { dir: dir.clone(), what: diff.join(", ") });
        }
        done = read_predictions(&predictions_path)?.into_iter().filter(|p| p.error.is_none()).map(|p| (p.id.clone(), p)).collect();
    } else {
        write_json(&config_path, config)?;
        write_items(&dir.join("items.jsonl"), items)?;
    }

    let by_id: HashMap<&str, &Item> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut progress = Progress { total: items.len(), ..Default::default() };
    for p in done.values() {
        if let Some(item) = by_id.get(p.id.as_str()) {
            progress.done += 1;
            progress.correct += usize::from(score(item, &p.output(), options.rules).correct);
        }
    }
    on_progress(&progress);
    let todo: VecDeque<Item> = items.iter().filter(|i| !done.contains_key(&i.id)).cloned().collect();
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&predictions_path).map_err(io(&predictions_path))?;
    // A kill mid-write leaves a line without its end: close it, so the next one stands alone.
    let ends_open = std::fs::read(&predictions_path).map(|b| b.last().is_some_and(|c| *c != b'\n')).unwrap_or(false);
    if ends_open {
        writeln!(file).map_err(io(&predictions_path))?;
    }
    let started = Instant::now();
    let workers = if backend.is_local() { 1 } else { options.concurrency.max(1) };
    let queue = Arc::new(Mutex::new(todo));
    let (tx, rx) = mpsc::channel::<Prediction>();
    std::thread::scope(|scope| -> Result<(), RunError> {
        for _ in 0..workers {
            let queue = queue.clone();
            let tx = tx.clone();
            scope.spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(item) = queue.lock().ok().and_then(|mut q| q.pop_front()) else { return };
                    let Some(p) = ask(&rt, backend, &item, config, options, stop) else { return };
                    if tx.send(p).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for p in rx {
            let line = serde_json::to_string(&p).map_err(|e| RunError::Invalid(e.to_string()))?;
            writeln!(file, "{line}").and_then(|()| file.flush()).map_err(io(&predictions_path))?;
            if p.error.is_none() {
                if let Some(item) = by_id.get(p.id.as_str()) {
                    progress.done += 1;
                    progress.correct += usize::from(score(item, &p.output(), options.rules).correct);
                    progress.tokens += p.completion_tokens;
                    progress.seconds += p.seconds;
                }
            }
            progress.elapsed = started.elapsed().as_secs_f64();
            on_progress(&progress);
        }
        Ok(())
    })?;
    score_run(dir, items, &read_predictions(&predictions_path)?, config, options.rules)
}

/// Scores `predictions` against `items` into `dir`: `reviews.jsonl`, `report.json`, `report.md`.
pub fn score_run(dir: &Path, items: &[Item], predictions: &[Prediction], config: &RunConfig, rules: Rules) -> Result<Report, RunError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // The last prediction of an id counts (a retried item).
    let latest: HashMap<&str, &Prediction> = predictions.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut reviews = Vec::new();
    let mut scored = Vec::new();
    for item in items {
        let Some(p) = latest.get(item.id.as_str()) else { continue };
        let verdict = match &p.error {
            Some(e) => Verdict { extracted: None, correct: false, reason: format!("the engine failed: {e}") },
            None => score(item, &p.output(), rules),
        };
        reviews.push(Review { id: item.id.clone(), category: item.category.clone(), extracted: verdict.extracted.clone(), gold: item.answer.clone(), correct: verdict.correct, reason: verdict.reason.clone() });
        scored.push((item, *p, verdict));
    }
    let path = dir.join("reviews.jsonl");
    let text: String = reviews.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
    std::fs::write(&path, text).map_err(io(&path))?;
    let report = report::build(config, &scored);
    write_json(&dir.join("report.json"), &report)?;
    let md = dir.join("report.md");
    std::fs::write(&md, report::markdown(&report)).map_err(io(&md))?;
    Ok(report)
}

/// One item asked, tried again after a failed request or a timeout; `None` when stopped.
fn ask(rt: &tokio::runtime::Runtime, backend: &Backend, item: &Item, config: &RunConfig, options: &RunOptions, stop: &AtomicBool) -> Option<Prediction> {
    let mut last = None;
    for attempt in 0..=options.retries {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(2u64.pow(attempt as u32)));
        }
        let p = ask_once(rt, backend, item, config, options.timeout, stop)?;
        let retry = p.error.is_some() && !backend.is_local();
        last = Some(p);
        if !retry {
            break;
        }
    }
    last
}

fn ask_once(rt: &tokio::runtime::Runtime, backend: &Backend, item: &Item, config: &RunConfig, timeout: Duration, stop: &AtomicBool) -> Option<Prediction> {
    let request = GenerationRequest {
        messages: vec![ChatMessage::user(user_prompt(item))],
        system: Some(config.system_prompt.clone().unwrap_or_default()),
        sampling: Some(config.sampling.clone()),
        context_policy: ContextPolicy::Error,
    };
    backend.reset_cache();
    let started = Instant::now();
    let mut generation = backend.generate(request);
    let mut p = Prediction { id: item.id.clone(), ..Default::default() };
    let (mut reasoning, mut answer) = (String::new(), String::new());
    let outcome = rt.block_on(async {
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let left = timeout.saturating_sub(started.elapsed());
            // Woken at least every half second to notice a stop.
            match tokio::time::timeout(left.min(Duration::from_millis(500)), generation.next()).await {
                Err(_) if left <= Duration::from_millis(500) => return Some(Err(format!("no answer within {} s", timeout.as_secs()))),
                Err(_) => continue,
                Ok(None) => return Some(Err("the generation ended without finishing".to_owned())),
                Ok(Some(ev)) => match ev {
                    GenerationEvent::Reasoning { text } => reasoning.push_str(&text),
                    GenerationEvent::Answer { text } => answer.push_str(&text),
                    GenerationEvent::Usage(u) => {
                        p.prompt_tokens = u.prompt_tokens;
                        p.completion_tokens = u.reasoning_tokens + u.answer_tokens;
                    }
                    GenerationEvent::Done(d) => {
                        p.finish_reason = match d.reason {
                            StopReason::Length => "length",
                            StopReason::Cancelled => "cancelled",
                            StopReason::End | StopReason::StopString => "stop",
                        }
                        .to_owned();
                        return Some(Ok(()));
                    }
                    GenerationEvent::Error { kind, message } => {
                        return Some(Err(if kind == ErrorKind::PromptTooLong { format!("prompt too long: {message}") } else { message }));
                    }
                },
            }
        }
    })?;
    drop(generation);
    p.seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => {
            p.output = if reasoning.is_empty() { answer.clone() } else { format!("<think>{reasoning}</think>{answer}") };
            p.reasoning = Some(reasoning);
            p.answer = Some(answer);
        }
        Err(e) => p.error = Some(e),
    }
    Some(p)
}

pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, RunError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RunError::Io { path: path.to_owned(), source: e }),
    };
    // A line cut by a kill mid-write is skipped; the item is asked again.
    Ok(text.lines().filter_map(|l| serde_json::from_str::<Prediction>(l).ok()).filter(|p| !p.id.is_empty()).collect())
}

pub fn read_items(path: &Path) -> Result<Vec<Item>, RunError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| RunError::Invalid(format!("{} line {}: {e}", path.display(), i + 1))))
        .collect()
}

fn write_items(path: &Path, items: &[Item]) -> Result<(), RunError> {
    let text: String = items.iter().filter_map(|i| serde_json::to_string(i).ok()).map(|l| l + "\n").collect();
    std::fs::write(path, text).map_err(io(path))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| RunError::Invalid(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// Ids that occur twice in a file (each must be unique to resume and score by).
pub fn duplicate_ids(items: &[Item]) -> Vec<String> {
    let mut seen = HashSet::new();
    items.iter().filter(|i| !seen.insert(i.id.as_str())).map(|i| i.id.clone()).collect()
}

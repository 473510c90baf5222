//! A run: the chosen items asked of one engine, each prediction appended to `predictions.jsonl`
//! (flushed) as it finishes, so a kill loses nothing finished and `--resume` goes on from there;
//! then every prediction scored (`reviews.jsonl`) and reported (`report.json`, `report.md`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fin_r1_engine::{ChatMessage, ContextPolicy, ErrorKind, GenerationEvent, GenerationRequest, SamplingParams, StopReason};
use serde::Serialize;

use super::item::Item;
use super::judge::{self, JudgeMode, Judgement};
use super::prompt::user_prompt;
use super::record::{io, read_jsonl, read_predictions, write_items, write_json, Prediction, Review, RunConfig, RunError};
use super::report::{self, Report};
use super::score::{after_reasoning, score, Rules, Verdict};
use fin_r1_core::backend::Backend;

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
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
        if self.done == 0 {
            0.0
        } else {
            100.0 * self.correct as f64 / self.done as f64
        }
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
    judge: Option<&Judge<'_>>,
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
        // The items first: a config.json says a run is here to resume.
        write_items(&dir.join("items.jsonl"), items)?;
        write_json(&config_path, config)?;
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
                let Ok(rt) = fin_r1_core::rt::local() else { return };
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
    let predictions = read_predictions(&predictions_path)?;
    if let Some(j) = judge {
        judge_items(dir, items, &predictions, j, options.rules, stop)?;
    }
    score_run(dir, items, &predictions, config, options.rules)
}

/// Scores `predictions` against `items` into `dir`: `reviews.jsonl`, `report.json`, `report.md`.
pub fn score_run(dir: &Path, items: &[Item], predictions: &[Prediction], config: &RunConfig, rules: Rules) -> Result<Report, RunError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // The last prediction of an id counts (a retried item).
    let latest: HashMap<&str, &Prediction> = predictions.iter().map(|p| (p.id.as_str(), p)).collect();
    let judgements: HashMap<String, Judgement> = read_jsonl::<Judgement>(&dir.join("judgements.jsonl"))?.into_iter().map(|j| (j.id.clone(), j)).collect();
    let mode = config.judge.as_ref().map(|j| j.mode);
    let mut reviews = Vec::new();
    let mut scored = Vec::new();
    for item in items {
        let Some(p) = latest.get(item.id.as_str()) else { continue };
        let mut verdict = match &p.error {
            Some(e) => Verdict { extracted: None, correct: false, reason: format!("the engine failed: {e}") },
            None => score(item, &p.output(), rules),
        };
        let mut judge_error = false;
        if let (Some(mode), Some(j)) = (mode, judgements.get(&item.id)) {
            match (j.correct, mode) {
                (Some(c), JudgeMode::Llm) => {
                    verdict.reason = format!("judge: {} ({}); rules: {}", if c { "right" } else { "wrong" }, j.reason, verdict.reason);
                    verdict.correct = c;
                }
                (Some(c), JudgeMode::LlmRecall) if !verdict.correct => {
                    verdict.reason = format!("judge: {} ({}); rules: {}", if c { "right" } else { "wrong" }, j.reason, verdict.reason);
                    verdict.correct = c;
                }
                (None, JudgeMode::Llm) | (None, JudgeMode::LlmRecall) if !(mode == JudgeMode::LlmRecall && verdict.correct) => {
                    judge_error = true;
                    verdict.reason = format!("{}; rules: {}", j.error.as_deref().unwrap_or("the judge's reply could not be read"), verdict.reason);
                }
                _ => {}
            }
        }
        reviews.push(Review {
            id: item.id.clone(),
            category: item.category.clone(),
            extracted: verdict.extracted.clone(),
            gold: item.answer.clone(),
            correct: verdict.correct,
            reason: verdict.reason.clone(),
            judge_error,
        });
        scored.push((item, *p, verdict, judge_error));
    }
    let path = dir.join("reviews.jsonl");
    let text: String = reviews.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
    std::fs::write(&path, text).map_err(io(&path))?;
    let mut report = report::build(config, &scored);
    if mode == Some(JudgeMode::Reasoning) {
        report.reasoning = Some(report::reasoning(items.iter().filter_map(|i| judgements.get(&i.id))));
    }
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
        tools: Vec::new(),
        messages: vec![ChatMessage::user(user_prompt(item))],
        system: Some(config.system_prompt.clone().unwrap_or_default()),
        sampling: Some(config.sampling.clone()),
        context_policy: ContextPolicy::Error,
        shared_prefix: None,
    };
    let started = Instant::now();
    let mut p = Prediction { id: item.id.clone(), ..Default::default() };
    match collect(rt, backend, request, timeout, stop)? {
        Ok(c) => {
            p.output = if c.reasoning.is_empty() { c.answer.clone() } else { format!("<think>{}</think>{}", c.reasoning, c.answer) };
            p.reasoning = Some(c.reasoning);
            p.answer = Some(c.answer);
            p.finish_reason = Some(c.finish_reason);
            p.prompt_tokens = c.prompt_tokens;
            p.completion_tokens = c.completion_tokens;
        }
        Err(e) => p.error = Some(e),
    }
    p.seconds = started.elapsed().as_secs_f64();
    Some(p)
}

struct Collected {
    reasoning: String,
    answer: String,
    finish_reason: StopReason,
    prompt_tokens: usize,
    completion_tokens: usize,
}

/// One generation's events gathered, within `timeout`; `None` when stopped.
fn collect(
    rt: &tokio::runtime::Runtime,
    backend: &Backend,
    request: GenerationRequest,
    timeout: Duration,
    stop: &AtomicBool,
) -> Option<Result<Collected, String>> {
    backend.reset_cache();
    let started = Instant::now();
    let mut generation = backend.generate(request);
    let mut c = Collected { reasoning: String::new(), answer: String::new(), finish_reason: StopReason::End, prompt_tokens: 0, completion_tokens: 0 };
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
                    GenerationEvent::Reasoning { text } => c.reasoning.push_str(&text),
                    GenerationEvent::Answer { text } | GenerationEvent::ToolCallMalformed { text, .. } => c.answer.push_str(&text),
                    // A benchmark offers no tools: a call is kept as the text it was.
                    GenerationEvent::ToolCall(call) => {
                        c.answer.push_str(&format!("<tool_call>{}</tool_call>", serde_json::json!({"name": call.name, "arguments": call.arguments})))
                    }
                    GenerationEvent::ToolResult(_) | GenerationEvent::Prefill { .. } => {}
                    GenerationEvent::Usage(u) => {
                        c.prompt_tokens = u.prompt_tokens;
                        c.completion_tokens = u.reasoning_tokens + u.answer_tokens;
                    }
                    GenerationEvent::Done(d) => {
                        c.finish_reason = d.reason;
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
    Some(outcome.map(|()| c))
}

/// Asks the judge about every item its mode covers that is not judged yet (a judge error is
/// asked again), appending to `judgements.jsonl`.
fn judge_items(dir: &Path, items: &[Item], predictions: &[Prediction], judge: &Judge<'_>, rules: Rules, stop: &AtomicBool) -> Result<(), RunError> {
    let path = dir.join("judgements.jsonl");
    let done: HashSet<String> = read_jsonl::<Judgement>(&path)?.into_iter().filter(|j| j.error.is_none()).map(|j| j.id).collect();
    let latest: HashMap<&str, &Prediction> = predictions.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
    let Ok(rt) = fin_r1_core::rt::local() else {
        return Err(RunError::Invalid("no async runtime for the judge".into()));
    };
    for item in items {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(p) = latest.get(item.id.as_str()).filter(|p| p.error.is_none()) else { continue };
        if done.contains(&item.id) {
            continue;
        }
        let need = match judge.mode {
            JudgeMode::Rule => false,
            JudgeMode::Llm => true,
            JudgeMode::LlmRecall => !score(item, &p.output(), rules).correct,
            JudgeMode::Reasoning => p.reasoning.as_deref().is_some_and(|r| !r.trim().is_empty()),
        };
        if !need {
            continue;
        }
        let (system, user) = if judge.mode == JudgeMode::Reasoning {
            let chain: String = p.reasoning.as_deref().unwrap_or_default().chars().take(8000).collect();
            (judge::reasoning_system(), judge::reasoning_prompt(item, &chain))
        } else {
            let Some(final_text) = after_reasoning(&p.output()) else { continue };
            (judge::JUDGE_SYSTEM.to_owned(), judge::prompt(item, &final_text.chars().take(4000).collect::<String>()))
        };
        let request = GenerationRequest {
            tools: Vec::new(),
            messages: vec![ChatMessage::user(user)],
            system: Some(system),
            sampling: Some(SamplingParams { temperature: 0.0, max_tokens: judge.max_tokens, seed: Some(0), ..SamplingParams::default() }),
            context_policy: ContextPolicy::Error,
            shared_prefix: None,
        };
        let Some(reply) = collect(&rt, judge.backend, request, judge.timeout, stop) else { break };
        let j = match reply {
            Ok(c) => {
                let raw = if c.answer.trim().is_empty() { c.reasoning } else { c.answer };
                let blank = Judgement { id: item.id.clone(), correct: None, reason: String::new(), raw: raw.clone(), error: None, criteria: None, good: None };
                if judge.mode == JudgeMode::Reasoning {
                    match judge::parse_reasoning(&raw) {
                        Ok((good, criteria)) => Judgement { good: Some(good), criteria: Some(criteria), ..blank },
                        Err(e) => Judgement { error: Some(e), ..blank },
                    }
                } else {
                    match judge::parse(&raw) {
                        Ok((correct, reason)) => Judgement { correct: Some(correct), reason, ..blank },
                        Err(e) => Judgement { error: Some(e), ..blank },
                    }
                }
            }
            Err(e) => Judgement {
                id: item.id.clone(),
                correct: None,
                reason: String::new(),
                raw: String::new(),
                error: Some(format!("the judge failed: {e}")),
                criteria: None,
                good: None,
            },
        };
        let line = serde_json::to_string(&j).map_err(|e| RunError::Invalid(e.to_string()))?;
        writeln!(file, "{line}").and_then(|()| file.flush()).map_err(io(&path))?;
    }
    Ok(())
}

/// The judge a run asks, and how.
pub struct Judge<'a> {
    pub backend: &'a Backend,
    pub mode: JudgeMode,
    pub max_tokens: usize,
    pub timeout: Duration,
}

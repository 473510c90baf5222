//! The runs in a folder as the app shows them: a summary of each, one run opened (its scores,
//! its provenance and every item's review with the model's reasoning), and a run as a report
//! document (Markdown, rendered to HTML and PDF by the report module) carrying its provenance.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fin_r1_engine::StopReason;
use serde::Serialize;

use super::item::Item;
use super::record::{read_items, read_jsonl, read_predictions, Prediction, Review, RunConfig, RunError};
use super::report::{self, Report};

/// One run folder in the list.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunSummary {
    /// The folder's name, whatever it is (spaces, Chinese): `find` opens it again by this name.
    pub id: String,
    pub path: PathBuf,
    pub bench: String,
    pub model: String,
    pub engine: Option<fin_r1_core::store::EngineKind>,
    pub quantization: Option<String>,
    /// Items the run set out to ask, and those answered (scored when the run finished).
    pub planned: usize,
    pub answered: usize,
    /// The bench's `all` score, once scored.
    pub score: Option<f64>,
    /// When the run was started, ms since the epoch.
    pub started_ms: i64,
    pub judge: Option<String>,
}

/// An item's review with what was asked and what the model wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ItemReview {
    pub id: String,
    pub category: String,
    pub question: String,
    pub context: Option<String>,
    pub gold: String,
    pub extracted: Option<String>,
    pub correct: bool,
    pub reason: String,
    pub judge_error: bool,
    pub reasoning: String,
    pub answer: String,
    /// How the answer ended; `None` when not known (outputs made elsewhere).
    pub finish_reason: Option<StopReason>,
    pub completion_tokens: usize,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunDetail {
    pub summary: RunSummary,
    pub config: RunConfig,
    /// `None` until the run has been scored.
    pub report: Option<Report>,
    /// In the order the items were asked.
    pub reviews: Vec<ItemReview>,
}

fn read_config(dir: &Path) -> Result<RunConfig, RunError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| RunError::Io { path: path.clone(), source })?;
    serde_json::from_str(&text).map_err(|e| RunError::Invalid(format!("{}: {e}", path.display())))
}

fn read_report(dir: &Path) -> Option<Report> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).ok()?).ok()
}

fn summary(dir: &Path, config: &RunConfig, report: Option<&Report>, answered: usize) -> RunSummary {
    let started_ms = std::fs::metadata(dir.join("config.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    RunSummary {
        id: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        path: dir.to_owned(),
        bench: config.bench.clone(),
        model: config.model.clone(),
        engine: config.engine,
        quantization: config.quantization.clone(),
        planned: config.items.len(),
        answered,
        score: report.and_then(|r| r.scores.get(&config.bench).or_else(|| r.scores.values().next())).and_then(|c| c.get("all")).map(|s| s.score),
        started_ms,
        judge: report.and_then(|r| r.judge.clone()),
    }
}

/// A folder for a new run: the benchmark and the local time, made unique.
pub fn new_dir(root: &Path, bench: &str) -> PathBuf {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    let base = format!("{bench}-{stamp}");
    let mut dir = root.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// The run folder in `root` whose id is `id`. The id is looked for among the folders listed, never
/// joined onto a path: any folder name opens (spaces, Chinese, even bytes that are not UTF-8), and
/// nothing outside `root` does.
pub fn find(root: &Path, id: &str) -> Result<PathBuf, RunError> {
    let not_found = || RunError::Invalid(format!("no evaluation run called {id:?}"));
    let entries = std::fs::read_dir(root).map_err(|_| not_found())?;
    entries
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy() == id && e.path().join("config.json").is_file())
        .map(|e| e.path())
        .ok_or_else(not_found)
}

/// A run folder copied into the list, and the links it held, which were not followed.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Imported {
    pub run: RunSummary,
    /// Names of the links in the folder, left out of the copy (a link's target may be anything).
    pub skipped_links: Vec<String>,
}

/// The files a run cannot be read without: they must be files of the folder itself.
const RUN_FILES: [&str; 2] = ["config.json", "items.jsonl"];

/// Copies a run folder made elsewhere (`fin-r1 eval run --out DIR`, another machine) into
/// `root`, so the app lists it; a folder already in `root` is left where it is. Only the folder's
/// own files are copied: a link is never followed (it is named in `skipped_links`), and a run
/// whose config.json or items.jsonl is a link is refused.
pub fn import(src: &Path, root: &Path) -> Result<Imported, RunError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Io { path, source }
    };
    for name in RUN_FILES {
        let p = src.join(name);
        let meta = std::fs::symlink_metadata(&p).map_err(io(&p))?;
        if !meta.file_type().is_file() {
            return Err(RunError::Invalid(format!("{}: {name} is a link or not a file; a run is added from its own files only", src.display())));
        }
    }
    let config = read_config(src)?;
    let src_real = std::fs::canonicalize(src).map_err(io(src))?;
    std::fs::create_dir_all(root).map_err(io(root))?;
    let root_real = std::fs::canonicalize(root).map_err(io(root))?;
    let mut skipped_links = Vec::new();
    let dest = if src_real.parent() == Some(root_real.as_path()) {
        src_real
    } else {
        let name = src_real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| config.bench.clone());
        let mut dest = root.join(&name);
        let mut n = 2;
        while dest.exists() {
            dest = root.join(format!("{name}-{n}"));
            n += 1;
        }
        std::fs::create_dir_all(&dest).map_err(io(&dest))?;
        for entry in std::fs::read_dir(&src_real).map_err(io(&src_real))? {
            let entry = entry.map_err(io(&src_real))?;
            // The entry's own type: a link is a link here, whatever it points at.
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_symlink() {
                skipped_links.push(entry.file_name().to_string_lossy().into_owned());
            } else if kind.is_file() {
                let p = entry.path();
                std::fs::copy(&p, dest.join(entry.file_name())).map_err(io(&p))?;
            }
        }
        skipped_links.sort();
        dest
    };
    let answered = read_predictions(&dest.join("predictions.jsonl")).map(|p| answered(&p)).unwrap_or(0);
    Ok(Imported { run: summary(&dest, &config, read_report(&dest).as_ref(), answered), skipped_links })
}

/// The runs under `root`, newest first; folders that are not runs are passed over.
pub fn list(root: &Path) -> Vec<RunSummary> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<RunSummary> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("config.json").is_file())
        .filter_map(|dir| {
            let config = read_config(&dir).ok()?;
            let answered = read_predictions(&dir.join("predictions.jsonl")).map(|p| answered(&p)).unwrap_or(0);
            Some(summary(&dir, &config, read_report(&dir).as_ref(), answered))
        })
        .collect();
    out.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then_with(|| b.id.cmp(&a.id)));
    out
}

fn answered(predictions: &[Prediction]) -> usize {
    let mut ids: Vec<&str> = predictions.iter().filter(|p| p.error.is_none()).map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// One run, opened.
pub fn detail(dir: &Path) -> Result<RunDetail, RunError> {
    let config = read_config(dir)?;
    let items: HashMap<String, Item> = read_items(&dir.join("items.jsonl"))?.into_iter().map(|i| (i.id.clone(), i)).collect();
    let predictions = read_predictions(&dir.join("predictions.jsonl"))?;
    let reviews: HashMap<String, Review> = read_jsonl::<Review>(&dir.join("reviews.jsonl"))?.into_iter().map(|r| (r.id.clone(), r)).collect();
    // The last prediction of an id counts (a retried item).
    let latest: HashMap<&str, &Prediction> = predictions.iter().map(|p| (p.id.as_str(), p)).collect();
    let report = read_report(dir);
    let rows = config
        .items
        .iter()
        .filter_map(|id| {
            let item = items.get(id)?;
            let p = latest.get(id.as_str())?;
            let r = reviews.get(id);
            Some(ItemReview {
                id: id.clone(),
                category: item.category.clone(),
                question: item.question.clone(),
                context: item.context.clone(),
                gold: item.answer.clone(),
                extracted: r.and_then(|r| r.extracted.clone()),
                correct: r.is_some_and(|r| r.correct),
                reason: r.map(|r| r.reason.clone()).or_else(|| p.error.clone()).unwrap_or_else(|| "not scored yet".into()),
                judge_error: r.is_some_and(|r| r.judge_error),
                reasoning: p.reasoning.clone().unwrap_or_default(),
                answer: p.answer.clone().unwrap_or_else(|| p.output.clone()),
                finish_reason: p.finish_reason,
                completion_tokens: p.completion_tokens,
                seconds: p.seconds,
            })
        })
        .collect();
    Ok(RunDetail { summary: summary(dir, &config, report.as_ref(), answered(&predictions)), config, report, reviews: rows })
}

/// How many wrong answers a report lists in full.
const WRONG_IN_REPORT: usize = 25;

/// The run as a report: scores, provenance, the wrong answers with their reasoning, and the
/// disclaimer. Markdown, which the report module renders to HTML and PDF.
pub fn document(d: &RunDetail, app_version: &str, generated: &str) -> String {
    let c = &d.config;
    let mut o = match &d.report {
        Some(r) => report::markdown(r),
        None => format!("# Evaluation: {} on {}\n\nNot scored yet: {} of {} items answered.\n", c.model, c.bench, d.summary.answered, d.summary.planned),
    };
    o.push_str("\n## Provenance\n\n| | |\n|---|---|\n");
    let mut row = |k: &str, v: String| o.push_str(&format!("| {k} | {} |\n", inline(&v)));
    row("Run", d.summary.id.clone());
    row("Engine", super::record::engine_word(c.engine).to_owned());
    row("Model", c.model.clone());
    if let Some(h) = &c.model_sha256 {
        row("Model SHA-256", h.clone());
    }
    row("Quantization", c.quantization.clone().unwrap_or_else(|| "not reported".into()));
    if let Some(u) = &c.remote_url {
        row("Server", u.clone());
    }
    let s = &c.sampling;
    row(
        "Sampling",
        format!(
            "temperature {} · top-p {} · top-k {} · repetition penalty {} · max tokens {} · seed {}",
            s.temperature,
            s.top_p,
            s.top_k,
            s.repetition_penalty,
            s.max_tokens,
            s.seed.map_or_else(|| "random".into(), |v| v.to_string())
        ),
    );
    row(
        "Prompt",
        format!(
            "{} (prompt version {})",
            c.scenario.as_deref().map_or_else(|| "Fin-R1's `<think>`/`<answer>` system prompt".to_owned(), |s| format!("preset {s}")),
            c.prompt_version
        ),
    );
    for (file, hash) in &c.data {
        row("Data file", format!("{file} (SHA-256 {hash})"));
    }
    row("Sample", format!("at most {} items per category, seed {} ({} items)", c.limit, c.seed, c.items.len()));
    row("Scoring", if c.strict { "strict (FinQA's round(x, 5) equality)".into() } else { "rules (tolerant numbers, units, percent)".into() });
    if let Some(j) = &c.judge {
        row(
            "Judge",
            format!("{} · {} at {}", serde_json::to_value(j.mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), j.model, j.url),
        );
    }
    row("Generated", format!("{generated} by Fin-R1 Desktop {app_version}"));

    let wrong: Vec<&ItemReview> = d.reviews.iter().filter(|r| !r.correct).collect();
    if !wrong.is_empty() {
        o.push_str(&format!("\n## Wrong answers ({} of {} answered", wrong.len(), d.reviews.len()));
        if wrong.len() > WRONG_IN_REPORT {
            o.push_str(&format!("; the first {WRONG_IN_REPORT} shown"));
        }
        o.push_str(")\n");
        for r in wrong.iter().take(WRONG_IN_REPORT) {
            o.push_str(&format!("\n### {} ({})\n\n", r.id, r.category));
            o.push_str(&quote(&r.question));
            o.push_str(&format!(
                "\n- Reference: {}\n- Read from the answer: {}\n- Why: {}\n",
                inline(&r.gold),
                inline(r.extracted.as_deref().unwrap_or("nothing")),
                inline(&r.reason)
            ));
            if !r.reasoning.trim().is_empty() {
                o.push_str("\nReasoning:\n\n");
                o.push_str(&quote(&clip(&r.reasoning, 1500)));
            }
            if !r.answer.trim().is_empty() {
                o.push_str("\nAnswer:\n\n");
                o.push_str(&quote(&clip(&r.answer, 1500)));
            }
        }
    }
    o.push_str(&format!("\n---\n\n{}\n\n{}\n", fin_r1_report::DISCLAIMER_ZH, fin_r1_report::DISCLAIMER_EN));
    o
}

fn clip(s: &str, n: usize) -> String {
    let t = s.trim();
    if t.chars().count() <= n {
        t.to_owned()
    } else {
        format!("{} …", t.chars().take(n).collect::<String>())
    }
}

/// Model text inside a block quote: each line quoted, so nothing it writes becomes a heading
/// of the report.
fn quote(s: &str) -> String {
    s.trim().lines().map(|l| format!("> {l}\n")).collect::<String>() + "\n"
}

fn inline(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

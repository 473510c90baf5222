//! `fin-r1 eval`: benchmark runs (`run`), re-scoring outputs (`score`), runs side by side
//! (`compare`) and a benchmark file in the normalised form (`items`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use fin_r1_core::backend::Backend;
use fin_r1_core::remote::RemoteConfig;
use fin_r1_engine::{Engine, SamplingOverrides, FIN_R1_SYSTEM_PROMPT};
use fin_r1_eval::judge::JudgeMode;
use fin_r1_eval::report::{self, Report};
use fin_r1_eval::run::Judge;
use fin_r1_eval::run::{self, RunOptions};
use fin_r1_eval::sample::DEFAULT_LIMIT;
use fin_r1_eval::score::Rules;
use fin_r1_eval::{plan, prompt::PROMPT_VERSION, Bench};
use fin_r1_eval::{JudgeConfig, RunConfig};

use super::{EngineArgs, RemoteArgs};

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: EvalCommand,
}

// Parsed once per process: the size of one variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Ask a benchmark's items of a model (local or remote) and score the answers.
    Run(RunArgs),
    /// Score outputs already made (`{"id","output","finish_reason"?}` lines) against items.
    Score(ScoreArgs),
    /// Runs side by side: one column per run folder.
    Compare(CompareArgs),
    /// A benchmark file as normalised items (JSON Lines on standard output).
    Items(ItemsArgs),
}

#[derive(Args, Debug)]
struct DataArgs {
    /// convfinqa, tatqa, tfns, fin-eva, fineval or jsonl.
    #[arg(long, value_parser = super::kebab::<Bench>)]
    bench: Bench,
    /// The benchmark file (a folder of CSV files for fin-eva and fineval).
    #[arg(long)]
    data: PathBuf,
    /// At most this many items per category (all when fewer), chosen by a seeded shuffle.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Ask with this preset's system prompt instead of Fin-R1's <think>/<answer> one.
    #[arg(long)]
    scenario: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Default 0 (greedy), as the paper's scores were made.
    #[arg(long)]
    temperature: Option<f32>,
    /// Requests at once to a remote server (the local engine answers one at a time).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Longest an item may take, in seconds (then it is tried again, twice at most).
    #[arg(long, default_value_t = 900)]
    timeout_s: u64,
    /// FinQA's own rule for numbers: equal at 5 decimals, nothing else accepted.
    #[arg(long)]
    strict: bool,
    /// An OpenAI-compatible server that grades answers (up to /v1; `fin-r1 serve` will do).
    #[arg(long)]
    judge_remote: Option<String>,
    #[arg(long, default_value = "Fin-R1")]
    judge_model: String,
    #[arg(long, env = "FIN_R1_JUDGE_API_KEY", hide_env_values = true)]
    judge_api_key: Option<String>,
    /// rule: the rules alone; llm: the judge decides; llm-recall: the judge only where the rules say
    /// wrong; reasoning: the judge grades each reasoning chain on seven criteria.
    #[arg(long, value_parser = super::kebab::<JudgeMode>, default_value = "rule")]
    judge: JudgeMode,
    /// The run's folder (default: a new one in the data folder's eval-runs, where the app's
    /// Evaluate page lists it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Go on with the run in --out: items already answered are not asked again.
    #[arg(long)]
    resume: bool,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ScoreArgs {
    #[arg(long)]
    items: PathBuf,
    #[arg(long)]
    predictions: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    strict: bool,
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// Run folders (each with a report.json).
    #[arg(required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct ItemsArgs {
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(a: EvalArgs) -> anyhow::Result<i32> {
    match a.command {
        EvalCommand::Run(a) => run_bench(a),
        EvalCommand::Score(a) => score(a),
        EvalCommand::Compare(a) => compare(a),
        EvalCommand::Items(a) => items(a),
    }
}

fn chosen(d: &DataArgs) -> anyhow::Result<Vec<fin_r1_eval::Item>> {
    Ok(plan::chosen(d.bench, &d.data, d.limit, d.seed)?)
}

fn items(a: ItemsArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    for it in chosen(&a.data)? {
        writeln!(out, "{}", serde_json::to_string(&it)?)?;
    }
    Ok(0)
}

fn run_bench(a: RunArgs) -> anyhow::Result<i32> {
    let out = match (&a.out, a.resume) {
        (Some(o), _) => o.clone(),
        (None, true) => bail!("--resume needs --out: the folder of the run to go on with"),
        (None, false) => fin_r1_eval::runs::new_dir(&fin_r1_core::paths::eval_runs_dir(&super::data_dir(&a.data_dir)), a.data.bench.name()),
    };
    let items = chosen(&a.data)?;
    let runtime = fin_r1_core::rt::io("fin-r1-eval")?;
    let backend = match a.remote.config() {
        Some(config) => Backend::remote(config, runtime.handle().clone())?,
        None => {
            let path = a.engine.path()?;
            eprintln!("Loading {} …", path.display());
            Backend::Local(Arc::new(Engine::load(path, a.engine.load_options()).with_context(|| path.display().to_string())?))
        }
    };
    let (system_prompt, preset) = match &a.scenario {
        Some(id) => {
            let data_dir = super::data_dir(&a.data_dir);
            let lib = fin_r1_core::scenario::Library::load(Some(&data_dir.join("scenarios")));
            let s = lib.get(id)?;
            (Some(s.system_prompt.clone()), Some(s.sampling.to_params()))
        }
        None => (Some(FIN_R1_SYSTEM_PROMPT.to_owned()), None),
    };
    let asked = SamplingOverrides { temperature: a.temperature, max_tokens: a.max_tokens, ..SamplingOverrides::default() };
    let sampling = plan::sampling(backend.default_sampling(), preset.as_ref(), a.data.seed, &asked)?;
    let judge_backend = match (&a.judge_remote, a.judge) {
        (_, JudgeMode::Rule) => None,
        (None, _) => bail!(
            "--judge {} needs a judge server: --judge-remote URL --judge-model NAME",
            serde_json::to_value(a.judge).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        ),
        (Some(url), _) => {
            let mut c = RemoteConfig::new(url.clone(), a.judge_model.clone());
            c.api_key = a.judge_api_key.clone().filter(|k| !k.is_empty());
            Some(Backend::remote(c, runtime.handle().clone())?)
        }
    };
    let judge_config = a.judge_remote.clone().filter(|_| judge_backend.is_some()).map(|url| JudgeConfig { mode: a.judge, url, model: a.judge_model.clone() });
    if backend.is_local() {
        eprintln!("Hashing the model file …");
    }
    let config = plan::config(
        &backend,
        plan::Plan {
            bench: a.data.bench,
            data: a.data.data.clone(),
            limit: a.data.limit,
            seed: a.data.seed,
            sampling,
            system_prompt,
            scenario: a.scenario.clone(),
            strict: a.strict,
            judge: judge_config,
            model_sha256: None,
        },
        &items,
    )?;
    let options = RunOptions {
        out: out.clone(),
        resume: a.resume,
        concurrency: a.concurrency,
        timeout: Duration::from_secs(a.timeout_s.max(1)),
        retries: 2,
        rules: Rules { strict: a.strict },
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("\nStopping after the items in flight are dropped; everything finished is kept (--resume goes on).");
        });
    }
    eprintln!("{} items ({} per category at most) → {}", items.len(), a.data.limit, out.display());
    let judge = judge_backend.as_ref().map(|b| Judge { backend: b, mode: a.judge, max_tokens: 1024, timeout: Duration::from_secs(a.timeout_s.max(1)) });
    let report = run::run(&backend, &items, &config, &options, judge.as_ref(), &stop, |p| {
        let left = p.remaining().map(|d| format!(" · {} left", clock(d))).unwrap_or_default();
        let rate = if p.seconds > 0.0 { format!(" · {:.1} tok/s", p.tokens as f64 / p.seconds) } else { String::new() };
        let line = format!("[{:>5}/{}] accuracy {:.1}%{rate}{left}", p.done, p.total, p.accuracy());
        // Padded: a shorter line (the time left gone at the end) must cover the longer one.
        eprint!("\r{line:<72}");
    })?;
    eprintln!();
    print!("{}", report::markdown(&report));
    Ok(if stop.load(Ordering::Relaxed) { 130 } else { 0 })
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn score(a: ScoreArgs) -> anyhow::Result<i32> {
    let items = fin_r1_eval::record::read_items(&a.items)?;
    let predictions = fin_r1_eval::record::read_predictions(&a.predictions)?;
    if predictions.is_empty() {
        bail!("{}: no prediction lines (each: {{\"id\", \"output\", \"finish_reason\"?}})", a.predictions.display());
    }
    // Outputs made elsewhere: the config says what is known.
    let config = match std::fs::read_to_string(a.predictions.with_file_name("config.json")) {
        Ok(t) => serde_json::from_str(&t).unwrap_or_else(|_| outside_config(&items, a.strict)),
        Err(_) => outside_config(&items, a.strict),
    };
    let report = run::score_run(&a.out, &items, &predictions, &config, Rules { strict: a.strict })?;
    print!("{}", report::markdown(&report));
    Ok(0)
}

fn outside_config(items: &[fin_r1_eval::Item], strict: bool) -> RunConfig {
    RunConfig {
        bench: items.first().map(|i| i.bench.clone()).unwrap_or_default(),
        data: BTreeMap::new(),
        engine: None,
        model: "(outputs scored as given)".into(),
        model_sha256: None,
        quantization: None,
        remote_url: None,
        sampling: Default::default(),
        system_prompt: None,
        scenario: None,
        prompt_version: PROMPT_VERSION,
        limit: 0,
        seed: 0,
        strict,
        judge: None,
        items: items.iter().map(|i| i.id.clone()).collect(),
    }
}

fn compare(a: CompareArgs) -> anyhow::Result<i32> {
    let mut runs: Vec<(String, Report)> = Vec::new();
    for dir in &a.runs {
        let path = dir.join("report.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: not a finished run (no report.json)", dir.display()))?;
        let r: Report = serde_json::from_str(&text).with_context(|| path.display().to_string())?;
        runs.push((dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string()), r));
    }
    print!("{}", report::compare(&runs));
    Ok(0)
}

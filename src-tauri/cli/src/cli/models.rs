use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use fin_r1_core::hardware::Hardware;
use fin_r1_core::hub::{DownloadRequest, Progress};
use fin_r1_core::library;
use fin_r1_core::model_jobs::{self, JobCancel, JobError, JobEvent, JobOutput, JobSink};
use fin_r1_core::store::{LibraryModel, Store};

#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    /// Data folder holding the model library (default: the platform's app data folder, or
    /// $FIN_R1_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// JSON instead of text (list, import).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Download a file of a hub repository into the Hugging Face cache (resumable); prints its
    /// local path as the last line.
    Download {
        /// e.g. mradermacher/Fin-R1-GGUF
        repo: String,
        /// The file in the repository.
        file: String,
        #[arg(long, default_value = "main")]
        revision: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// The models the app knows, against this machine's memory: what fits, what is suggested.
    Catalog,
    /// Download a catalog model (`models catalog` lists their ids); prints its path last.
    Get {
        id: String,
        /// For the official safetensors weights: the quantization to produce here.
        #[arg(long = "type", default_value = "q4_k_m")]
        target: fin_r1_engine::quantize::Target,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Turn a safetensors Qwen2 checkpoint (such as Fin-R1's bf16 weights) into a GGUF, one
    /// tensor at a time; the result joins the library.
    Quantize {
        /// The checkpoint folder: config.json, tokenizer.json, tokenizer_config.json, *.safetensors.
        checkpoint: PathBuf,
        /// q4_k_m, q8_0, f16 or f32.
        #[arg(long = "type", default_value = "q4_k_m")]
        target: fin_r1_engine::quantize::Target,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Check a GGUF file and add it to the model library.
    Import { path: PathBuf },
    /// The model library: imported, downloaded and quantized GGUF files.
    List,
    /// Take a file out of the library (the file itself stays).
    Remove { path: PathBuf },
}

/// Where and how to reach the hub.
#[derive(Args, Debug)]
struct HubArgs {
    /// The hub or a mirror (default: $HF_ENDPOINT, else https://huggingface.co).
    #[arg(long)]
    endpoint: Option<String>,
    /// Access token for gated or private repositories (default: $HF_TOKEN or the cached login).
    #[arg(long, env = "HF_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The Hugging Face cache folder (default: $HF_HOME/hub or ~/.cache/huggingface/hub).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

impl HubArgs {
    fn request(self, repo: String, file: String, revision: String) -> DownloadRequest {
        DownloadRequest { repo, file, revision, endpoint: self.endpoint, token: self.token, cache_dir: self.cache_dir }
    }
}

/// A progress line on standard error: bytes, rate, time left.
struct Bar {
    file: Mutex<String>,
    total: AtomicU64,
    done: AtomicU64,
    resumed: AtomicU64,
    started: Instant,
    last: Mutex<Instant>,
    tty: bool,
    /// The last line (100 %) has been drawn.
    closed: std::sync::atomic::AtomicBool,
}

fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

impl Bar {
    fn new(file: &str) -> Arc<Self> {
        Arc::new(Self {
            file: Mutex::new(file.to_owned()),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            started: Instant::now(),
            last: Mutex::new(Instant::now()),
            tty: std::io::stderr().is_terminal(),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Draws the download's last line once, if there was a download.
    fn close(&self) {
        if self.total.load(Ordering::Relaxed) > 0 && !self.closed.swap(true, Ordering::Relaxed) {
            self.draw(true);
        }
    }

    fn draw(&self, end: bool) {
        let total = self.total.load(Ordering::Relaxed).max(1);
        let done = self.done.load(Ordering::Relaxed).min(total);
        let fetched = done.saturating_sub(self.resumed.load(Ordering::Relaxed));
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = fetched as f64 / secs;
        let left = if rate > 0.0 { (total - done) as f64 / rate } else { f64::INFINITY };
        let eta = if left.is_finite() { format!("{}:{:02} left", left as u64 / 60, left as u64 % 60) } else { "--:-- left".into() };
        let line = format!(
            "{} {:>5.1}%  {} / {}  {}/s  {}",
            self.file.lock().map(|f| f.clone()).unwrap_or_default(),
            100.0 * done as f64 / total as f64,
            human(done as f64),
            human(total as f64),
            human(rate),
            eta
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        if end && self.tty {
            let _ = writeln!(err);
        }
    }
}

impl Progress for Bar {
    fn start(&self, file: &str, total: u64, resumed_from: u64) {
        if let Ok(mut f) = self.file.lock() {
            *f = file.to_owned();
        }
        self.total.store(total, Ordering::Relaxed);
        self.resumed.store(resumed_from, Ordering::Relaxed);
        if resumed_from > 0 {
            eprintln!("Resuming {file} at {} of {}", human(resumed_from as f64), human(total as f64));
        }
    }
    fn advance(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
        // Redraw a few times a second (a line a second when not a terminal).
        let every = if self.tty { 0.2 } else { 1.0 };
        if let Ok(mut last) = self.last.lock() {
            if last.elapsed().as_secs_f64() >= every {
                *last = Instant::now();
                self.draw(false);
            }
        }
    }
}

impl JobSink for Bar {
    fn event(&self, event: JobEvent) {
        match event {
            JobEvent::Quantize { done, total, tensor } => {
                self.close();
                if self.tty {
                    eprint!("\r\x1b[2K{done}/{total} {tensor}");
                    if done == total {
                        eprintln!();
                    }
                } else if done % 32 == 0 || done == total {
                    eprintln!("{done}/{total} tensors");
                }
            }
            JobEvent::Checking { path } => {
                self.close();
                eprintln!("Checking {path} …");
            }
            JobEvent::Source { repo, file } => eprintln!("{repo} / {file}"),
            JobEvent::Start { .. } | JobEvent::Progress { .. } => {}
        }
    }
}

/// Runs a model job until it ends; Ctrl-C stops it the way the app's Stop button does (the
/// quantizer removes its partial file; a download keeps what it fetched, to resume).
fn run_job(
    runtime: &tokio::runtime::Runtime,
    job: impl FnOnce(JobCancel) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<JobOutput, JobError>> + Send>>,
) -> Result<JobOutput, JobError> {
    let cancel = JobCancel::default();
    let on_ctrl_c = cancel.clone();
    runtime.block_on(async move {
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!();
                eprintln!("Stopping …");
                on_ctrl_c.cancel();
            }
        });
        let r = job(cancel).await;
        watcher.abort();
        r
    })
}

/// Prints how a job ended: the library entry and the path (standard output), or why not.
fn report(out: Result<JobOutput, JobError>, bar: &Bar) -> i32 {
    match out {
        Ok(out) => {
            if out.cached {
                eprintln!("Already in the cache: nothing to fetch.");
            } else {
                bar.close();
            }
            match &out.sha256 {
                Some(h) => eprintln!("SHA-256 {h} matches the hub's."),
                None if bar.total.load(Ordering::Relaxed) > 0 => eprintln!("(the hub gave no SHA-256 for this file: size checked only)"),
                None => {}
            }
            if let Some(m) = &out.model {
                eprintln!("Added to the library: {}", describe(m));
            }
            if let Some(e) = &out.not_added {
                eprintln!("fin-r1: downloaded, but it is not a model the engine can run: {e}");
            }
            println!("{}", out.path.display());
            0
        }
        Err(e) => {
            eprintln!();
            eprintln!("fin-r1: {e}");
            1
        }
    }
}

fn describe(m: &LibraryModel) -> String {
    format!(
        "{}  {}  {}  {:.2} B params  {:.2} GB  ctx {}  {}{}",
        m.file_name,
        m.architecture,
        m.quantization,
        m.n_params as f64 / 1e9,
        m.size as f64 / 1e9,
        m.context,
        m.source,
        m.repo.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    )
}

fn open_store(runtime: &tokio::runtime::Runtime, data_dir: &Option<PathBuf>) -> Option<Store> {
    runtime.block_on(super::open_store(&super::data_dir(data_dir)))
}

/// Downloads with a progress line, checks, adds a GGUF to the library, prints the path last.
fn fetch(runtime: &tokio::runtime::Runtime, req: &DownloadRequest, data_dir: Option<PathBuf>) -> anyhow::Result<i32> {
    let bar = Bar::new(&req.file);
    let store = open_store(runtime, &data_dir);
    let (req, sink) = (req.clone(), bar.clone());
    let out = run_job(runtime, move |cancel| Box::pin(async move { model_jobs::fetch_file(&req, store.as_ref(), sink, &cancel).await }));
    Ok(report(out, &bar))
}

/// A catalog model: its GGUF, or the official checkpoint's files fetched (resumable,
/// hash-checked) then quantized here into the data folder's models/; added to the library.
fn get(
    runtime: &tokio::runtime::Runtime,
    base: &DownloadRequest,
    entry: &fin_r1_core::catalog::Entry,
    target: fin_r1_engine::quantize::Target,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let bar = Bar::new(&entry.repo);
    eprintln!("{} ({})", entry.name, entry.repo);
    let models_dir = super::data_dir(&data_dir).join("models");
    let store = open_store(runtime, &data_dir);
    let (base, entry, sink) = (base.clone(), entry.clone(), bar.clone());
    let out = run_job(runtime, move |cancel| {
        Box::pin(async move { model_jobs::fetch_catalog_model(&entry, &base, target, &models_dir, store.as_ref(), sink, &cancel).await })
    });
    Ok(report(out, &bar))
}

pub fn run(a: ModelsArgs) -> anyhow::Result<i32> {
    let runtime = fin_r1_core::rt::io("fin-r1-models").context("starting the async runtime")?;
    match a.command {
        ModelsCommand::Import { path } => {
            let Some(store) = open_store(&runtime, &a.data_dir) else { return Ok(1) };
            eprintln!("Checking {} …", path.display());
            match runtime.block_on(library::add(&store, &path, "import", None)) {
                Ok(m) => {
                    if a.json {
                        println!("{}", serde_json::to_string_pretty(&m)?);
                    } else {
                        println!("{}", describe(&m));
                    }
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("fin-r1: not imported: {e}");
                    Ok(1)
                }
            }
        }
        ModelsCommand::List => {
            let Some(store) = open_store(&runtime, &a.data_dir) else { return Ok(1) };
            let models = runtime.block_on(store.models())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&models)?);
            } else if models.is_empty() {
                eprintln!("The library is empty: `fin-r1 models import FILE.gguf` or `fin-r1 models download REPO FILE`.");
            } else {
                for m in &models {
                    println!("{}\n    {}", describe(m), m.path);
                }
            }
            Ok(0)
        }
        ModelsCommand::Remove { path } => {
            let Some(store) = open_store(&runtime, &a.data_dir) else { return Ok(1) };
            let key = std::path::absolute(&path).unwrap_or(path.clone());
            let removed = runtime.block_on(store.remove_model(&key.display().to_string()))?;
            if !removed {
                eprintln!("fin-r1: {} is not in the library", path.display());
                return Ok(1);
            }
            Ok(0)
        }
        ModelsCommand::Download { repo, file, revision, hub } => fetch(&runtime, &hub.request(repo, file, revision), a.data_dir),
        ModelsCommand::Quantize { checkpoint, target, out } => {
            let started = Instant::now();
            let bar = Bar::new(&checkpoint.display().to_string());
            let store = open_store(&runtime, &a.data_dir);
            let sink = bar.clone();
            let result = run_job(&runtime, move |cancel| {
                Box::pin(async move { model_jobs::quantize_checkpoint(&checkpoint, &out, target, store.as_ref(), None, sink, &cancel).await })
            });
            if result.is_ok() {
                eprintln!("Quantized in {:.1} s", started.elapsed().as_secs_f64());
            }
            Ok(report(result, &bar))
        }
        ModelsCommand::Catalog => {
            let hw = Hardware::detect();
            let measured = open_store(&runtime, &a.data_dir).and_then(|s| runtime.block_on(s.measured_decode()).ok().flatten());
            let speed = fin_r1_core::catalog::Speed::for_machine(&hw, measured);
            let advice = fin_r1_core::catalog::advise(fin_r1_core::catalog::load()?, &hw, speed);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "hardware": hw, "models": advice }))?);
                return Ok(0);
            }
            let gpus: Vec<String> = hw.gpus.iter().map(|g| format!("{} ({})", g.name, human(g.memory_bytes as f64))).collect();
            println!(
                "This machine: {} memory ({} free), {} cores{}",
                human(hw.memory_bytes as f64),
                human(hw.available_bytes as f64),
                hw.cores,
                if gpus.is_empty() { String::new() } else { format!(", GPU {}", gpus.join(", ")) }
            );
            println!(
                "Speeds: {}",
                match speed {
                    fin_r1_core::catalog::Speed::Measured { answers, .. } => format!("from this machine's last {answers} answers on models of 1 GB or more"),
                    fin_r1_core::catalog::Speed::Benchmark { cores, .. } =>
                        format!("estimated from the engine's benchmark, for {cores} cores (no answer measured here yet)"),
                }
            );
            for ad in &advice {
                let e = &ad.entry;
                println!(
                    "{} {:<16} {:<36} {:>9} download, needs {:>9} {}{}",
                    if ad.suggested { "★" } else { " " },
                    e.id,
                    e.name,
                    human(ad.download_bytes as f64),
                    human(ad.memory_bytes as f64),
                    match ad.fit {
                        fin_r1_core::catalog::FileFit::Fits => "✓ fits",
                        fin_r1_core::catalog::FileFit::Slow => "✓ fits, slow on the CPU",
                        fin_r1_core::catalog::FileFit::TooBig => "✗ too big for this machine",
                    },
                    ad.decode_tok_s.map(|t| format!(" · ~{t:.1} tok/s")).unwrap_or_default()
                );
                println!("    {} · {} · {}", e.repo, e.licence, e.note);
            }
            Ok(0)
        }
        ModelsCommand::Get { id, target, hub } => {
            let entry = match fin_r1_core::catalog::get(&id) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    return Ok(1);
                }
            };
            let base = hub.request(entry.repo.clone(), String::new(), "main".into());
            get(&runtime, &base, &entry, target, a.data_dir)
        }
    }
}

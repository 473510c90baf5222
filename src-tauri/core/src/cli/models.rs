use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use fin_r1_core::hub::{download, DownloadRequest, Progress};

#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
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
        /// The hub or a mirror (default: $HF_ENDPOINT, else https://huggingface.co).
        #[arg(long)]
        endpoint: Option<String>,
        /// Access token for gated or private repositories (default: $HF_TOKEN or the cached login).
        #[arg(long, env = "HF_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The Hugging Face cache folder (default: $HF_HOME/hub or ~/.cache/huggingface/hub).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
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

pub fn run(a: ModelsArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting the async runtime")?;
    match a.command {
        ModelsCommand::Download { repo, file, revision, endpoint, token, cache_dir } => {
            let req = DownloadRequest { repo, file, revision, endpoint, token, cache_dir };
            let bar = Arc::new(Bar {
                file: Mutex::new(req.file.clone()),
                total: AtomicU64::new(0),
                done: AtomicU64::new(0),
                resumed: AtomicU64::new(0),
                started: Instant::now(),
                last: Mutex::new(Instant::now()),
                tty: std::io::stderr().is_terminal(),
            });
            match runtime.block_on(download(&req, bar.clone())) {
                Ok(d) => {
                    if d.cached {
                        eprintln!("Already in the cache: nothing to fetch.");
                    } else {
                        bar.draw(true);
                    }
                    match &d.sha256 {
                        Some(h) => eprintln!("SHA-256 {h} matches the hub's."),
                        None => eprintln!("(the hub gave no SHA-256 for this file: size checked only)"),
                    }
                    println!("{}", d.path.display());
                    Ok(0)
                }
                Err(e) => {
                    eprintln!();
                    eprintln!("fin-r1: {e}");
                    Ok(1)
                }
            }
        }
    }
}

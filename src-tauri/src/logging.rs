//! Logs rotated daily in the data folder's `logs/` (a week kept), and a panic hook that writes
//! a crash report there and leaves a note the next start shows. Prompts and answers are never
//! logged at info level: only what happened, sizes and timings.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

const CRASH_NOTE: &str = "crash.pending";

/// Starts logging to the log folder (and warnings to standard error); the guard flushes on drop.
/// A folder that cannot be written leaves standard error only.
pub fn init(data_dir: &Path) -> Option<WorkerGuard> {
    let dir = fin_r1_core::paths::log_dir(data_dir);
    let filter = || EnvFilter::try_from_env("FIN_R1_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let file = std::fs::create_dir_all(&dir).ok().and_then(|_| {
        RollingFileAppender::builder().rotation(Rotation::DAILY).filename_prefix("fin-r1").filename_suffix("log").max_log_files(7).build(&dir).ok()
    });
    match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = fmt::layer().with_writer(writer).with_ansi(false).with_filter(filter());
            let _ = tracing_subscriber::registry().with(layer).with(fmt::layer().with_writer(std::io::stderr).with_filter(EnvFilter::new("warn"))).try_init();
            Some(guard)
        }
        None => {
            let _ = tracing_subscriber::registry().with(fmt::layer().with_writer(std::io::stderr).with_filter(filter())).try_init();
            eprintln!("Fin-R1 Desktop: cannot write logs to {}", dir.display());
            None
        }
    }
}

/// On a panic: a crash report (version, system, where, backtrace) in the log folder, its path
/// on standard error and in the log, and a note for the next start.
pub fn install_panic_hook(data_dir: &Path) {
    let dir = fin_r1_core::paths::log_dir(data_dir);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let stamp = jiff_stamp();
        let path = dir.join(format!("crash-{stamp}.txt"));
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        let report = format!(
            "Fin-R1 Desktop {} crash report\nTime: {stamp}\nSystem: {} {}\nThread: {thread}\n{info}\n\nBacktrace:\n{}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::backtrace::Backtrace::force_capture()
        );
        let _ = std::fs::create_dir_all(&dir);
        if std::fs::write(&path, report).is_ok() {
            let _ = std::fs::write(dir.join(CRASH_NOTE), path.display().to_string());
            eprintln!("Fin-R1 Desktop met an internal error; a crash report was written to {}", path.display());
        }
        tracing::error!(report = %path.display(), "panic: {info}");
        previous(info);
    }));
}

fn jiff_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{secs}")
}

/// The crash report written since the last start, once.
pub fn take_crash_notice(data_dir: &Path) -> Option<PathBuf> {
    let note = fin_r1_core::paths::log_dir(data_dir).join(CRASH_NOTE);
    let text = std::fs::read_to_string(&note).ok()?;
    let _ = std::fs::remove_file(&note);
    Some(PathBuf::from(text.trim()))
}

//! Reading a file in a child process. The readers hold what they keep to `limits`, but they
//! sit on libraries (a PDF's content streams, a workbook's XML) that can still abort, recurse
//! off the stack or run for ever on a crafted file: the app reads through `fin-r1 documents
//! extract --child`, under an address-space and a processor-time limit and a wall-clock
//! timeout, so that a reader that dies takes nothing but itself. The child writes one JSON
//! message a line: progress, then the document or the reason it could not read it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{extract_with, Document, DocumentError};

/// What the reader child may use.
#[derive(Debug, Clone, Copy)]
pub struct ChildLimits {
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub wall: Duration,
}

impl Default for ChildLimits {
    /// A 300-page annual report reads in well under a minute and a few hundred MB.
    fn default() -> Self {
        Self { memory_bytes: 4 << 30, cpu_seconds: 300, wall: Duration::from_secs(600) }
    }
}

/// One line of the child's output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    Progress {
        done: u32,
        total: u32,
    },
    Document(Box<Document>),
    Error {
        cancelled: bool,
        message: String,
        /// What kind of failure it was (a file not there is not a damaged file); a child of an
        /// earlier build says none.
        #[serde(default)]
        kind: Option<fin_r1_engine::ErrorKind>,
    },
}

/// The reading program's pid, given to its child: a child whose parent is another has been
/// orphaned (its parent killed before the child could ask to die with it).
const PARENT_ENV: &str = "FIN_R1_READER_PARENT";

/// The longest line taken from a child: the text limit as JSON, with room.
const MAX_LINE_BYTES: u64 = 64 << 20;

/// The program that reads: `$FIN_R1_READER` when set (a packager's choice, or a test's), else
/// this program itself — the app and `fin-r1` both answer `documents extract --child` (see
/// `serve_if_asked`), so no second binary has to be shipped beside the app.
pub fn reader_program() -> PathBuf {
    if let Some(p) = std::env::var_os("FIN_R1_READER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from(format!("fin-r1{}", std::env::consts::EXE_SUFFIX)))
}

/// For a program's `main`, before anything else starts: when it was started as a reader child
/// (`documents extract --child [--max-memory-mb N] [--max-cpu-seconds N] -- FILE`), serves
/// that and returns the exit code.
pub fn serve_if_asked(args: &[std::ffi::OsString]) -> Option<i32> {
    let words: Vec<&std::ffi::OsStr> = args.iter().skip(1).map(|a| a.as_os_str()).collect();
    if words.len() < 3 || words[..3] != ["documents", "extract", "--child"] {
        return None;
    }
    let mut limits = ChildLimits::default();
    let mut i = 3;
    while i < words.len() {
        let value = |i: usize| words.get(i + 1).and_then(|v| v.to_str()).and_then(|v| v.parse::<u64>().ok());
        match words[i].to_str() {
            Some("--max-memory-mb") => limits.memory_bytes = value(i)?.saturating_mul(1 << 20),
            Some("--max-cpu-seconds") => limits.cpu_seconds = value(i)?,
            Some("--") => {
                let path = words.get(i + 1)?;
                return Some(serve(Path::new(path), limits, &mut std::io::stdout().lock()));
            }
            _ => return None,
        }
        i += 2;
    }
    None
}

/// The child's side: limits itself, reads `path` and writes the messages to `out`. Returns the
/// exit code.
pub fn serve(path: &Path, limits: ChildLimits, out: &mut dyn Write) -> i32 {
    if let Err(e) = limit_self(limits) {
        let _ = writeln!(out, "{}", line(&Message::Error { cancelled: false, message: format!("the reader could not limit itself: {e}"), kind: None }));
        return 1;
    }
    let mut on_page = |done: u32, total: u32| {
        // The parent gone (the analyst cancelled): stop reading.
        writeln!(out, "{}", line(&Message::Progress { done, total })).and_then(|_| out.flush()).is_ok()
    };
    let read = extract_with(path, &mut on_page);
    let (message, code) = match read {
        Ok(doc) => (Message::Document(Box::new(doc)), 0),
        Err(e) => (Message::Error { cancelled: matches!(e, DocumentError::Cancelled(_)), message: e.to_string(), kind: Some(e.kind()) }, 1),
    };
    let written = writeln!(out, "{}", line(&message)).and_then(|_| out.flush());
    if written.is_err() {
        return 1;
    }
    code
}

fn line(m: &Message) -> String {
    serde_json::to_string(m).unwrap_or_else(|e| format!(r#"{{"error":{{"cancelled":false,"message":"the document could not be written: {e}"}}}}"#))
}

#[cfg(unix)]
fn limit_self(limits: ChildLimits) -> Result<(), String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    // Never above what this process may already use (a lower `ulimit` it inherited).
    let lower = |resource: Resource, soft: u64, hard: u64| -> Result<(), String> {
        let (_, max) = getrlimit(resource).map_err(|e| e.to_string())?;
        setrlimit(resource, soft.min(max), hard.min(max)).map_err(|e| e.to_string())
    };
    lower(Resource::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes).map_err(|e| format!("memory: {e}"))?;
    // The soft limit sends SIGXCPU; the hard one a second later, SIGKILL.
    lower(Resource::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1).map_err(|e| format!("processor time: {e}"))?;
    // A crash leaves no core file of a document the analyst was sent.
    lower(Resource::RLIMIT_CORE, 0, 0).map_err(|e| format!("core files: {e}"))?;
    // A parent killed mid-read (the app, a chat) takes its reader with it at once, rather than
    // at the next page's progress line, which a single slow page may put off for minutes.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(|e| format!("parent death signal: {e}"))?;
        // Killed before the line above: already an orphan, adopted by another process.
        let parent = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<i32>().ok());
        if parent.is_some_and(|p| nix::unistd::getppid() != nix::unistd::Pid::from_raw(p)) {
            return Err("the program that asked for this file has ended".into());
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_self(_limits: ChildLimits) -> Result<(), String> {
    // No resource limits here: the wall-clock timeout and the kill on cancel still hold.
    Ok(())
}

/// The app's side: reads `path` with `program` (see `reader_program`) as a child, telling
/// `on_page` its progress; `stop` set kills it.
pub fn extract_in_child(
    program: &Path,
    path: &Path,
    limits: ChildLimits,
    on_page: &mut dyn FnMut(u32, u32),
    stop: &AtomicBool,
) -> Result<Document, DocumentError> {
    let shown = path.display().to_string();
    let stopped = |why: String| DocumentError::reader(format!("{shown}: could not read this file (the reader stopped: {why})"));
    let mut command = Command::new(program);
    #[cfg(windows)]
    {
        // No console window flashing up behind the app for each file.
        use std::os::windows::process::CommandExt;
        command.creation_flags(0x0800_0000);
    }
    command
        .args(["documents", "extract", "--child", "--max-memory-mb"])
        .arg((limits.memory_bytes >> 20).to_string())
        .arg("--max-cpu-seconds")
        .arg(limits.cpu_seconds.to_string())
        .arg("--")
        .arg(path)
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // "Text file busy": a program just written (an update being installed) is still open for
    // writing in a process another thread forked meanwhile; it clears within moments.
    let mut tries = 0;
    let mut child = loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            other => break other,
        }
    }
    .map_err(|e| DocumentError::reader(format!("{shown}: the document reader {} could not be started: {e}", program.display())))?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        let mut lines = BufReader::new(stdout);
        loop {
            let mut buf = Vec::new();
            // A line is read up to the limit, never to what the child writes.
            match (&mut lines).take(MAX_LINE_BYTES).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) if !buf.ends_with(b"\n") && buf.len() as u64 >= MAX_LINE_BYTES => {
                    let _ = tx.send(Err(format!("it wrote more than {} MB at once", MAX_LINE_BYTES >> 20)));
                    return;
                }
                Ok(_) => {
                    let parsed = serde_json::from_slice::<Message>(&buf).map_err(|e| format!("it wrote what is not a reader's message ({e})"));
                    if tx.send(parsed).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        // The last few KB the child said on stderr (a panic's message, an allocation failure).
        let mut tail = Vec::new();
        if let Some(mut e) = stderr {
            let mut buf = [0u8; 4096];
            while let Ok(n) = e.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 8192 {
                    tail.drain(..tail.len() - 4096);
                }
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    });
    let started = Instant::now();
    let mut outcome: Option<Result<Document, DocumentError>> = None;
    while outcome.is_none() {
        // Checked on every pass: a child sending progress all the time is still stopped.
        if stop.load(Ordering::Relaxed) {
            let _ = child.kill();
            outcome = Some(Err(DocumentError::Cancelled(shown.clone())));
            break;
        }
        if started.elapsed() > limits.wall {
            let _ = child.kill();
            outcome = Some(Err(stopped(format!("it took longer than {} s", limits.wall.as_secs()))));
            break;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Message::Progress { done, total })) => on_page(done, total),
            Ok(Ok(Message::Document(doc))) => outcome = Some(Ok(*doc)),
            Ok(Ok(Message::Error { cancelled: true, .. })) => outcome = Some(Err(DocumentError::Cancelled(shown.clone()))),
            Ok(Ok(Message::Error { message, kind, .. })) => outcome = Some(Err(DocumentError::Reader { message, kind })),
            Ok(Err(why)) => {
                let _ = child.kill();
                outcome = Some(Err(stopped(why)));
            }
            // Its output closed without a last message: it died (or exits); said below.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    // A child that has said its last word exits at once; one that does not is ended.
    let settle = Instant::now();
    while matches!(child.try_wait(), Ok(None)) && settle.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
    }
    let status = child.wait();
    let _ = reader.join();
    let said = errors.join().unwrap_or_default();
    if let Some(outcome) = outcome {
        return outcome;
    }
    let why = match status {
        Ok(status) => died(status, &said, limits),
        Err(e) => format!("it could not be waited for: {e}"),
    };
    Err(stopped(why))
}

/// Why a child that wrote no last message ended, in the analyst's words.
fn died(status: std::process::ExitStatus, stderr: &str, limits: ChildLimits) -> String {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim).unwrap_or("");
    if stderr.contains("memory allocation of") || stderr.contains("out of memory") || stderr.contains("capacity overflow") {
        return format!("it needed more than the {} MB of memory a reader may use", limits.memory_bytes >> 20);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return match signal {
                // SIGXCPU at the soft limit, SIGKILL at the hard one.
                24 | 9 => format!("it used more than {} s of processor time, or was killed", limits.cpu_seconds),
                11 | 7 => "it crashed (a stack overflow or a bad memory access)".to_owned(),
                6 if !last.is_empty() => format!("it aborted: {last}"),
                6 => "it aborted".to_owned(),
                n => format!("it was ended by signal {n}"),
            };
        }
    }
    match (status.code(), last.is_empty()) {
        (Some(code), true) => format!("it exited with code {code} and no answer"),
        (Some(code), false) => format!("it exited with code {code}: {last}"),
        (None, _) => "it ended with no answer".to_owned(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A reader that dies mid-file is a clear error, not the caller's end.
    #[test]
    fn a_child_that_dies_is_said_in_one_line() {
        let dir = std::env::temp_dir().join(format!("fin-r1-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("reader.sh");
        std::fs::write(&fake, "#!/bin/sh\necho '{\"progress\":{\"done\":1,\"total\":9}}'\necho 'thread main panicked' >&2\nkill -SEGV $$\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut seen = Vec::new();
        let e = extract_in_child(&fake, Path::new("report.pdf"), ChildLimits::default(), &mut |d, t| seen.push((d, t)), &AtomicBool::new(false)).unwrap_err();
        assert_eq!(seen, [(1, 9)]);
        assert_eq!(e.to_string(), "report.pdf: could not read this file (the reader stopped: it crashed (a stack overflow or a bad memory access))");
    }

    /// A child that keeps sending progress is still stopped (the checks ran only when nothing
    /// arrived for a tenth of a second).
    #[test]
    fn a_child_sending_progress_all_the_time_is_still_stopped() {
        let dir = std::env::temp_dir().join(format!("fin-r1-child-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let busy = dir.join("reader.sh");
        std::fs::write(&busy, "#!/bin/sh\nwhile :; do echo '{\"progress\":{\"done\":1,\"total\":9}}'; sleep 0.01; done\n").unwrap();
        std::fs::set_permissions(&busy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let limits = ChildLimits { wall: Duration::from_millis(500), ..ChildLimits::default() };
        let t = Instant::now();
        let e = extract_in_child(&busy, Path::new("a.pdf"), limits, &mut |_, _| {}, &AtomicBool::new(false)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert!(e.to_string().contains("it took longer than"), "{e}");
    }

    #[test]
    fn only_a_childs_arguments_are_served() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(serve_if_asked(&args(&["app"])), None);
        assert_eq!(serve_if_asked(&args(&["app", "documents", "extract", "x.pdf"])), None);
        assert_eq!(serve_if_asked(&args(&["app", "documents", "extract", "--child", "--max-memory-mb", "lots", "--", "x.pdf"])), None);
    }

    #[test]
    fn a_child_past_its_time_or_stopped_is_killed() {
        let dir = std::env::temp_dir().join(format!("fin-r1-child-slow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let slow = dir.join("reader.sh");
        std::fs::write(&slow, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let limits = ChildLimits { wall: Duration::from_millis(300), ..ChildLimits::default() };
        let t = Instant::now();
        let e = extract_in_child(&slow, Path::new("a.xlsx"), limits, &mut |_, _| {}, &AtomicBool::new(false)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(e.to_string().ends_with("(the reader stopped: it took longer than 0 s)"), "{e}");
        let e = extract_in_child(&slow, Path::new("a.xlsx"), ChildLimits::default(), &mut |_, _| {}, &AtomicBool::new(true)).unwrap_err();
        assert!(matches!(e, DocumentError::Cancelled(_)), "{e}");
    }
}

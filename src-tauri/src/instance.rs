//! One app per data folder: the first launch holds a lock and listens on a loopback port; a
//! second launch tells it to come to the front (and to open the `.gguf` it was given, from the
//! file manager's "Open with") and ends. A plain TCP port works the same on every system.
//! Anyone on loopback can connect to it, so a request must carry the random token the first
//! launch wrote beside the port (in the user's own data folder), and a request is one line of
//! at most `MAX_REQUEST` bytes.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tauri::{Emitter, Manager, Runtime};

use crate::state::AppState;

/// The longest request line read: "TOKEN open PATH" with a long path fits.
const MAX_REQUEST: u64 = 8 << 10;

pub struct Instance {
    listener: TcpListener,
    token: String,
    /// Held for the life of the app: the lock is what makes it the first.
    _lock: File,
}

/// A `.gguf` named on the command line (a double-click in the file manager).
pub fn model_argument() -> Option<PathBuf> {
    std::env::args_os().skip(1).map(PathBuf::from).find(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")))
}

/// `Some` for the first instance; `None` when one is running (it has been told to show).
pub fn claim(data_dir: &Path) -> anyhow::Result<Option<Instance>> {
    let lock_path = data_dir.join("instance.lock");
    let port_path = data_dir.join("instance.port");
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).with_context(|| format!("opening {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("listening for a second launch")?;
            let token = fin_r1_core::paths::random_token();
            write_private(&port_path, &format!("{} {token}\n", listener.local_addr()?.port())).with_context(|| format!("writing {}", port_path.display()))?;
            Ok(Some(Instance { listener, token, _lock: lock }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let text = std::fs::read_to_string(&port_path).unwrap_or_default();
            let (port, token) = text.trim().split_once(' ').and_then(|(p, t)| Some((p.parse::<u16>().ok()?, t))).context("the running app left no port")?;
            let mut s = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(3)).context("reaching the running app")?;
            let line = match model_argument().and_then(|p| std::fs::canonicalize(p).ok()) {
                Some(p) => format!("{token} open {}\n", p.display()),
                None => format!("{token} focus\n"),
            };
            s.write_all(line.as_bytes())?;
            eprintln!("Fin-R1 Desktop is already running: its window was brought to the front.");
            Ok(None)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", lock_path.display())),
    }
}

impl Instance {
    /// Answers later launches for as long as the app runs.
    pub fn serve<R: Runtime>(self, app: tauri::AppHandle<R>) {
        let Instance { listener, token, _lock } = self;
        std::thread::spawn(move || {
            let _lock = _lock;
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let Some(request) = read_request(stream, &token) else { continue };
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
                if let Request::Open(path) = request {
                    open_model(&app, path);
                }
            }
        });
    }
}

#[derive(Debug, PartialEq)]
enum Request {
    Focus,
    Open(PathBuf),
}

/// One request line, if it is whole, within `MAX_REQUEST` bytes and carries the token.
fn read_request(stream: impl Read, token: &str) -> Option<Request> {
    let mut line = String::new();
    let n = BufReader::new(stream.take(MAX_REQUEST)).read_line(&mut line).ok()?;
    if n == 0 || !line.ends_with('\n') {
        return None;
    }
    let (given, rest) = line.trim_end_matches(['\r', '\n']).split_once(' ')?;
    if !same(given, token) {
        return None;
    }
    match rest {
        "focus" => Some(Request::Focus),
        r => r.strip_prefix("open ").filter(|p| !p.is_empty()).map(|p| Request::Open(PathBuf::from(p))),
    }
}

/// Token comparison that does not stop at the first differing byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes a file only its owner can read (the token in it lets a process drive the app).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut o = OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    // `mode` applies only to a new file: one an older version wrote keeps its mode otherwise.
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

/// Loads a model the file manager handed over and tells the page.
pub fn open_model<R: Runtime>(app: &tauri::AppHandle<R>, path: PathBuf) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        state.wait_startup().await;
        if let Err(e) = state.choose_model(&path).await {
            state.record_error(&e.to_string());
            state.notice(e.to_string());
        }
        let _ = app.emit("model-changed", ());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_the_token_and_a_bounded_line() {
        let t = "0123456789abcdef";
        assert_eq!(read_request(&b"0123456789abcdef focus\n"[..], t), Some(Request::Focus));
        assert_eq!(read_request(&b"0123456789abcdef open /m/a b.gguf\n"[..], t), Some(Request::Open("/m/a b.gguf".into())));
        // No token, a wrong one, or a half line: ignored.
        assert_eq!(read_request(&b"focus\n"[..], t), None);
        assert_eq!(read_request(&b"open /etc/passwd\n"[..], t), None);
        assert_eq!(read_request(&b"0123456789abcdeX focus\n"[..], t), None);
        assert_eq!(read_request(&b"0123456789abcdef focus"[..], t), None);
        // An endless line is read only up to the bound (it once grew without limit).
        let endless = std::io::repeat(b'a');
        assert_eq!(read_request(endless, t), None);
    }
}

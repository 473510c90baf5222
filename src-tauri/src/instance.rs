//! One app per data folder: the first launch holds a lock and listens on a loopback port; a
//! second launch tells it to come to the front (and to open the `.gguf` it was given, from the
//! file manager's "Open with") and ends. A plain TCP port works the same on every system.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tauri::{Emitter, Manager, Runtime};

use crate::state::AppState;

pub struct Instance {
    listener: TcpListener,
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
            std::fs::write(&port_path, listener.local_addr()?.port().to_string()).with_context(|| format!("writing {}", port_path.display()))?;
            Ok(Some(Instance { listener, _lock: lock }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let port: u16 = std::fs::read_to_string(&port_path).ok().and_then(|p| p.trim().parse().ok()).context("the running app left no port")?;
            let mut s = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(3)).context("reaching the running app")?;
            let line = match model_argument().and_then(|p| std::fs::canonicalize(p).ok()) {
                Some(p) => format!("open {}\n", p.display()),
                None => "focus\n".into(),
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
        let Instance { listener, _lock } = self;
        std::thread::spawn(move || {
            let _lock = _lock;
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_err() {
                    continue;
                }
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
                if let Some(path) = line.trim().strip_prefix("open ") {
                    open_model(&app, PathBuf::from(path));
                }
            }
        });
    }
}

/// Loads a model the file manager handed over and tells the page.
pub fn open_model<R: Runtime>(app: &tauri::AppHandle<R>, path: PathBuf) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        state.wait_startup().await;
        if let Err(e) = state.load_model(&path).await {
            state.record_error(&e.to_string());
            state.notice(e.to_string());
        }
        let _ = app.emit("model-changed", ());
    });
}

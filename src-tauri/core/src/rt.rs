//! The one policy for async runtimes. The model computes on its own threads (rayon and the
//! engine's worker); tokio only waits on sockets, files and timers. So:
//! - a binary builds one `io` runtime at its edge (`main` or a command's entry) and hands its
//!   `Handle` down; library code takes a handle and never builds a runtime of its own,
//! - a thread that blocks on one request at a time (an evaluation worker, the judge) builds a
//!   `local` runtime for itself,
//! - a job that must be stopped with everything it spawned (a download whose chunk tasks must
//!   not outlive it) runs on an `io` runtime of its own, dropped when it ends.
//!
//! The app's shell is the one exception: Tauri owns its runtime (`tauri::async_runtime`).

use tokio::runtime::{Builder, Runtime};

/// Two workers are plenty to wait on I/O; named, so a stack dump says whose they are.
pub fn io(name: &str) -> std::io::Result<Runtime> {
    Builder::new_multi_thread().worker_threads(2).thread_name(name).enable_all().build()
}

/// For a thread that blocks on its own requests one at a time.
pub fn local() -> std::io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

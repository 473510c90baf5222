//! The model on a dedicated thread fed by a queue. Callers get a `Generation` handle: its events
//! arrive on a channel usable from sync and async code alike, and dropping the handle cancels
//! the generation (Zed-style), as does `cancel()`.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::error::{EngineError, Result};
use crate::events::GenerationEvent;
use crate::runtime::{CancelToken, GenerationRequest, LoadOptions, ModelInfo, Runtime};

enum Job {
    Generate { request: GenerationRequest, events: UnboundedSender<GenerationEvent>, cancel: CancelToken },
    ResetCache,
}

pub struct Engine {
    jobs: Option<mpsc::Sender<Job>>,
    info: Arc<ModelInfo>,
    thread: Option<JoinHandle<()>>,
}

pub struct Generation {
    events: UnboundedReceiver<GenerationEvent>,
    cancel: CancelToken,
}

impl Generation {
    /// A generation fed by another producer (the remote engine) through the same kind of
    /// channel; `cancel` is set when the handle is dropped.
    pub fn from_channel(events: UnboundedReceiver<GenerationEvent>, cancel: CancelToken) -> Self {
        Self { events, cancel }
    }
    /// The next event, blocking; `None` once the stream has ended.
    pub fn blocking_next(&mut self) -> Option<GenerationEvent> {
        self.events.blocking_recv()
    }
    pub async fn next(&mut self) -> Option<GenerationEvent> {
        self.events.recv().await
    }
    pub fn cancel(&self) {
        self.cancel.cancel()
    }
    /// Events produced and not read yet (a reader that lags a fast model has a backlog). For
    /// tests that tell the engine's latency from the reader's.
    #[cfg(feature = "test-support")]
    pub fn queued(&self) -> usize {
        self.events.len()
    }
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Engine {
    /// Loads the model on the engine's own thread and returns once it is ready (or failed).
    pub fn load(path: &Path, opts: LoadOptions) -> Result<Self> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("fin-r1-engine".into())
            .spawn(move || {
                let mut rt = match Runtime::load(&path, &opts) {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(rt.info().clone()));
                        rt
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in jobs_rx {
                    match job {
                        Job::Generate { request, events, cancel } => {
                            rt.generate(&request, &cancel, &mut |ev| events.send(ev).is_ok());
                        }
                        Job::ResetCache => rt.reset_cache(),
                    }
                }
            })
            .map_err(|e| EngineError::Compute(format!("cannot start the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(info)) => Ok(Self { jobs: Some(jobs_tx), info: Arc::new(info), thread: Some(thread) }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            // The thread died without a word: a panic inside the loader.
            Err(_) => Err(EngineError::Compute("the engine thread stopped while loading the model".into())),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Queues a generation; it starts once those before it have finished.
    pub fn generate(&self, request: GenerationRequest) -> Generation {
        let (tx, rx) = unbounded_channel();
        let cancel = CancelToken::default();
        let job = Job::Generate { request, events: tx.clone(), cancel: cancel.clone() };
        let sent = self.jobs.as_ref().map(|j| j.send(job).is_ok()).unwrap_or(false);
        if !sent {
            let _ = tx.send(GenerationEvent::error(&EngineError::EngineStopped));
        }
        Generation { events: rx, cancel }
    }

    /// Forgets the cached conversation (the next prompt is run in full).
    pub fn reset_cache(&self) {
        if let Some(j) = &self.jobs {
            let _ = j.send(Job::ResetCache);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

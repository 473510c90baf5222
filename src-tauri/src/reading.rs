//! Files the window is reading or has read and not yet sent: the state the document commands
//! and the chat's send share, apart from both (so neither imports the other through the app's
//! state).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fin_r1_core::documents::child::{extract_in_child, reader_program, ChildLimits};
use fin_r1_core::documents::Document;

use crate::error::{CmdResult, CommandError};

/// Files read in this window and not yet sent, with the stop switches of those being read.
#[derive(Default)]
pub struct Reading {
    read: Mutex<HashMap<PathBuf, (Stamp, Document)>>,
    stops: Mutex<HashMap<PathBuf, Arc<AtomicBool>>>,
}

/// A file is read again if it changed since (saved over between attaching and sending).
type Stamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()))
}

impl Reading {
    /// A read starts: its stop switch, which `stop` turns.
    pub fn begin(&self, path: &Path) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        if let Ok(mut s) = self.stops.lock() {
            s.insert(path.to_owned(), stop.clone());
        }
        stop
    }

    /// A read ended; what it read (if it did) is kept for the send, with the file's stamp.
    pub fn end(&self, path: &Path, read: Option<&Document>) {
        if let Ok(mut s) = self.stops.lock() {
            s.remove(path);
        }
        if let (Some(doc), Some(s), Ok(mut m)) = (read, stamp(path), self.read.lock()) {
            m.insert(path.to_owned(), (s, doc.clone()));
        }
    }

    /// Stops a read in flight and forgets what was read of the file.
    pub fn discard(&self, path: &Path) {
        if let Some(stop) = self.stops.lock().ok().and_then(|s| s.get(path).cloned()) {
            stop.store(true, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.read.lock() {
            m.remove(path);
        }
    }

    /// The document read and held for the window, left held (its original view).
    pub fn peek(&self, path: &Path) -> Option<Document> {
        self.read.lock().ok().and_then(|m| m.get(path).map(|(_, d)| d.clone()))
    }

    /// The document as read for the window, if the file is as it was then; still held (a send
    /// refused keeps its chips, and their views, as they were).
    pub fn fresh(&self, path: &Path) -> Option<Document> {
        let kept = self.read.lock().ok().and_then(|m| m.get(path).cloned());
        kept.filter(|(s, _)| Some(*s) == stamp(path)).map(|(_, doc)| doc)
    }
}

/// Reads a file in the reader child (the app itself, run as `documents extract --child`).
pub fn read_in_child(path: &Path, on_page: &mut dyn FnMut(u32, u32), stop: &AtomicBool) -> CmdResult<Document> {
    extract_in_child(&reader_program(), path, ChildLimits::default(), on_page, stop).map_err(|e| CommandError::Model { kind: e.kind(), message: e.to_string() })
}

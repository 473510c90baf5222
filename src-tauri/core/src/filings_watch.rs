//! The library's folders watched while the app runs: a file the readers take that is added,
//! changed, renamed or removed reads its folder again once the folder has been quiet for a
//! moment (a copy of fifty reports is one read, not fifty). The scan at start covers what
//! changed while the app was closed; this covers the rest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::filings::{list_files, EXTENSIONS, MAX_DEPTH};

/// How long a folder must be quiet before it is read again.
pub const QUIET: Duration = Duration::from_secs(2);
/// Where the system cannot tell of changes, how often a folder's listing is compared.
pub const POLL: Duration = Duration::from_secs(30);
/// Every folder's listing is compared this often too: inotify hears nothing of what other
/// machines write to a network share, or of a folder unmounted and mounted again.
pub const BACKSTOP: Duration = Duration::from_secs(300);
const TICK: Duration = Duration::from_millis(250);

/// Watching: the folders stop being watched when this is dropped.
pub struct FolderWatch {
    stop: Arc<AtomicBool>,
    /// How each folder is watched, or why it is not told of changes at once.
    pub notes: Vec<String>,
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How a folder's changes are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// The system's notifications (inotify), with the slow backstop.
    System,
    /// Only by comparing listings (`POLL`).
    Poll,
}

/// Watches `folders` (id, path); `changed(id)` runs on the watch's own thread after each burst
/// of changes to a folder. Walks the folders to set the watches: call it off async workers.
pub fn watch(folders: &[(i64, PathBuf)], changed: impl Fn(i64) + Send + 'static) -> std::io::Result<FolderWatch> {
    watch_with(folders, Listen::System, QUIET, POLL, changed)
}

/// As `watch`, with how and how often given (the tests shorten the times).
pub fn watch_with(
    folders: &[(i64, PathBuf)],
    listen: Listen,
    quiet: Duration,
    poll: Duration,
    changed: impl Fn(i64) + Send + 'static,
) -> std::io::Result<FolderWatch> {
    let mut notes = Vec::new();
    let (events, polled) = match listen {
        Listen::System => system::watch(folders, &mut notes),
        Listen::Poll => (None, folders.iter().map(|(id, _)| *id).collect()),
    };
    // Every folder is compared: the polled ones every `poll`, the others every `BACKSTOP`.
    // Every folder's listing is compared: the polled ones every `poll`, the others every
    // `BACKSTOP`; the first listing is taken on the watch's thread, not the caller's.
    let listings: Vec<(i64, PathBuf, Duration)> =
        folders.iter().map(|(id, root)| (*id, root.clone(), if polled.contains(id) { poll } else { BACKSTOP.max(poll) })).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new().name("library-watch".into()).spawn(move || {
        let mut events = events;
        let mut pending: HashMap<i64, Instant> = HashMap::new();
        // (id, root, every, the listing's fingerprint, when to compare it next)
        let mut listings: Vec<(i64, PathBuf, Duration, u64, Instant)> =
            listings.into_iter().map(|(id, root, every)| (id, root.clone(), every, fingerprint(&root), Instant::now() + every)).collect();
        while !stopped.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            if let Some(ev) = events.as_mut() {
                for id in ev.changed() {
                    pending.insert(id, Instant::now());
                }
            }
            for (id, root, every, seen, next) in &mut listings {
                if Instant::now() < *next {
                    continue;
                }
                *next = Instant::now() + *every;
                let now = fingerprint(root);
                if now != *seen {
                    *seen = now;
                    pending.insert(*id, Instant::now());
                }
            }
            let due: Vec<i64> = pending.iter().filter(|(_, at)| at.elapsed() >= quiet).map(|(&id, _)| id).collect();
            for id in due {
                pending.remove(&id);
                changed(id);
            }
        }
    })?;
    Ok(FolderWatch { stop, notes })
}

/// A name the library skips: hidden (`.git`, macOS's `._report.pdf`) or Office's lock file
/// (`~$report.xlsx`, there while a file is open), as the folder's listing skips them.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name.starts_with("~$")
}

/// A file of a kind the library reads.
fn readable(name: &str) -> bool {
    !skipped(name) && Path::new(name).extension().and_then(|x| x.to_str()).is_some_and(|x| EXTENSIONS.iter().any(|e| x.eq_ignore_ascii_case(e)))
}

/// The listing of a folder's readable files with their sizes and times, hashed.
fn fingerprint(root: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in list_files(root).files {
        f.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&f) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(target_os = "linux")]
mod system {
    use super::*;
    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    /// inotify, one watch per folder below the one added (new ones watched as they come).
    pub struct Events {
        inotify: Inotify,
        dirs: HashMap<WatchDescriptor, (i64, PathBuf, usize)>,
        /// Folders whose own watch went (deleted, moved, unmounted): watched again when back.
        lost: Vec<(i64, PathBuf)>,
        buffer: Vec<u8>,
    }

    fn mask() -> WatchMask {
        WatchMask::CREATE
            | WatchMask::CLOSE_WRITE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::DELETE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ATTRIB
    }

    impl Events {
        /// Watches `dir` and the folders below it (as deep as the listing reads, hidden ones
        /// left out). A folder below that cannot be read is skipped; past the system's limit
        /// on watches, this folder's watches are all taken back and the error returned.
        fn add(&mut self, id: i64, dir: &Path, depth: usize) -> std::io::Result<()> {
            let added = self.add_below(id, dir, depth);
            if added.is_err() {
                let mine: Vec<WatchDescriptor> = self.dirs.iter().filter(|(_, (i, p, _))| *i == id && p.starts_with(dir)).map(|(wd, _)| wd.clone()).collect();
                for wd in mine {
                    self.dirs.remove(&wd);
                    let _ = self.inotify.watches().remove(wd);
                }
            }
            added
        }

        fn add_below(&mut self, id: i64, dir: &Path, depth: usize) -> std::io::Result<()> {
            let wd = self.inotify.watches().add(dir, mask() | WatchMask::ONLYDIR | WatchMask::DONT_FOLLOW)?;
            self.dirs.insert(wd, (id, dir.to_path_buf(), depth));
            if depth >= MAX_DEPTH {
                return Ok(());
            }
            let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
            for entry in entries.flatten() {
                let name = entry.file_name();
                // Links are not followed, hidden folders not read, as the listing does.
                if entry.file_type().is_ok_and(|t| t.is_dir()) && !skipped(&name.to_string_lossy()) {
                    match self.add_below(id, &entry.path(), depth + 1) {
                        // ENOSPC: the system's limit on watches, which more folders only worsen.
                        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return Err(e),
                        _ => {}
                    }
                }
            }
            Ok(())
        }

        /// The folders with a change since the last call.
        pub fn changed(&mut self) -> Vec<i64> {
            let mut out = Vec::new();
            let mut new_dirs = Vec::new();
            // Drained: a copy of hundreds of files fills more than one read.
            loop {
                let Ok(events) = self.inotify.read_events(&mut self.buffer) else { break };
                let mut any = false;
                for e in events {
                    any = true;
                    // The queue overflowed: what was lost is not known, so every folder.
                    if e.mask.contains(EventMask::Q_OVERFLOW) {
                        out.extend(self.dirs.values().map(|(id, _, _)| *id));
                        continue;
                    }
                    let Some((id, dir, depth)) = self.dirs.get(&e.wd).cloned() else { continue };
                    if e.mask.contains(EventMask::IGNORED) {
                        self.dirs.remove(&e.wd);
                        if depth == 0 {
                            self.lost.push((id, dir.clone()));
                        }
                        out.push(id);
                        continue;
                    }
                    let name = e.name.and_then(|n| n.to_str()).unwrap_or("");
                    let is_dir = e.mask.contains(EventMask::ISDIR);
                    if is_dir && skipped(name) {
                        continue;
                    }
                    if is_dir && e.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                        new_dirs.push((id, dir.join(name), depth + 1));
                    }
                    let whole = e.mask.intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
                    if whole || is_dir || readable(name) {
                        out.push(id);
                    }
                }
                if !any {
                    break;
                }
            }
            for (id, dir, depth) in new_dirs {
                if depth <= MAX_DEPTH {
                    let _ = self.add(id, &dir, depth);
                }
            }
            // A folder that came back (mounted again, restored) is watched again, and read.
            let lost = std::mem::take(&mut self.lost);
            for (id, root) in lost {
                if root.is_dir() && self.add(id, &root, 0).is_ok() {
                    out.push(id);
                } else {
                    self.lost.push((id, root));
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }

    /// Watches what inotify can; returns the ids of the rest, to be polled, each with a note.
    pub fn watch(folders: &[(i64, PathBuf)], notes: &mut Vec<String>) -> (Option<Events>, Vec<i64>) {
        let mut events = match Inotify::init() {
            Ok(inotify) => Events { inotify, dirs: HashMap::new(), lost: Vec::new(), buffer: vec![0; 64 * 1024] },
            Err(e) => {
                notes.push(format!("changes are looked for every {} s (inotify: {e})", POLL.as_secs()));
                return (None, folders.iter().map(|(id, _)| *id).collect());
            }
        };
        let mut polled = Vec::new();
        for (id, root) in folders {
            if let Err(e) = events.add(*id, root, 0) {
                // Past the system's limit on watches (fs.inotify.max_user_watches), or gone.
                notes.push(format!("{}: changes are looked for every {} s ({e})", root.display(), POLL.as_secs()));
                polled.push(*id);
            }
        }
        (Some(events), polled)
    }
}

#[cfg(not(target_os = "linux"))]
mod system {
    use super::*;

    pub struct Events;

    impl Events {
        pub fn changed(&mut self) -> Vec<i64> {
            Vec::new()
        }
    }

    /// Every folder polled: its listing compared every `POLL`.
    pub fn watch(folders: &[(i64, PathBuf)], notes: &mut Vec<String>) -> (Option<Events>, Vec<i64>) {
        if !folders.is_empty() {
            notes.push(format!("changes are looked for every {} s", POLL.as_secs()));
        }
        (None, folders.iter().map(|(id, _)| *id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn wait_for(seen: &Arc<Mutex<Vec<i64>>>, n: usize) -> Vec<i64> {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if seen.lock().map(|s| s.len()).unwrap_or(0) >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_burst_of_new_reports_reads_their_folder_once_and_other_files_not_at_all() {
        let dir = std::env::temp_dir().join(format!("fin-r1-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(a.join("2024")).expect("a");
        std::fs::create_dir_all(&b).expect("b");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        let watch =
            watch_with(&[(1, a.clone()), (2, b.clone())], Listen::System, Duration::from_millis(300), POLL, move |id| into.lock().expect("seen").push(id))
                .expect("watch");
        assert!(watch.notes.is_empty(), "{:?}", watch.notes);
        // Not a kind the library reads: nothing happens.
        std::fs::write(b.join("notes.txt"), "x").expect("txt");
        std::fs::write(b.join("~$sheet.xlsx"), "lock").expect("lock");
        std::fs::write(b.join("._report.pdf"), "resource fork").expect("dot file");
        std::fs::create_dir_all(b.join(".git").join("objects")).expect("hidden folder");
        for i in 0..5 {
            std::fs::write(a.join("2024").join(format!("report-{i}.pdf")), "%PDF-1.4").expect("pdf");
        }
        assert_eq!(wait_for(&seen, 1), vec![1]);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(*seen.lock().expect("seen"), vec![1], "one read for the burst, none for other files");
        // A removal reads its folder again.
        std::fs::remove_file(a.join("2024").join("report-0.pdf")).expect("rm");
        assert_eq!(wait_for(&seen, 2), vec![1, 1]);
        // A folder made after the watch began is watched too.
        std::fs::create_dir_all(b.join("2025")).expect("new folder");
        assert_eq!(wait_for(&seen, 3), vec![1, 1, 2]);
        std::fs::write(b.join("2025").join("q1.xlsx"), "PK").expect("xlsx");
        assert_eq!(wait_for(&seen, 4), vec![1, 1, 2, 2]);
        drop(watch);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn where_the_system_cannot_tell_a_changed_listing_is_found_by_polling() {
        let dir = std::env::temp_dir().join(format!("fin-r1-poll-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        let watch = watch_with(&[(7, dir.clone())], Listen::Poll, Duration::from_millis(100), Duration::from_millis(500), move |id| {
            into.lock().expect("seen").push(id)
        })
        .expect("watch");
        // A file the library does not read changes nothing.
        std::fs::write(dir.join("notes.txt"), "x").expect("txt");
        std::thread::sleep(Duration::from_millis(1500));
        assert!(seen.lock().expect("seen").is_empty());
        std::fs::write(dir.join("report.pdf"), "%PDF").expect("pdf");
        assert_eq!(wait_for(&seen, 1), vec![7]);
        drop(watch);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

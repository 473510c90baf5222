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

/// Watches `folders` (id, path); `changed(id)` runs on the watch's own thread after each burst
/// of changes to a folder.
pub fn watch(folders: &[(i64, PathBuf)], changed: impl Fn(i64) + Send + 'static) -> std::io::Result<FolderWatch> {
    watch_with(folders, QUIET, POLL, changed)
}

/// As `watch`, with the quiet time and the poll given (the tests shorten them).
pub fn watch_with(folders: &[(i64, PathBuf)], quiet: Duration, poll: Duration, changed: impl Fn(i64) + Send + 'static) -> std::io::Result<FolderWatch> {
    let mut notes = Vec::new();
    let (events, polled) = system::watch(folders, &mut notes);
    let mut polled: Vec<(i64, PathBuf, u64)> = polled.into_iter().map(|(id, root)| (id, root.clone(), fingerprint(&root))).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new().name("library-watch".into()).spawn(move || {
        let mut events = events;
        let mut pending: HashMap<i64, Instant> = HashMap::new();
        let mut last_poll = Instant::now();
        while !stopped.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            if let Some(ev) = events.as_mut() {
                for id in ev.changed() {
                    pending.insert(id, Instant::now());
                }
            }
            if last_poll.elapsed() >= poll {
                last_poll = Instant::now();
                for (id, root, seen) in &mut polled {
                    let now = fingerprint(root);
                    if now != *seen {
                        *seen = now;
                        pending.insert(*id, Instant::now());
                    }
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

/// A file of a kind the library reads (Office's lock files, `~$report.xlsx`, come and go while a
/// file is open).
fn readable(name: &str) -> bool {
    !name.starts_with("~$") && Path::new(name).extension().and_then(|x| x.to_str()).is_some_and(|x| EXTENSIONS.iter().any(|e| x.eq_ignore_ascii_case(e)))
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
        fn add(&mut self, id: i64, dir: &Path, depth: usize) -> std::io::Result<()> {
            let wd = self.inotify.watches().add(dir, mask() | WatchMask::ONLYDIR | WatchMask::DONT_FOLLOW)?;
            self.dirs.insert(wd, (id, dir.to_path_buf(), depth));
            if depth >= MAX_DEPTH {
                return Ok(());
            }
            for entry in std::fs::read_dir(dir)?.flatten() {
                // Links are not followed, as the listing does not follow them.
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add(id, &entry.path(), depth + 1)?;
                }
            }
            Ok(())
        }

        /// The folders with a change since the last call.
        pub fn changed(&mut self) -> Vec<i64> {
            let mut out = Vec::new();
            let mut new_dirs = Vec::new();
            if let Ok(events) = self.inotify.read_events(&mut self.buffer) {
                for e in events {
                    let Some((id, dir, depth)) = self.dirs.get(&e.wd).cloned() else { continue };
                    let name = e.name.and_then(|n| n.to_str()).unwrap_or("");
                    let is_dir = e.mask.contains(EventMask::ISDIR);
                    if is_dir && e.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                        new_dirs.push((id, dir.join(name), depth + 1));
                    }
                    let whole = e.mask.intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::Q_OVERFLOW);
                    if whole || is_dir || readable(name) {
                        out.push(id);
                    }
                }
            }
            for (id, dir, depth) in new_dirs {
                if depth <= MAX_DEPTH {
                    let _ = self.add(id, &dir, depth);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }

    /// Watches what inotify can; returns the rest to be polled, each with a note.
    pub fn watch(folders: &[(i64, PathBuf)], notes: &mut Vec<String>) -> (Option<Events>, Vec<(i64, PathBuf)>) {
        let mut events = match Inotify::init() {
            Ok(inotify) => Events { inotify, dirs: HashMap::new(), buffer: vec![0; 64 * 1024] },
            Err(e) => {
                notes.push(format!("changes are looked for every {} s (inotify: {e})", POLL.as_secs()));
                return (None, folders.to_vec());
            }
        };
        let mut polled = Vec::new();
        for (id, root) in folders {
            if let Err(e) = events.add(*id, root, 0) {
                // Past the system's limit on watches (fs.inotify.max_user_watches), or gone.
                notes.push(format!("{}: changes are looked for every {} s ({e})", root.display(), POLL.as_secs()));
                polled.push((*id, root.clone()));
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
    pub fn watch(folders: &[(i64, PathBuf)], notes: &mut Vec<String>) -> (Option<Events>, Vec<(i64, PathBuf)>) {
        if !folders.is_empty() {
            notes.push(format!("changes are looked for every {} s", POLL.as_secs()));
        }
        (None, folders.to_vec())
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
            watch_with(&[(1, a.clone()), (2, b.clone())], Duration::from_millis(300), POLL, move |id| into.lock().expect("seen").push(id)).expect("watch");
        assert!(watch.notes.is_empty(), "{:?}", watch.notes);
        // Not a kind the library reads: nothing happens.
        std::fs::write(b.join("notes.txt"), "x").expect("txt");
        std::fs::write(b.join("~$sheet.xlsx"), "lock").expect("lock");
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
        let before = fingerprint(&dir);
        std::fs::write(dir.join("notes.txt"), "x").expect("txt");
        assert_eq!(fingerprint(&dir), before, "a file the library does not read");
        std::fs::write(dir.join("report.pdf"), "%PDF").expect("pdf");
        assert_ne!(fingerprint(&dir), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

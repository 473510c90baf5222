//! Keys and values of prompt prefixes that many conversations share (a preset's system prompt
//! and its template up to the first value the analyst fills in), kept so that a new
//! conversation runs only what is its own. Two tiers: recent prefixes in memory, and files in a
//! cache folder so that a new process reuses them too. A file's key is the model file's
//! SHA-256, the engine's version and KV format, and the prefix's tokens; the file repeats the tokens, so a
//! foreign, damaged or colliding file is a miss (and is removed), never a wrong answer.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

/// Bumped whenever what a snapshot holds changes meaning (layout, dtype, rotary convention):
/// files of another format are never read.
const KV_FORMAT: &str = "fin-r1-kv-1";
const FILE_EXT: &str = "kv";
/// A prefix shorter than this is cheaper to run than to look up.
pub const MIN_PREFIX_TOKENS: usize = 32;
/// Memory kept for snapshots beside the live cache.
const MEMORY_BYTES: u64 = 512 << 20;
/// The cache folder's bound unless the caller gives one.
pub const DEFAULT_DISK_BYTES: u64 = 2 << 30;

#[derive(Debug, Clone)]
pub struct PrefixCacheOptions {
    /// Where snapshot files go (the app uses the platform's cache folder).
    pub dir: PathBuf,
    /// Files beyond this total are removed, least recently used first.
    pub max_bytes: u64,
    /// The model file's SHA-256 if the caller knows it; otherwise it is computed on a thread
    /// of its own after loading, and files are used once it is known.
    pub model_sha256: Option<String>,
}

/// A prefix's tokens with the keys and values the model computed for them.
pub struct KvSnapshot {
    pub tokens: Vec<u32>,
    /// (1, n_kv_heads, len, head_dim) per layer.
    pub layers: Vec<(Tensor, Tensor)>,
}

impl KvSnapshot {
    fn bytes(&self) -> u64 {
        self.layers.iter().map(|(k, v)| (k.elem_count() * k.dtype().size_in_bytes() + v.elem_count() * v.dtype().size_in_bytes()) as u64).sum()
    }
}

pub struct PrefixCache {
    /// Most recently used last.
    memory: VecDeque<Arc<KvSnapshot>>,
    disk: Option<Disk>,
    /// Files being written; finished before the cache goes, so a short-lived process (one
    /// CLI question) leaves its prefix for the next.
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for PrefixCache {
    fn drop(&mut self) {
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
    }
}

struct Disk {
    dir: PathBuf,
    max_bytes: u64,
    model_sha256: Arc<OnceLock<String>>,
    /// Snapshots made before the model's hash was known: the hashing thread writes them once it
    /// is (a preset's prefix run in the first minute would otherwise never reach the disk).
    /// Set and drained under this lock together with the hash, so none is left behind.
    pending: Arc<Mutex<Vec<Arc<KvSnapshot>>>>,
}

/// Snapshots held for a hash still being computed; older ones give way.
const MAX_PENDING: usize = 4;

/// Lowers the calling thread's scheduling priority (Linux `nice` 10 for this thread alone):
/// hashing a 4.7 GB model would otherwise take a core from the first prompt's prefill.
fn yield_to_inference() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread; a failure only leaves its priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

impl PrefixCache {
    /// A memory-only cache unless `options` names a folder. Hashing a model of unknown hash
    /// reads `model_path` on a thread of its own.
    pub fn new(options: Option<PrefixCacheOptions>, model_path: &Path) -> Self {
        let disk = options.map(|o| {
            let model_sha256 = Arc::new(OnceLock::new());
            let pending: Arc<Mutex<Vec<Arc<KvSnapshot>>>> = Arc::default();
            match o.model_sha256 {
                Some(h) => {
                    let _ = model_sha256.set(h.to_ascii_lowercase());
                }
                None => {
                    let (cell, pending) = (model_sha256.clone(), pending.clone());
                    let (path, dir, max) = (model_path.to_owned(), o.dir.clone(), o.max_bytes);
                    let _ = std::thread::Builder::new().name("fin-r1-model-hash".into()).spawn(move || {
                        yield_to_inference();
                        let hashed = crate::inspect::sha256_file(&path);
                        let waiting = {
                            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                            if let Ok(h) = &hashed {
                                let _ = cell.set(h.clone());
                            }
                            std::mem::take(&mut *pending)
                        };
                        match hashed {
                            Ok(h) => {
                                for s in waiting {
                                    save(&file_path(&dir, &h, &s.tokens), &s, &dir, max);
                                }
                            }
                            Err(e) => tracing::warn!(path = %path.display(), "model not hashed, prefix files unused: {e}"),
                        }
                    });
                }
            }
            Disk { dir: o.dir, max_bytes: o.max_bytes, model_sha256, pending }
        });
        Self { memory: VecDeque::new(), disk, writers: Vec::new() }
    }

    /// The snapshot of exactly `tokens`, from memory or from a file.
    pub fn get(&mut self, tokens: &[u32]) -> Option<Arc<KvSnapshot>> {
        if let Some(i) = self.memory.iter().position(|s| s.tokens == tokens) {
            let s = self.memory.remove(i)?;
            self.memory.push_back(s.clone());
            return Some(s);
        }
        let disk = self.disk.as_ref()?;
        let path = disk.path(tokens)?;
        if !path.exists() {
            return None;
        }
        match read_snapshot(&path, tokens) {
            Ok(s) => {
                // Recency for eviction is the file's time.
                let _ = std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
                let s = Arc::new(s);
                self.remember(s.clone());
                Some(s)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "cached prefix unreadable, removed: {e}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps a snapshot in memory, and writes it to the folder on a thread of its own (the
    /// answer does not wait for the disk).
    pub fn put(&mut self, snapshot: KvSnapshot) {
        let s = Arc::new(snapshot);
        self.remember(s.clone());
        let Some(disk) = &self.disk else { return };
        let path = {
            let mut pending = disk.pending.lock().unwrap_or_else(|e| e.into_inner());
            match disk.path(&s.tokens) {
                Some(path) => path,
                None => {
                    pending.retain(|p| p.tokens != s.tokens);
                    pending.push(s);
                    let over = pending.len().saturating_sub(MAX_PENDING);
                    pending.drain(..over);
                    return;
                }
            }
        };
        let (dir, max) = (disk.dir.clone(), disk.max_bytes);
        self.writers.retain(|w| !w.is_finished());
        let writer = std::thread::Builder::new().name("fin-r1-prefix-write".into()).spawn(move || save(&path, &s, &dir, max));
        if let Ok(w) = writer {
            self.writers.push(w);
        }
    }

    fn remember(&mut self, s: Arc<KvSnapshot>) {
        self.memory.retain(|m| m.tokens != s.tokens);
        self.memory.push_back(s);
        while self.memory.len() > 1 && self.memory.iter().map(|m| m.bytes()).sum::<u64>() > MEMORY_BYTES {
            self.memory.pop_front();
        }
    }
}

impl Disk {
    /// `None` while the model's hash is not known yet.
    fn path(&self, tokens: &[u32]) -> Option<PathBuf> {
        Some(file_path(&self.dir, self.model_sha256.get()?, tokens))
    }
}

/// Where the snapshot of `tokens` for the model of hash `model_sha256` lives in `dir`.
fn file_path(dir: &Path, model_sha256: &str, tokens: &[u32]) -> PathBuf {
    dir.join(format!("{}.{FILE_EXT}", key(model_sha256, tokens)))
}

/// The file name of a prefix: model, format and tokens hashed together.
pub fn key(model_sha256: &str, tokens: &[u32]) -> String {
    let mut h = Sha256::new();
    h.update(KV_FORMAT.as_bytes());
    h.update([0]);
    // Another build's kernels may round differently: its keys and values are not reused.
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(model_sha256.as_bytes());
    h.update([0]);
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one snapshot and keeps the folder within its bound; a failure only costs the reuse.
fn save(path: &Path, s: &KvSnapshot, dir: &Path, max_bytes: u64) {
    if let Err(e) = write_snapshot(path, s) {
        tracing::warn!(path = %path.display(), "cached prefix not written: {e}");
        let _ = std::fs::remove_file(tmp_path(path));
    }
    evict(dir, max_bytes);
}

fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension(format!("{FILE_EXT}.{}.tmp", std::process::id()))
}

fn write_snapshot(path: &Path, s: &KvSnapshot) -> Result<(), String> {
    let dir = path.parent().ok_or("no folder")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let tokens = Tensor::new(s.tokens.as_slice(), &Device::Cpu).map_err(|e| e.to_string())?;
    tensors.insert("tokens".into(), tokens);
    for (i, (k, v)) in s.layers.iter().enumerate() {
        tensors.insert(format!("k.{i}"), k.to_device(&Device::Cpu).map_err(|e| e.to_string())?);
        tensors.insert(format!("v.{i}"), v.to_device(&Device::Cpu).map_err(|e| e.to_string())?);
    }
    // Written beside and renamed, so a reader (another process too) never sees half a file.
    let tmp = tmp_path(path);
    candle_core::safetensors::save(&tensors, &tmp).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

fn read_snapshot(path: &Path, tokens: &[u32]) -> Result<KvSnapshot, String> {
    let mut t = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| e.to_string())?;
    let stored: Vec<u32> = t.remove("tokens").ok_or("no tokens")?.to_vec1().map_err(|e| e.to_string())?;
    if stored != tokens {
        return Err("another prefix under the same name".into());
    }
    let mut layers = Vec::new();
    while let (Some(k), Some(v)) = (t.remove(&format!("k.{}", layers.len())), t.remove(&format!("v.{}", layers.len()))) {
        layers.push((k, v));
    }
    if layers.is_empty() {
        return Err("no layers".into());
    }
    Ok(KvSnapshot { tokens: stored, layers })
}

/// Removes the least recently used files until the folder's snapshots fit `max_bytes` (and
/// temporary files a killed writer left behind an hour ago).
pub fn evict(dir: &Path, max_bytes: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        let modified = meta.modified().unwrap_or(now);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with(".tmp") {
            if now.duration_since(modified).map_or(false, |d| d.as_secs() > 3600) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if path.extension().and_then(|x| x.to_str()) == Some(FILE_EXT) {
            files.push((modified, meta.len(), path));
        }
    }
    files.sort();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    for (_, size, path) in files {
        if total <= max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_hashing_thread_gives_way_to_inference() {
        let nice = std::thread::spawn(|| {
            yield_to_inference();
            // Field 19 of /proc/thread-self/stat (after the parenthesised name) is the nice value.
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name.split(' ').nth(16).unwrap().parse::<i32>().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(nice, 10);
    }

    /// A fresh folder per test, removed when dropped.
    struct TempDir(PathBuf);
    impl TempDir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("fin-r1-prefix-cache-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn snapshot(tokens: &[u32], values: usize) -> KvSnapshot {
        let t = || Tensor::zeros((1, 1, tokens.len(), values), candle_core::DType::F32, &Device::Cpu).unwrap();
        KvSnapshot { tokens: tokens.to_vec(), layers: vec![(t(), t()), (t(), t())] }
    }

    #[test]
    fn the_key_changes_with_the_model_and_every_token() {
        let a = key("aa", &[1, 2, 3]);
        assert_eq!(a, key("aa", &[1, 2, 3]));
        assert_ne!(a, key("ab", &[1, 2, 3]));
        assert_ne!(a, key("aa", &[1, 2, 4]));
        assert_ne!(a, key("aa", &[1, 2]));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn a_file_is_read_back_only_for_its_own_tokens() {
        let dir = tempdir();
        let path = dir.path().join("x.kv");
        write_snapshot(&path, &snapshot(&[5, 6, 7], 4)).unwrap();
        let back = read_snapshot(&path, &[5, 6, 7]).unwrap();
        assert_eq!(back.layers.len(), 2);
        assert_eq!(back.layers[0].0.dims(), &[1, 1, 3, 4]);
        assert!(read_snapshot(&path, &[5, 6, 8]).is_err());
        std::fs::write(&path, b"not a snapshot").unwrap();
        assert!(read_snapshot(&path, &[5, 6, 7]).is_err());
    }

    #[test]
    fn files_go_oldest_first_until_the_folder_fits() {
        let dir = tempdir();
        let base = SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, name) in ["old", "mid", "new"].iter().enumerate() {
            let p = dir.path().join(format!("{name}.kv"));
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(base + std::time::Duration::from_secs(10 * i as u64)).unwrap();
        }
        std::fs::write(dir.path().join("other.txt"), vec![0u8; 5000]).unwrap();
        evict(dir.path(), 2000);
        let left: Vec<bool> = ["old", "mid", "new"].iter().map(|n| dir.path().join(format!("{n}.kv")).exists()).collect();
        assert_eq!(left, [false, true, true]);
        assert!(dir.path().join("other.txt").exists(), "only snapshot files are the cache's to remove");
    }

    #[test]
    fn a_disk_hit_comes_from_a_new_cache_with_the_same_model() {
        let dir = tempdir();
        let opts = || Some(PrefixCacheOptions { dir: dir.path().into(), max_bytes: 1 << 20, model_sha256: Some("AB".into()) });
        let mut first = PrefixCache::new(opts(), Path::new("unused"));
        first.put(snapshot(&[1, 2, 3], 2));
        // The write runs on its own thread.
        for _ in 0..200 {
            if std::fs::read_dir(dir.path()).unwrap().flatten().any(|e| e.path().extension().map_or(false, |x| x == "kv")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut second = PrefixCache::new(opts(), Path::new("unused"));
        assert!(second.get(&[1, 2, 3]).is_some());
        assert!(second.get(&[1, 2]).is_none());
        let mut other_model =
            PrefixCache::new(Some(PrefixCacheOptions { dir: dir.path().into(), max_bytes: 1 << 20, model_sha256: Some("cd".into()) }), Path::new("unused"));
        assert!(other_model.get(&[1, 2, 3]).is_none());
    }

    fn wait_for_kv_files(dir: &Path, n: usize) -> Vec<PathBuf> {
        for _ in 0..500 {
            let files: Vec<PathBuf> =
                std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "kv")).collect();
            if files.len() >= n {
                return files;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("fewer than {n} prefix files in {}", dir.display());
    }

    /// Regression (CI, stop 24): a prefix made while the model was still being hashed was
    /// never written, so the next process ran it again.
    #[cfg(unix)]
    #[test]
    fn a_prefix_made_before_the_model_is_hashed_is_written_once_it_is() {
        use std::io::Write;
        let dir = tempdir();
        // Reading a named pipe waits for a writer: the hash stays unknown until the test says.
        let model = dir.path().join("model.fifo");
        let c_path = std::ffi::CString::new(model.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let cache_dir = dir.path().join("cache");
        let mut cache = PrefixCache::new(Some(PrefixCacheOptions { dir: cache_dir.clone(), max_bytes: 1 << 20, model_sha256: None }), &model);
        cache.put(snapshot(&[1, 2, 3], 2));
        cache.put(snapshot(&[4, 5], 2));
        assert!(cache.get(&[1, 2, 3]).is_some(), "kept in memory meanwhile");
        assert!(!cache_dir.exists(), "nothing on disk before the hash is known");

        std::fs::File::options().write(true).open(&model).unwrap().write_all(b"model bytes").unwrap();
        let files = wait_for_kv_files(&cache_dir, 2);
        let sha = hex(&Sha256::digest(b"model bytes"));
        let mut names: Vec<String> = files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut expected = vec![key(&sha, &[1, 2, 3]), key(&sha, &[4, 5])];
        expected.sort();
        assert_eq!(names, expected);
        // Later prefixes go straight to disk.
        cache.put(snapshot(&[6], 2));
        wait_for_kv_files(&cache_dir, 3);
        drop(cache);
        let mut next = PrefixCache::new(Some(PrefixCacheOptions { dir: cache_dir, max_bytes: 1 << 20, model_sha256: Some(sha) }), Path::new("unused"));
        assert!(next.get(&[1, 2, 3]).is_some());
    }

    #[test]
    fn memory_keeps_the_most_recent_within_its_bound() {
        let mut c = PrefixCache::new(None, Path::new("unused"));
        c.put(snapshot(&[1], 4));
        c.put(snapshot(&[2], 4));
        assert!(c.get(&[1]).is_some());
        assert_eq!(c.memory.back().map(|s| s.tokens.clone()), Some(vec![1]), "a hit is the most recent");
    }
}

//! Keys and values of prompt prefixes that many conversations share (a preset's system prompt
//! and its template up to the first value the analyst fills in), kept so that a new
//! conversation runs only what is its own. Two tiers: recent prefixes in memory, and files in a
//! cache folder so that a new process reuses them too. A file's name is a SHA-256 of what
//! computed its keys and values ([`fingerprint`]: the KV format, the engine's build — its sources,
//! dependencies, compiler and target features — the device and the kernels this CPU runs), the
//! model file's SHA-256 and the prefix's tokens. The file repeats that name and the tokens, and
//! ends with a SHA-256 of everything before it, checked on every read: a foreign, damaged,
//! colliding or other build's file is a miss (and is removed), never a wrong answer.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

/// Bumped whenever what a snapshot holds changes meaning (layout, dtype, rotary convention, the
/// file's own layout): files of another format are never read. 2: the trailer below.
const KV_FORMAT: &str = "fin-r1-kv-2";
const FILE_EXT: &str = "kv";
/// A file is the snapshot's safetensors bytes, then this trailer: the file's key (32 bytes, the
/// SHA-256 its name spells), a SHA-256 of the safetensors bytes and the key (32), and `MAGIC`.
const MAGIC: &[u8; 8] = b"FINR1KV2";
const TRAILER: usize = 32 + 32 + MAGIC.len();
/// Identifies the engine's code as built (build.rs: its sources, Cargo.lock, rustc, target and
/// target features), so that another build's keys and values, which may round differently, are
/// never reused: the package version stayed 0.1.0 through every kernel change.
const ENGINE_BUILD: &str = env!("FIN_R1_ENGINE_BUILD");
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
    /// What computes this process's keys and values ([`fingerprint`]).
    fingerprint: Arc<str>,
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
    crate::kernels::sys::lower_this_thread_priority(10);
}

/// What computes the keys and values on `device` in this process: the KV format, the engine's
/// build, the architecture, the device and the kernels picked for this CPU ([`crate::kernels::isa`],
/// which `FIN_R1_KERNELS` can change). Files made under another fingerprint are never read.
pub fn fingerprint(device: &Device) -> String {
    format!(
        "{KV_FORMAT} fin-r1-engine {} build {ENGINE_BUILD} {} {:?} kernels {}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        device.location(),
        crate::kernels::isa().name()
    )
}

impl PrefixCache {
    /// A memory-only cache unless `options` names a folder. Files are keyed by `fingerprint`
    /// (what computes this process's keys and values, see [`fingerprint`]) with the model's hash.
    /// Hashing a model of unknown hash reads `model_path` on a thread of its own.
    pub fn new(options: Option<PrefixCacheOptions>, model_path: &Path, fingerprint: String) -> Self {
        let fingerprint: Arc<str> = fingerprint.into();
        let disk = options.map(|o| {
            let model_sha256 = Arc::new(OnceLock::new());
            let pending: Arc<Mutex<Vec<Arc<KvSnapshot>>>> = Arc::default();
            match o.model_sha256 {
                Some(h) => {
                    let _ = model_sha256.set(h.to_ascii_lowercase());
                }
                None => {
                    let (cell, pending, fingerprint) = (model_sha256.clone(), pending.clone(), fingerprint.clone());
                    let (path, dir, max) = (model_path.to_owned(), o.dir.clone(), o.max_bytes);
                    let _ = std::thread::Builder::new().name("fin-r1-model-hash".into()).spawn(move || {
                        yield_to_inference();
                        let hashed = crate::model_file::sha256_file(&path);
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
                                    let k = key(&fingerprint, &h, &s.tokens);
                                    save(&file_path(&dir, &k), &k, &s, &dir, max);
                                }
                            }
                            Err(e) => tracing::warn!(path = %path.display(), "model not hashed, prefix files unused: {e}"),
                        }
                    });
                }
            }
            Disk { dir: o.dir, max_bytes: o.max_bytes, fingerprint: fingerprint.clone(), model_sha256, pending }
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
        let key = disk.key(tokens)?;
        let path = file_path(&disk.dir, &key);
        if !path.exists() {
            return None;
        }
        match read_snapshot(&path, &key, tokens) {
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
        let key = {
            let mut pending = disk.pending.lock().unwrap_or_else(|e| e.into_inner());
            match disk.key(&s.tokens) {
                Some(key) => key,
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
        let writer = std::thread::Builder::new().name("fin-r1-prefix-write".into()).spawn(move || save(&file_path(&dir, &key), &key, &s, &dir, max));
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
    fn key(&self, tokens: &[u32]) -> Option<Key> {
        Some(key(&self.fingerprint, self.model_sha256.get()?, tokens))
    }
}

/// A prefix's key: SHA-256 of format, fingerprint, model and tokens.
pub type Key = [u8; 32];

/// Where the snapshot of key `key` lives in `dir`.
fn file_path(dir: &Path, key: &Key) -> PathBuf {
    dir.join(format!("{}.{FILE_EXT}", hex(key)))
}

/// The key of a prefix (its file name, in hex): what computed it ([`fingerprint`]), the model,
/// the format and the tokens hashed together.
pub fn key(fingerprint: &str, model_sha256: &str, tokens: &[u32]) -> Key {
    let mut h = Sha256::new();
    for part in [KV_FORMAT, fingerprint, model_sha256] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    h.finalize().into()
}

use crate::digest::hex;

/// Writes one snapshot and keeps the folder within its bound; a failure only costs the reuse.
fn save(path: &Path, key: &Key, s: &KvSnapshot, dir: &Path, max_bytes: u64) {
    if let Err(e) = write_snapshot(path, key, s) {
        tracing::warn!(path = %path.display(), "cached prefix not written: {e}");
        let _ = std::fs::remove_file(tmp_path(path));
    }
    evict(dir, max_bytes);
}

fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension(format!("{FILE_EXT}.{}.tmp", std::process::id()))
}

/// The SHA-256 a file's trailer holds: of its safetensors bytes and its key.
fn checksum(body: &[u8], key: &Key) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(body);
    h.update(key);
    h.finalize().into()
}

fn write_snapshot(path: &Path, key: &Key, s: &KvSnapshot) -> Result<(), String> {
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
    // The trailer: read back from the page cache and hashed, on this writer's thread.
    let body = std::fs::read(&tmp).map_err(|e| e.to_string())?;
    let mut trailer = Vec::with_capacity(TRAILER);
    trailer.extend_from_slice(key);
    trailer.extend_from_slice(&checksum(&body, key));
    trailer.extend_from_slice(MAGIC);
    let mut file = std::fs::File::options().append(true).open(&tmp).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut file, &trailer).map_err(|e| e.to_string())?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// The snapshot in `path` if it is whole (its checksum holds), is the one of `key` and holds
/// exactly `tokens`.
fn read_snapshot(path: &Path, key: &Key, tokens: &[u32]) -> Result<KvSnapshot, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (body, trailer) = bytes.split_at(bytes.len().checked_sub(TRAILER).ok_or("shorter than its trailer")?);
    let (stored_key, rest) = trailer.split_at(32);
    let (sum, magic) = rest.split_at(32);
    if magic != MAGIC {
        return Err("not a prefix file of this format".into());
    }
    if stored_key != key {
        return Err("another prefix's file under this name".into());
    }
    if sum != checksum(body, key) {
        return Err("damaged: its checksum does not match".into());
    }
    let mut t = candle_core::safetensors::load_buffer(body, &Device::Cpu).map_err(|e| e.to_string())?;
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
            if now.duration_since(modified).is_ok_and(|d| d.as_secs() > 3600) {
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

    /// The fingerprint the tests' caches run under.
    const FP: &str = "test build";

    fn snapshot(tokens: &[u32], values: usize) -> KvSnapshot {
        let t = || Tensor::zeros((1, 1, tokens.len(), values), candle_core::DType::F32, &Device::Cpu).unwrap();
        KvSnapshot { tokens: tokens.to_vec(), layers: vec![(t(), t()), (t(), t())] }
    }

    #[test]
    fn the_key_changes_with_what_computed_it_the_model_and_every_token() {
        let a = key(FP, "aa", &[1, 2, 3]);
        assert_eq!(a, key(FP, "aa", &[1, 2, 3]));
        assert_ne!(a, key("another build", "aa", &[1, 2, 3]));
        assert_ne!(a, key(FP, "ab", &[1, 2, 3]));
        assert_ne!(a, key(FP, "aa", &[1, 2, 4]));
        assert_ne!(a, key(FP, "aa", &[1, 2]));
        // Parts are length-prefixed: moving a character from one to the next is another key.
        assert_ne!(key("ab", "c", &[1]), key("a", "bc", &[1]));
        assert_eq!(hex(&a).len(), 64);
    }

    #[test]
    fn the_fingerprint_names_the_build_the_device_and_the_kernels() {
        let f = fingerprint(&Device::Cpu);
        assert!(f.contains(ENGINE_BUILD) && ENGINE_BUILD.len() == 32, "{f}");
        assert!(f.contains(KV_FORMAT) && f.contains("Cpu"), "{f}");
        assert!(f.ends_with(&format!("kernels {}", crate::kernels::isa().name())), "{f}");
    }

    #[test]
    fn a_file_is_read_back_only_for_its_own_key_and_tokens() {
        let dir = tempdir();
        let path = dir.path().join("x.kv");
        let k = key(FP, "aa", &[5, 6, 7]);
        write_snapshot(&path, &k, &snapshot(&[5, 6, 7], 4)).unwrap();
        let back = read_snapshot(&path, &k, &[5, 6, 7]).unwrap();
        assert_eq!(back.layers.len(), 2);
        assert_eq!(back.layers[0].0.dims(), &[1, 1, 3, 4]);
        assert!(read_snapshot(&path, &k, &[5, 6, 8]).is_err());
        assert!(read_snapshot(&path, &key("another build", "aa", &[5, 6, 7]), &[5, 6, 7]).is_err(), "a file under another key's name");
        std::fs::write(&path, b"not a snapshot").unwrap();
        assert!(read_snapshot(&path, &k, &[5, 6, 7]).is_err());
    }

    /// Regression (issue 26, item 5): a file damaged in its keys and values, its tokens intact,
    /// was read and used.
    #[test]
    fn a_damaged_file_is_a_miss_and_is_removed() {
        let dir = tempdir();
        let opts = || Some(PrefixCacheOptions { dir: dir.path().into(), max_bytes: 1 << 20, model_sha256: Some("ab".into()) });
        let tokens = [1, 2, 3];
        let mut first = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        first.put(snapshot(&tokens, 8));
        drop(first);
        let files = wait_for_kv_files(dir.path(), 1);
        let mut bytes = std::fs::read(&files[0]).unwrap();
        // One byte of the last layer's values, found through the safetensors header.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        let start = header["v.1"]["data_offsets"][0].as_u64().unwrap() as usize;
        bytes[8 + header_len + start + 7] ^= 0x40;
        std::fs::write(&files[0], &bytes).unwrap();
        // Still a readable snapshot of the same tokens: only the checksum tells.
        let body = candle_core::safetensors::load_buffer(&bytes[..bytes.len() - TRAILER], &Device::Cpu).unwrap();
        assert_eq!(body["tokens"].to_vec1::<u32>().unwrap(), tokens);
        let values = body["v.1"].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(values.iter().any(|&v| v != 0.0), "the flipped byte is in the values");

        let mut second = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        assert!(second.get(&tokens).is_none(), "a damaged file must not be used");
        assert!(!files[0].exists(), "and is removed");
    }

    #[test]
    fn a_file_made_under_another_fingerprint_is_a_miss() {
        let dir = tempdir();
        let opts = || Some(PrefixCacheOptions { dir: dir.path().into(), max_bytes: 1 << 20, model_sha256: Some("ab".into()) });
        let mut first = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        first.put(snapshot(&[1, 2, 3], 2));
        drop(first);
        let files = wait_for_kv_files(dir.path(), 1);
        let mut other_kernels = PrefixCache::new(opts(), Path::new("unused"), "test build, other kernels".into());
        assert!(other_kernels.get(&[1, 2, 3]).is_none());
        // Renamed to the name the other build looks for, the file is still not used: it names its key.
        let other = file_path(dir.path(), &key("test build, other kernels", "ab", &[1, 2, 3]));
        std::fs::rename(&files[0], &other).unwrap();
        assert!(other_kernels.get(&[1, 2, 3]).is_none());
        assert!(!other.exists());
        let mut same = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        assert!(same.get(&[1, 2, 3]).is_none(), "gone");
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
        let mut first = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        first.put(snapshot(&[1, 2, 3], 2));
        // The write runs on its own thread.
        for _ in 0..200 {
            if std::fs::read_dir(dir.path()).unwrap().flatten().any(|e| e.path().extension().is_some_and(|x| x == "kv")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut second = PrefixCache::new(opts(), Path::new("unused"), FP.into());
        assert!(second.get(&[1, 2, 3]).is_some());
        assert!(second.get(&[1, 2]).is_none());
        let mut other_model = PrefixCache::new(
            Some(PrefixCacheOptions { dir: dir.path().into(), max_bytes: 1 << 20, model_sha256: Some("cd".into()) }),
            Path::new("unused"),
            FP.into(),
        );
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
        nix::unistd::mkfifo(&model, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let cache_dir = dir.path().join("cache");
        let mut cache = PrefixCache::new(Some(PrefixCacheOptions { dir: cache_dir.clone(), max_bytes: 1 << 20, model_sha256: None }), &model, FP.into());
        cache.put(snapshot(&[1, 2, 3], 2));
        cache.put(snapshot(&[4, 5], 2));
        assert!(cache.get(&[1, 2, 3]).is_some(), "kept in memory meanwhile");
        assert!(!cache_dir.exists(), "nothing on disk before the hash is known");

        std::fs::File::options().write(true).open(&model).unwrap().write_all(b"model bytes").unwrap();
        let files = wait_for_kv_files(&cache_dir, 2);
        let sha = hex(&Sha256::digest(b"model bytes"));
        let mut names: Vec<String> = files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut expected = vec![hex(&key(FP, &sha, &[1, 2, 3])), hex(&key(FP, &sha, &[4, 5]))];
        expected.sort();
        assert_eq!(names, expected);
        // Later prefixes go straight to disk.
        cache.put(snapshot(&[6], 2));
        wait_for_kv_files(&cache_dir, 3);
        drop(cache);
        let mut next =
            PrefixCache::new(Some(PrefixCacheOptions { dir: cache_dir, max_bytes: 1 << 20, model_sha256: Some(sha) }), Path::new("unused"), FP.into());
        assert!(next.get(&[1, 2, 3]).is_some());
    }

    #[test]
    fn memory_keeps_the_most_recent_within_its_bound() {
        let mut c = PrefixCache::new(None, Path::new("unused"), FP.into());
        c.put(snapshot(&[1], 4));
        c.put(snapshot(&[2], 4));
        assert!(c.get(&[1]).is_some());
        assert_eq!(c.memory.back().map(|s| s.tokens.clone()), Some(vec![1]), "a hit is the most recent");
    }
}

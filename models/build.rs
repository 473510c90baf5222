use std::path::{Path, PathBuf};

fn main() {
    engine_build();
}

/// `FIN_R1_ENGINE_BUILD`: a hash of what decides the numbers the engine computes — its sources
/// and those of its kernels (the fin-r1-kernels crate, kernels/src), the computing dependencies'
/// versions (Cargo.lock), the compiler, the target and its features, the cargo features. The prefix cache keys its files by it (prefix_cache.rs), so keys and values one
/// build computed are never reused by another that may round differently.
fn engine_build() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let mut h = Fnv128::default();
    let mut files = Vec::new();
    source_files(&manifest.join("src"), &mut files);
    source_files(&manifest.join("kernels/src"), &mut files);
    files.sort();
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=kernels/src");
    for f in &files {
        h.part(f.strip_prefix(&manifest).unwrap_or(f).to_string_lossy().as_bytes());
        h.part(&std::fs::read(f).unwrap_or_default());
    }
    // The versions of the crates that compute (candle and its matrix products, half's
    // conversions), not the whole lock: another crate's update keeps the cached prefixes.
    let lock = manifest.join("../Cargo.lock");
    if lock.is_file() {
        println!("cargo:rerun-if-changed=../Cargo.lock");
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        for package in text.split("[[package]]") {
            let field = |name: &str| package.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default().to_owned();
            let (name, version) = (field("name = "), field("version = "));
            let name = name.trim_matches('"');
            if name.starts_with("candle") || name.starts_with("gemm") || name == "half" {
                h.part(name.as_bytes());
                h.part(version.as_bytes());
            }
        }
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc).arg("-vV").output().map(|o| o.stdout).unwrap_or_default();
    h.part(&version);
    let mut env: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k == "TARGET" || k == "PROFILE" || k == "CARGO_CFG_TARGET_FEATURE" || k.starts_with("CARGO_FEATURE_")).collect();
    env.sort();
    for (k, v) in env {
        h.part(k.as_bytes());
        h.part(v.as_bytes());
    }
    println!("cargo:rustc-env=FIN_R1_ENGINE_BUILD={:032x}", h.0);
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// FNV-1a, 128 bits: build scripts have no hash crate, and this one only tells builds apart.
struct Fnv128(u128);

impl Default for Fnv128 {
    fn default() -> Self {
        Self(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }
}

impl Fnv128 {
    /// One length-prefixed part, so that parts cannot run into each other.
    fn part(&mut self, bytes: &[u8]) {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
}

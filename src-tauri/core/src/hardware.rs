//! What this machine has for running a model: memory, cores, and a GPU where one is visible.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Gpu {
    pub name: String,
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Hardware {
    pub memory_bytes: u64,
    pub available_bytes: u64,
    pub cores: usize,
    pub gpus: Vec<Gpu>,
    /// Whether this build can use them (built with `--features cuda` / `metal`).
    pub cuda_build: bool,
    pub metal_build: bool,
}

impl Hardware {
    pub fn detect() -> Self {
        Self { gpus: nvidia_gpus(), ..Self::detect_without_gpus() }
    }

    /// `detect` from async code: it runs `nvidia-smi`, which can take seconds (a driver
    /// waking up) and must not hold an async worker.
    pub async fn detect_off_thread() -> Self {
        match tokio::task::spawn_blocking(Self::detect).await {
            Ok(hw) => hw,
            // The probe panicked: report the machine without GPUs rather than fail the page.
            Err(_) => Self::detect_without_gpus(),
        }
    }

    fn detect_without_gpus() -> Self {
        let (memory_bytes, available_bytes) = memory();
        Self {
            memory_bytes,
            available_bytes,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            gpus: Vec::new(),
            cuda_build: cfg!(feature = "cuda"),
            metal_build: cfg!(feature = "metal"),
        }
    }

    /// Memory a model may take: all but a quarter kept for the system and the analyst's other
    /// programs (at least 2 GB).
    pub fn usable_memory(&self) -> u64 {
        self.memory_bytes.saturating_sub((self.memory_bytes / 4).max(2_000_000_000))
    }
}

#[cfg(target_os = "linux")]
fn memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

#[cfg(not(target_os = "linux"))]
fn memory() -> (u64, u64) {
    (0, 0)
}

/// NVIDIA GPUs as `nvidia-smi` reports them (none where it is missing).
fn nvidia_gpus() -> Vec<Gpu> {
    let Ok(out) = std::process::Command::new("nvidia-smi").args(["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]).output() else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, mib) = l.rsplit_once(',')?;
            Some(Gpu { name: name.trim().to_owned(), memory_bytes: mib.trim().parse::<u64>().ok()? * 1024 * 1024 })
        })
        .collect()
}

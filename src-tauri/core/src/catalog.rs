//! The model catalog (`models/catalog.toml`) read, and matched against this machine: how much
//! memory each variant needs and which one to recommend.

use serde::{Deserialize, Serialize};

use crate::hardware::Hardware;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub repo: String,
    pub kind: String,
    #[serde(default)]
    pub quantization: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    pub params: u64,
    pub licence: String,
    #[serde(default)]
    pub recommended: bool,
    #[serde(default)]
    pub note: String,
    /// The name and note in Chinese, for the app in Chinese.
    #[serde(default)]
    pub name_zh: Option<String>,
    #[serde(default)]
    pub note_zh: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
struct File {
    format: u32,
    model: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the model catalog: {0}")]
    Parse(String),
    #[error("the model catalog has format {0}; this build reads format 1")]
    Format(u32),
    #[error("no catalog model {0:?} (`fin-r1 models catalog` lists them)")]
    Unknown(String),
}

pub fn load() -> Result<Vec<Entry>, CatalogError> {
    let f: File = toml::from_str(fin_r1_engine::CATALOG).map_err(|e| CatalogError::Parse(e.to_string()))?;
    if f.format != 1 {
        return Err(CatalogError::Format(f.format));
    }
    Ok(f.model)
}

pub fn get(id: &str) -> Result<Entry, CatalogError> {
    load()?.into_iter().find(|e| e.id == id).ok_or_else(|| CatalogError::Unknown(id.to_owned()))
}

/// Bits per weight of a quantization, for a size estimate where the hub's is not known.
fn bits_per_weight(q: Option<&str>) -> f64 {
    match q.map(str::to_ascii_uppercase).as_deref() {
        Some("Q4_K_M") => 4.9,
        Some("Q4_K_S") | Some("Q4_0") => 4.6,
        Some("Q5_K_M") => 5.7,
        Some("Q6_K") => 6.6,
        Some("Q8_0") => 8.5,
        Some("F16") | Some("BF16") => 16.0,
        _ => 16.0,
    }
}

/// Qwen2.5-7B's KV cache per token at f32: 2 (K and V) × 28 layers × 4 KV heads × 128 × 4 B.
const KV_BYTES_PER_TOKEN: u64 = 2 * 28 * 4 * 128 * 4;
/// The context the engine opens by default (the authors serve Fin-R1 with 16,384 tokens).
pub const DEFAULT_CONTEXT: u64 = 16_384;
const OVERHEAD: u64 = 300_000_000;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Advice {
    pub entry: Entry,
    /// Bytes on disk (the hub's figure where known, else an estimate).
    pub download_bytes: u64,
    /// Memory to run it with the default context.
    pub memory_bytes: u64,
    pub fits: bool,
    /// The one variant suggested for this machine.
    pub suggested: bool,
}

impl Entry {
    pub fn download_bytes(&self) -> u64 {
        self.size.unwrap_or_else(|| (self.params as f64 * bits_per_weight(self.quantization.as_deref()) / 8.0) as u64)
    }

    /// What running it needs: the weights (a safetensors entry is quantized to Q4_K_M first),
    /// the KV cache for the default context, and the engine's own.
    pub fn memory_bytes(&self) -> u64 {
        let weights = if self.kind == "gguf" { self.download_bytes() } else { (self.params as f64 * bits_per_weight(Some("Q4_K_M")) / 8.0) as u64 };
        weights + KV_BYTES_PER_TOKEN * DEFAULT_CONTEXT + OVERHEAD
    }
}

/// Each catalog entry against this machine. The suggestion: the catalog's recommended GGUF when
/// it fits (on a CPU, decoding speed follows the file's size, so a bigger quantization is
/// slower), else the largest GGUF that does; with a GPU whose memory holds a bigger one, that.
pub fn advise(entries: Vec<Entry>, hw: &Hardware) -> Vec<Advice> {
    let vram = usable_vram(hw);
    let budget = hw.usable_memory().max(vram);
    let mut out: Vec<Advice> = entries
        .into_iter()
        .map(|e| {
            let memory_bytes = e.memory_bytes();
            Advice { download_bytes: e.download_bytes(), fits: memory_bytes <= budget, memory_bytes, entry: e, suggested: false }
        })
        .collect();
    let best = out
        .iter()
        .enumerate()
        .filter(|(_, a)| a.fits && a.entry.kind == "gguf")
        .max_by_key(|(_, a)| (vram == 0 && a.entry.recommended, a.memory_bytes))
        .map(|(i, _)| i);
    if let Some(i) = best {
        out[i].suggested = true;
    }
    out
}

fn usable_vram(hw: &Hardware) -> u64 {
    if hw.cuda_build {
        hw.gpus.iter().map(|g| g.memory_bytes).max().unwrap_or(0)
    } else {
        0
    }
}

/// On a CPU, decoding reads every weight per token: beyond this file size a laptop's memory
/// bandwidth gives only a few tokens a second.
const SLOW_ON_CPU_BYTES: u64 = 6_000_000_000;

/// How a GGUF already on disk would run here (the model menu's note beside each file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum FileFit {
    Fits,
    /// Fits in memory, but on the CPU it decodes slowly.
    Slow,
    TooBig,
}

pub fn file_fit(file_bytes: u64, hw: &Hardware) -> FileFit {
    let need = file_bytes + KV_BYTES_PER_TOKEN * DEFAULT_CONTEXT + OVERHEAD;
    let vram = usable_vram(hw);
    if need <= vram {
        FileFit::Fits
    } else if need > hw.usable_memory() {
        FileFit::TooBig
    } else if file_bytes > SLOW_ON_CPU_BYTES {
        FileFit::Slow
    } else {
        FileFit::Fits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_fits_runs_slowly_or_is_too_big() {
        assert_eq!(file_fit(4_700_000_000, &machine(16)), FileFit::Fits);
        assert_eq!(file_fit(8_100_000_000, &machine(16)), FileFit::Slow, "7B Q8_0 on a CPU");
        assert_eq!(file_fit(15_200_000_000, &machine(16)), FileFit::TooBig, "7B F16 in 16 GB");
        let gpu = Hardware { gpus: vec![crate::hardware::Gpu { name: "RTX 4090".into(), memory_bytes: 24_000_000_000 }], cuda_build: true, ..machine(16) };
        assert_eq!(file_fit(8_100_000_000, &gpu), FileFit::Fits);
    }

    fn machine(gb: u64) -> Hardware {
        Hardware { memory_bytes: gb * 1_000_000_000, available_bytes: 0, cores: 8, gpus: Vec::new(), cuda_build: false, metal_build: false }
    }

    #[test]
    fn the_catalog_parses_and_names_only_confirmed_repositories() {
        let entries = load().expect("catalog");
        assert!(entries.iter().any(|e| e.recommended && e.kind == "gguf"));
        for e in &entries {
            assert!(["mradermacher/Fin-R1-GGUF", "Mungert/Fin-R1-GGUF", "SUFE-AIFLM-Lab/Fin-R1"].contains(&e.repo.as_str()), "{}", e.repo);
        }
    }

    #[test]
    fn advice_follows_the_machine() {
        let suggested = |gb| advise(load().expect("catalog"), &machine(gb)).into_iter().find(|a| a.suggested).map(|a| a.entry.id);
        assert_eq!(suggested(32).as_deref(), Some("fin-r1-q4_k_m"));
        assert_eq!(suggested(10).as_deref(), Some("fin-r1-q4_k_m"));
        assert_eq!(suggested(4), None, "nothing fits 4 GB");
        let tight = advise(load().expect("catalog"), &machine(12));
        assert!(tight.iter().any(|a| a.entry.id == "fin-r1-q8_0" && !a.fits));
    }
}

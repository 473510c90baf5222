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
    /// Fits, fits but decodes slowly on the CPU, or too big for this machine.
    pub fit: FileFit,
    /// Tokens a second it would write here (see `Speed`); none where it does not fit.
    pub decode_tok_s: Option<f64>,
    /// The one variant suggested for this machine.
    pub suggested: bool,
}

/// What decoding speed here is estimated from: decoding reads every weight once a token, so
/// tokens a second ≈ the bytes a second the engine reads ÷ the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Speed {
    /// This machine's own answers: the median of the engine's recent decoding speeds on
    /// files of 1 GB and more, times those files' sizes.
    Measured { bytes_per_s: f64, answers: u32 },
    /// The engine's benchmark figure per core (BENCHMARKS.md), times this machine's cores,
    /// at most what a desktop's memory gives.
    Benchmark { bytes_per_s: f64, cores: u32 },
}

/// A token's cost that does not grow with the file (sampling, the thread pool's wake-ups, the
/// small products): SmolLM2's 0.1 GB decodes at 165 tok/s where reading alone would allow 500.
pub const PER_TOKEN_OVERHEAD_S: f64 = 0.004;
/// The engine's decoding in BENCHMARKS.md (issue 19): 7B Q4_K_M, 4.68 GB, 10.31 tok/s on two
/// cores of an AMD EPYC (Zen 5): the bytes a second one core reads, the overhead taken out.
pub const BENCH_BYTES_PER_S_PER_CORE: f64 = 4.68e9 / (1.0 / 10.31 - PER_TOKEN_OVERHEAD_S) / 2.0;
/// A desktop's or laptop's dual-channel DDR5 memory, as decoding reads it: the most any core count
/// is credited with.
pub const DESKTOP_MEMORY_BYTES_PER_S: f64 = 64e9;

impl Speed {
    /// From this machine's answers where it has some, else the benchmark scaled to its cores.
    pub fn for_machine(hw: &Hardware, measured: Option<(f64, u32)>) -> Self {
        match measured {
            Some((bytes_per_s, answers)) if bytes_per_s > 0.0 && answers > 0 => Speed::Measured { bytes_per_s, answers },
            _ => {
                let cores = hw.cores.max(1) as f64;
                Speed::Benchmark { bytes_per_s: (cores * BENCH_BYTES_PER_S_PER_CORE).min(DESKTOP_MEMORY_BYTES_PER_S), cores: hw.cores.max(1) as u32 }
            }
        }
    }

    pub fn bytes_per_s(self) -> f64 {
        match self {
            Speed::Measured { bytes_per_s, .. } | Speed::Benchmark { bytes_per_s, .. } => bytes_per_s,
        }
    }

    /// Tokens a second for a file of `file_bytes` that fits here (none for one too big).
    pub fn decode_tok_s(self, file_bytes: u64, fit: FileFit) -> Option<f64> {
        (fit != FileFit::TooBig && file_bytes > 0).then(|| 1.0 / (file_bytes as f64 / self.bytes_per_s() + PER_TOKEN_OVERHEAD_S))
    }

    /// The bytes a second an answer's speed on a file of `file_bytes` says the engine read.
    pub fn bytes_per_s_of(tok_s: f64, file_bytes: u64) -> Option<f64> {
        let reading = 1.0 / tok_s - PER_TOKEN_OVERHEAD_S;
        (tok_s > 0.0 && reading > 0.0).then(|| file_bytes as f64 / reading).filter(|b| b.is_finite())
    }
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
pub fn advise(entries: Vec<Entry>, hw: &Hardware, speed: Speed) -> Vec<Advice> {
    let vram = usable_vram(hw);
    let budget = hw.usable_memory().max(vram);
    let mut out: Vec<Advice> = entries
        .into_iter()
        .map(|e| {
            let memory_bytes = e.memory_bytes();
            // What runs is the GGUF: a safetensors checkpoint is quantized to Q4_K_M first.
            let runs = memory_bytes - KV_BYTES_PER_TOKEN * DEFAULT_CONTEXT - OVERHEAD;
            let fit = file_fit(runs, hw);
            Advice {
                download_bytes: e.download_bytes(),
                fits: memory_bytes <= budget,
                fit,
                decode_tok_s: speed.decode_tok_s(runs, fit),
                memory_bytes,
                entry: e,
                suggested: false,
            }
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
    // A size a hub declares is any number: added without wrapping.
    let need = file_bytes.saturating_add(KV_BYTES_PER_TOKEN * DEFAULT_CONTEXT + OVERHEAD);
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

/// The quantization a GGUF's file name says, as llama.cpp's tools name them
/// (`Fin-R1.Q4_K_M.gguf`, `fin-r1-iq4_xs.gguf`, `model-bf16.gguf`).
pub fn quantization_in_name(file: &str) -> Option<String> {
    let name = file.rsplit('/').next().unwrap_or(file).to_ascii_uppercase();
    let name = name.strip_suffix(".GGUF").unwrap_or(&name);
    // Split at the separators a name uses, and rejoin the parts a quantization spans.
    let parts: Vec<&str> = name.split(['.', '-']).collect();
    parts.iter().rev().find_map(|p| {
        let p = p.trim_start_matches("UD_");
        let digit_after = |prefix: &str| p.strip_prefix(prefix).and_then(|rest| rest.chars().next()).is_some_and(|c| c.is_ascii_digit());
        let q = digit_after("Q") || digit_after("IQ") || matches!(p, "F16" | "BF16" | "F32");
        let shaped = p.len() <= 8 && p.chars().any(|c| c.is_ascii_digit()) && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (q && shaped).then(|| p.to_owned())
    })
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

    /// Issue 30 item 6: the estimate follows the file's size, the machine's cores (up to its
    /// memory's pace), and this machine's own answers where it has some.
    #[test]
    fn the_speed_estimate_follows_the_file_the_cores_and_what_was_measured_here() {
        let two = Speed::for_machine(&Hardware { cores: 2, ..machine(16) }, None);
        let q4 = two.decode_tok_s(4_680_000_000, FileFit::Fits).expect("fits");
        assert!((q4 - 10.31).abs() < 0.01, "the benchmark's own machine gets the benchmark's figure: {q4}");
        let q8 = two.decode_tok_s(8_100_000_000, FileFit::Slow).expect("fits");
        assert!(q8 < q4, "a bigger file is slower");
        assert_eq!(two.decode_tok_s(15_200_000_000, FileFit::TooBig), None);
        let many = Speed::for_machine(&Hardware { cores: 64, ..machine(16) }, None);
        assert_eq!(many.bytes_per_s(), DESKTOP_MEMORY_BYTES_PER_S, "cores past the memory's pace add nothing");
        let tiny = two.decode_tok_s(100_000_000, FileFit::Fits).expect("fits");
        assert!(tiny > 100.0 && tiny < 250.0, "a small file's speed is its overhead's: {tiny}");
        let here = Speed::for_machine(&machine(16), Some((20e9, 5)));
        assert_eq!(here, Speed::Measured { bytes_per_s: 20e9, answers: 5 });
        let advice = advise(load().expect("catalog"), &machine(16), here);
        let q4 = advice.iter().find(|a| a.entry.id == "fin-r1-q4_k_m").expect("q4");
        assert!(q4.decode_tok_s.is_some_and(|t| t > 3.0 && t < 5.0), "{:?}", q4.decode_tok_s);
        assert_eq!(q4.fit, FileFit::Fits);
    }

    #[test]
    fn a_file_name_says_its_quantization() {
        assert_eq!(quantization_in_name("Fin-R1.Q4_K_M.gguf").as_deref(), Some("Q4_K_M"));
        assert_eq!(quantization_in_name("sub/fin-r1-iq4_xs.gguf").as_deref(), Some("IQ4_XS"));
        assert_eq!(quantization_in_name("Qwen2.5-7B-Instruct-bf16.gguf").as_deref(), Some("BF16"));
        assert_eq!(quantization_in_name("Fin-R1.Q8_0.gguf").as_deref(), Some("Q8_0"));
        assert_eq!(quantization_in_name("model.gguf"), None);
        assert_eq!(quantization_in_name("Qwen2.5-7B.gguf"), None, "a version is not a quantization");
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
        let suggested =
            |gb| advise(load().expect("catalog"), &machine(gb), Speed::for_machine(&machine(gb), None)).into_iter().find(|a| a.suggested).map(|a| a.entry.id);
        assert_eq!(suggested(32).as_deref(), Some("fin-r1-q4_k_m"));
        assert_eq!(suggested(10).as_deref(), Some("fin-r1-q4_k_m"));
        assert_eq!(suggested(4), None, "nothing fits 4 GB");
        let tight = advise(load().expect("catalog"), &machine(12), Speed::for_machine(&machine(12), None));
        assert!(tight.iter().any(|a| a.entry.id == "fin-r1-q8_0" && !a.fits));
    }
}

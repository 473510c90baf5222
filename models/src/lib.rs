//! Fin-R1 Desktop's inference engine: GGUF models of the Qwen2 and Llama architectures run
//! in-process with candle, their output streamed as separate reasoning and answer events.
//!
//! No `unsafe` here: the SIMD kernels and the few system calls the engine needs (mapping a
//! file, the allocator's thresholds, a thread's priority, the start-up CPU check) live in the
//! fin-r1-kernels crate, re-exported as [`kernels`], behind safe functions.
#![forbid(unsafe_code)]

pub mod cpu_ops;
pub mod defaults;
pub mod device;
pub mod digest;
pub mod engine;
pub mod error;
pub mod events;
pub mod gguf;
pub mod hparams;
pub mod inspect;
pub mod model;
pub mod model_file;
pub mod prefix_cache;
pub mod quantize;
pub mod repetition;
pub mod runtime;
pub mod sampler;
pub mod splitter;
pub mod stream;
pub mod template;
pub mod tokenizer;
pub mod weights;

/// The CPU kernels (the fin-r1-kernels crate): `fin_r1_engine::kernels::…` as before the split.
pub use fin_r1_kernels as kernels;

pub use defaults::{ModelFamily, FIN_R1_SYSTEM_PROMPT};
pub use device::DeviceChoice;
pub use engine::{Engine, Generation};
pub use error::{EngineError, Result};
pub use events::{Done, ErrorKind, GenerationEvent, StopReason, ToolResult, ToolStatus, Usage};
pub use prefix_cache::PrefixCacheOptions;
pub use runtime::{CancelToken, ContextPolicy, GenerationRequest, LoadOptions, ModelInfo, Runtime};
pub use sampler::{resolve as resolve_sampling, SamplingError, SamplingOverrides, SamplingParams};
pub use template::{with_tools, ChatMessage, Role, ToolCall, ToolSpec};

/// The model catalog (`models/catalog.toml`): the models the app offers to fetch.
pub const CATALOG: &str = include_str!("../catalog.toml");

/// Fixes the number of worker threads for the process (`n`, else RAYON_NUM_THREADS, else the
/// physical cores): candle reads RAYON_NUM_THREADS on every matrix product and, when it is
/// unset, works the count out from /proc/cpuinfo each time (measured: 4% of SmolLM2's
/// decode). Call from `main`, before any worker thread starts.
pub fn init_threads(n: Option<usize>) -> usize {
    let from_env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n > 0);
    let n = n.filter(|&n| n > 0).or(from_env).unwrap_or_else(candle_core::utils::get_num_threads);
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    kernels::sys::keep_large_buffers();
    n
}

/// Keeps the start-up CPU check (fin-r1-kernels' `csrc/cpu_check.c`, run before `main` on every
/// x86-64 OS: the x86-64-v3 features the build needs, AVX2, FMA, F16C, BMI1/2, LZCNT and MOVBE)
/// linked into a binary: call it once from `main`. By then the check has passed.
pub fn cpu_check_linked() -> bool {
    kernels::sys::cpu_check_linked()
}

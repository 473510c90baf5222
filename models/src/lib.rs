//! Fin-R1 Desktop's inference engine: GGUF models of the Qwen2 and Llama architectures run
//! in-process with candle, their output streamed as separate reasoning and answer events.

pub mod cpu_ops;
pub mod defaults;
pub mod device;
pub mod engine;
pub mod error;
pub mod events;
pub mod gguf;
pub mod hparams;
pub mod inspect;
pub mod kernels;
pub mod model;
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

pub use defaults::{ModelFamily, FIN_R1_SYSTEM_PROMPT};
pub use device::DeviceChoice;
pub use engine::{Engine, Generation};
pub use error::{EngineError, Result};
pub use events::{Done, ErrorKind, GenerationEvent, StopReason, Usage};
pub use prefix_cache::PrefixCacheOptions;
pub use runtime::{CancelToken, ContextPolicy, GenerationRequest, LoadOptions, ModelInfo, Runtime};
pub use sampler::{resolve as resolve_sampling, SamplingError, SamplingOverrides, SamplingParams};
pub use template::{ChatMessage, Role};

/// The model catalog (`models/catalog.toml`): the models the app offers to fetch.
pub const CATALOG: &str = include_str!("../catalog.toml");

extern "C" {
    fn fin_r1_cpu_check_linked() -> std::os::raw::c_int;
}

/// Fixes the number of worker threads for the process (`n`, else RAYON_NUM_THREADS, else the
/// physical cores): candle reads RAYON_NUM_THREADS on every matrix product and, when it is
/// unset, works the count out from /proc/cpuinfo each time (measured: 4% of SmolLM2's
/// decode). Call from `main`, before any worker thread starts.
pub fn init_threads(n: Option<usize>) -> usize {
    let from_env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n > 0);
    let n = n.filter(|&n| n > 0).or(from_env).unwrap_or_else(candle_core::utils::get_num_threads);
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    keep_large_buffers();
    n
}

/// Lets glibc serve a forward pass's large buffers (a 7B prefill chunk's activations, tens of
/// MB each) from the heap instead of fresh mappings: with its default thresholds each one was
/// mapped, faulted in page by page and unmapped again, layer after layer (3% of a 7B prefill
/// in `perf`). One arena: the forward pass runs on pool threads, and a thread's own arena grows
/// in heaps of at most 64 MB that glibc unmaps as soon as they empty, so a layer's few 20 MB
/// buffers were faulted in afresh every layer (427,000 page faults in a 256-token 7B prefill,
/// 59,000 with one arena; the prefill 10-14% faster). Its allocations are few and large: the
/// shared lock costs nothing measurable.
fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        const M_ARENA_MAX: libc::c_int = -8;
        // SAFETY: mallopt only changes allocator parameters; called before other threads start.
        // 32 MiB is the largest mapping threshold glibc accepts on 64-bit systems.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(M_TRIM_THRESHOLD, 256 << 20);
            libc::mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// Keeps the start-up CPU check (`csrc/cpu_check.c`, run before `main` on every x86-64 OS: the
/// x86-64-v3 features the build needs, AVX2, FMA, F16C, BMI1/2, LZCNT and MOVBE) linked into a
/// binary: call it once from `main`. By then the check has passed.
pub fn cpu_check_linked() -> bool {
    // SAFETY: a C function without arguments or side effects.
    unsafe { fin_r1_cpu_check_linked() == 1 }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod cpu_check_tests {
    extern "C" {
        /// The x86-64-v3 features this CPU lacks, one bit each, in csrc/cpu_check.c's order.
        fn fin_r1_cpu_missing() -> std::os::raw::c_uint;
    }

    /// The start-up check reads the CPU as Rust's own detection does, feature by feature (on
    /// every x86-64 OS: it was Linux's only, and never asked for F16C, LZCNT or MOVBE).
    #[test]
    fn the_start_up_check_sees_what_std_sees() {
        // SAFETY: a C function without arguments; it only executes CPUID (and XGETBV where the
        // OS has enabled it).
        let missing = unsafe { fin_r1_cpu_missing() };
        let os_saves_avx = missing & (1 << 8) == 0;
        let features = [
            ("avx", is_x86_feature_detected!("avx"), true),
            ("avx2", is_x86_feature_detected!("avx2"), true),
            ("fma", is_x86_feature_detected!("fma"), true),
            ("f16c", is_x86_feature_detected!("f16c"), true),
            ("bmi1", is_x86_feature_detected!("bmi1"), false),
            ("bmi2", is_x86_feature_detected!("bmi2"), false),
            ("lzcnt", is_x86_feature_detected!("lzcnt"), false),
            ("movbe", is_x86_feature_detected!("movbe"), false),
        ];
        for (bit, (name, std_sees, needs_os_avx)) in features.into_iter().enumerate() {
            // std counts the AVX family present only where the OS saves its registers.
            let check_sees = missing & (1 << bit) == 0 && (os_saves_avx || !needs_os_avx);
            assert_eq!(check_sees, std_sees, "{name}: the start-up check and std disagree (missing bits {missing:#b})");
        }
        assert_eq!(missing >> 9, 0, "no bits past the nine features");
        // This binary runs, built for x86-64-v3: the check passes here.
        assert_eq!(missing, 0);
    }
}

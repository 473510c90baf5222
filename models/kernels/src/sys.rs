//! The engine's few calls into the operating system and C that Rust cannot check, each behind a
//! safe function that says what it assumes: mapping files, the allocator's thresholds, a
//! thread's priority, and the start-up CPU check (csrc/cpu_check.c). The engine itself forbids
//! `unsafe`.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use candle_core::safetensors::MmapedSafetensors;
pub use memmap2::Mmap;

/// Maps `file` read-only.
///
/// What the app assumes: nobody truncates or rewrites the file in place while it is mapped (a
/// truncated file faults on access, a rewritten one changes under the reader). The app never
/// does: downloads and conversions write a new file and rename it over the old one, which leaves
/// an existing map on the old contents.
pub fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: a read-only map; the file is not modified in place while mapped (see above), so
    // the bytes behind the returned slice stay as they were when mapped.
    unsafe { Mmap::map(file) }
}

/// Maps a checkpoint's safetensors shards read-only, as one table of tensors.
///
/// What the app assumes: as for [`map_file`], the shards are not modified while mapped (the
/// quantizer only reads them, and writes its output elsewhere).
pub fn map_safetensors(files: &[PathBuf]) -> candle_core::Result<MmapedSafetensors> {
    // SAFETY: read-only maps of files not modified while mapped (see above).
    unsafe { MmapedSafetensors::multi(files) }
}

/// Lets glibc serve a forward pass's large buffers (a 7B prefill chunk's activations, tens of
/// MB each) from the heap instead of fresh mappings: with its default thresholds each one was
/// mapped, faulted in page by page and unmapped again, layer after layer (3% of a 7B prefill
/// in `perf`). One arena: the forward pass runs on pool threads, and a thread's own arena grows
/// in heaps of at most 64 MB that glibc unmaps as soon as they empty, so a layer's few 20 MB
/// buffers were faulted in afresh every layer (427,000 page faults in a 256-token 7B prefill,
/// 59,000 with one arena; the prefill 10-14% faster). Its allocations are few and large: the
/// shared lock costs nothing measurable. Does nothing outside Linux with glibc.
///
/// Call before other threads start (from `main`, through `fin_r1_engine::init_threads`).
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        const M_ARENA_MAX: libc::c_int = -8;
        // SAFETY: mallopt only changes allocator parameters, which glibc reads under its own
        // lock; 32 MiB is the largest mapping threshold glibc accepts on 64-bit systems.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(M_TRIM_THRESHOLD, 256 << 20);
            libc::mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// Lowers the calling thread's scheduling priority to `nice` (Linux: per thread; elsewhere
/// nothing). A failure leaves the priority as it was.
pub fn lower_this_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, with no pointers; a failure only leaves
    // its priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

extern "C" {
    fn fin_r1_cpu_check_linked() -> std::os::raw::c_int;
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

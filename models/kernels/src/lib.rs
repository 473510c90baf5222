//! Fin-R1's CPU kernels, and every `unsafe` block of the engine: the quantized matrix products
//! over weights used in place from the mapped GGUF file, their block layouts and packing, and
//! the few system calls the engine makes ([`sys`]: mapping files, the allocator's thresholds, a
//! thread's priority, the start-up CPU check). The engine and every other crate of the app
//! forbid `unsafe` and call the safe functions here; each `unsafe` block below says why it is
//! sound (`// SAFETY:`), and clippy checks that it does.
//!
//! Decode (one token) reads each weight row whole with a one-row kernel per type, prefetching
//! the weights a few pages ahead. Prefill (five tokens or more) runs the packed kernels
//! (`packed`): each task unpacks a tile of rows once into bytes, four rows interleaved eight
//! values at a time (sixteen rows four at a time on 512-bit vectors), and puts every token of
//! the chunk through them with 8-bit dot-product instructions. The activations are quantized
//! once per input and shared by the projections that read the same input (q/k/v, gate/up).
//!
//! The implementation is chosen at run time (`Isa`): AVX-512 VNNI (512-bit packed kernel),
//! AVX-VNNI, AVX2, NEON with or without `sdot`, portable. Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 and
//! Q4_1 have kernels of ours on x86; on ARM the 32-value types and the K-quants' prefill do,
//! and K-quant decode goes through candle's NEON dot products. Other block types go through
//! candle's per-type dot products, tiled the same way. The portable Rust versions of our
//! kernels are the reference the SIMD code is tested against, on every path the CPU has
//! (tests/kernels.rs; on aarch64 under QEMU, scripts/test-aarch64.sh).

pub mod blocks;
mod generic;
pub mod packed;
pub mod q32;
pub mod q4k;
pub mod q6k;
pub mod sys;
mod tensor_type;

pub use tensor_type::TensorType;

use std::sync::OnceLock;

use rayon::prelude::*;

use blocks::{cast_blocks, quantize_q8k, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K, QK_K};

/// Weight rows handled by one task: enough to amortise scheduling, small enough to stay in L2.
const ROW_TILE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("weight bytes of type {0} are not a whole number of aligned blocks")]
    Misaligned(&'static str),
    #[error("input of {got} values per row does not match the weight's {expected}")]
    Shape { got: usize, expected: usize },
    #[error("no quantized kernel for weight type {0}")]
    Unsupported(&'static str),
}

/// Which implementation runs, chosen once from the CPU's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX2 with the 256-bit VNNI dot product (`vpdpbusd`, AVX-VNNI): Intel Core since Alder Lake.
    #[cfg(target_arch = "x86_64")]
    AvxVnni,
    /// AVX-512 F/BW/VL with VNNI: AMD Zen 4 and later, Intel Xeon since Cascade Lake. The packed
    /// prefill kernels run on 512-bit vectors (K-quants sixteen rows per vector, the 32-value
    /// types eight).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Every aarch64 CPU has NEON; the 32-value types and the K-quants' prefill have NEON
    /// kernels, K-quant decode goes through candle's NEON dot products.
    #[cfg(target_arch = "aarch64")]
    Neon,
    /// NEON with the dot-product extension (`sdot`): Apple M1 and later, Cortex-A76 and later.
    #[cfg(target_arch = "aarch64")]
    NeonDot,
}

impl Isa {
    /// The best this CPU runs; `FIN_R1_KERNELS=portable|avx2|avxvnni|avx512` picks a lesser one
    /// (to compare them), `FIN_R1_SCALAR_KERNELS` the portable code.
    pub fn detect() -> Self {
        let all = Self::available();
        if std::env::var_os("FIN_R1_SCALAR_KERNELS").is_some() {
            return Isa::Scalar;
        }
        if let Some(name) = std::env::var_os("FIN_R1_KERNELS") {
            if let Some(&chosen) = all.iter().find(|i| name == i.name()) {
                return chosen;
            }
            tracing::warn!("FIN_R1_KERNELS={name:?} is not one this CPU runs ({:?}); the best is used", all);
        }
        all.last().copied().unwrap_or(Isa::Scalar)
    }

    /// Every implementation this CPU can run, the best last.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut all = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            // F16C came before AVX2 on every CPU; the kernels convert scales with it.
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c") {
                all.push(Isa::Avx2);
                if is_x86_feature_detected!("avxvnni") {
                    all.push(Isa::AvxVnni);
                }
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
                {
                    all.push(Isa::Avx512);
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            all.push(Isa::Neon);
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                all.push(Isa::NeonDot);
            }
        }
        all
    }

    /// Whether the x86 SIMD kernels (AVX2 and up) run.
    pub fn x86_simd(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, Isa::Avx2 | Isa::AvxVnni | Isa::Avx512) {
            return true;
        }
        false
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::AvxVnni => "avxvnni",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => "neon",
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => "neon-dotprod",
        }
    }
}

pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(Isa::detect)
}

/// A weight matrix of `rows` rows of `cols` values, viewed in place.
#[derive(Clone, Copy)]
pub struct QWeight<'a> {
    pub ttype: TensorType,
    pub bytes: &'a [u8],
    pub rows: usize,
    pub cols: usize,
}

/// Activations quantized for one family of weight types.
pub enum QInput {
    /// `offsets`: each block's 16-value sums times -32, Q6_K's offset, with which the 512-bit
    /// kernel starts each unit's integer sum (no separate bias term); made when first needed.
    Q8K {
        blocks: Vec<BlockQ8K>,
        sub_sums: Vec<[i16; 8]>,
        offsets: OnceLock<Vec<[i32; 16]>>,
        rows: usize,
        cols: usize,
    },
    /// For the 32-value block types (Q8_0, Q4_0, Q4_1).
    Q8x32 {
        blocks: Vec<q32::BlockQ8x32>,
        rows: usize,
        cols: usize,
    },
    Generic(generic::GenericInput),
}

impl QInput {
    pub fn rows(&self) -> usize {
        match self {
            QInput::Q8K { rows, .. } | QInput::Q8x32 { rows, .. } => *rows,
            QInput::Generic(g) => g.rows,
        }
    }
}

/// Whether two weight types read the same quantized activations.
pub fn same_input_kind(a: TensorType, b: TensorType) -> bool {
    uses_q8k(a) && uses_q8k(b) || uses_q32(a) && uses_q32(b) || a == b
}

fn uses_q8k(t: TensorType) -> bool {
    matches!(t, TensorType::Q4K | TensorType::Q5K | TensorType::Q6K)
}

fn uses_q32(t: TensorType) -> bool {
    matches!(t, TensorType::Q8_0 | TensorType::Q4_0 | TensorType::Q4_1)
}

/// Whether this module has a kernel for the type (otherwise the caller falls back to candle).
pub fn supported(t: TensorType) -> bool {
    uses_q8k(t) || uses_q32(t) || generic::supported(t)
}

/// The kernels this CPU runs, for a benchmark's record: the instruction set and the block
/// types with a kernel of the engine's own.
pub fn describe() -> String {
    let i = isa();
    let own = if i.x86_simd() {
        "Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q4_1"
    } else if i == Isa::Scalar {
        "none (portable: candle's)"
    } else {
        "Q8_0, Q4_0, Q4_1, and the prefill of Q4_K, Q5_K, Q6_K"
    };
    format!("{} kernels for {own}; candle's for the other types", i.name())
}

/// Quantizes `rows` rows of `cols` f32 values for multiplication by weights of type `t`.
pub fn quantize_input(t: TensorType, x: &[f32], rows: usize, cols: usize) -> Result<QInput, KernelError> {
    if x.len() != rows * cols {
        return Err(KernelError::Shape { got: x.len() / rows.max(1), expected: cols });
    }
    if uses_q8k(t) {
        if !cols.is_multiple_of(QK_K) {
            return Err(KernelError::Shape { got: cols, expected: cols.next_multiple_of(QK_K) });
        }
        let per_row = cols / QK_K;
        let mut blocks = vec![BlockQ8K::ZERO; rows * per_row];
        blocks.par_chunks_mut(per_row).zip(x.par_chunks(cols)).with_min_len(4).for_each(|(b, x)| quantize_q8k(x, b));
        let sub_sums = blocks.iter().map(|b| std::array::from_fn(|s| b.bsums[2 * s] + b.bsums[2 * s + 1])).collect();
        return Ok(QInput::Q8K { blocks, sub_sums, offsets: OnceLock::new(), rows, cols });
    }
    if uses_q32(t) {
        if !cols.is_multiple_of(q32::QK) {
            return Err(KernelError::Shape { got: cols, expected: cols.next_multiple_of(q32::QK) });
        }
        let per_row = cols / q32::QK;
        let mut blocks = vec![q32::BlockQ8x32::ZERO; rows * per_row];
        blocks.par_chunks_mut(per_row).zip(x.par_chunks(cols)).with_min_len(4).for_each(|(b, x)| q32::quantize(x, b));
        return Ok(QInput::Q8x32 { blocks, rows, cols });
    }
    generic::quantize(t, x, rows, cols).map(QInput::Generic)
}

/// `out[t * w.rows + r] = dot(weight row r, input row t)`.
/// What the kernels' raw pointers rely on, checked at every public entry: `QInput`'s fields
/// are public, so a caller can make one whose buffers disagree with its shape.
fn check_buffers(w: &QWeight<'_>, x: &QInput, out: &[f32]) {
    let m = x.rows();
    assert_eq!(out.len(), m.checked_mul(w.rows).expect("output size overflows"), "output buffer size");
    match x {
        QInput::Q8K { blocks, sub_sums, rows, cols, .. } => {
            assert_eq!(blocks.len(), rows * cols.div_ceil(256), "Q8_K blocks for the input's shape");
            assert_eq!(sub_sums.len(), blocks.len(), "one sum set a block");
        }
        QInput::Q8x32 { blocks, rows, cols } => assert_eq!(blocks.len(), rows * cols.div_ceil(32), "Q8 blocks for the input's shape"),
        QInput::Generic(_) => {}
    }
}

pub fn matmul(w: &QWeight<'_>, x: &QInput, out: &mut [f32]) -> Result<(), KernelError> {
    let m = x.rows();
    check_buffers(w, x, out);
    match (w.ttype, x) {
        (t, QInput::Q8K { blocks, sub_sums, offsets, cols, .. }) if uses_q8k(t) => {
            check_cols(*cols, w.cols)?;
            let choice = isa();
            if choice == Isa::Scalar {
                // No kernel of ours beats candle's scalar code here.
                return generic::matmul_q8k(w, blocks, m, out);
            }
            matmul_kquant(choice, w, blocks, sub_sums, offsets, m, out)
        }
        (t, QInput::Q8x32 { blocks, cols, .. }) if uses_q32(t) => {
            check_cols(*cols, w.cols)?;
            matmul_q32(isa(), w, blocks, m, out)
        }
        (_, QInput::Generic(g)) => generic::matmul(w, g, out),
        (t, _) => Err(KernelError::Unsupported(t.name())),
    }
}

/// Prefills of at least this many tokens unpack each tile of rows once for the packed kernel;
/// fewer tokens cannot pay for the unpacking and read the rows in place.
const PACKED_MIN_TOKENS: usize = 5;

/// Q4_K, Q5_K and Q6_K with one of our implementations (`Scalar`: the portable reference).
#[allow(unused_variables)]
fn matmul_kquant(
    choice: Isa,
    w: &QWeight<'_>,
    x: &[BlockQ8K],
    sub_sums: &[[i16; 8]],
    offsets: &OnceLock<Vec<[i32; 16]>>,
    m: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let kb = w.cols / QK_K;
    // The packed kernels' unit sums: Q4_K/Q5_K apply their minimums per 32 values
    // (`sub_sums`), Q6_K its offset per 16 (the blocks' own `bsums`, 146 i16 apart).
    let (sums, stride) = match w.ttype {
        TensorType::Q6K => (Shared(x.as_ptr().cast::<u8>().wrapping_add(std::mem::offset_of!(BlockQ8K, bsums)).cast()), std::mem::size_of::<BlockQ8K>() / 2),
        _ => (Shared(sub_sums.as_ptr().cast()), 8),
    };
    #[cfg(target_arch = "x86_64")]
    if choice.x86_simd() {
        match w.ttype {
            TensorType::Q4K => {
                let wb: &[BlockQ4K] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned("Q4_K"))?;
                if m >= PACKED_MIN_TOKENS && choice != Isa::Avx2 {
                    matmul_packed_k(choice, wb, w.rows, kb, x, sums, stride, Shared(std::ptr::null()), m, out);
                } else if m > 1 {
                    // One token cannot amortise the four-row kernel's gathers (measured: slower
                    // for decode, as was a two-row variant); it reads rows whole instead.
                    tiled_q4k_rows4(wb, w.rows, kb, x, sub_sums, m, out, q4k_dot(choice));
                } else {
                    tiled(wb, w.rows, kb, x, m, out, q4k_dot(choice));
                }
            }
            TensorType::Q5K => {
                let wb: &[BlockQ5K] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned("Q5_K"))?;
                if m >= PACKED_MIN_TOKENS {
                    matmul_packed_k(choice, wb, w.rows, kb, x, sums, stride, Shared(std::ptr::null()), m, out);
                } else {
                    return generic::matmul_q8k(w, x, m, out);
                }
            }
            TensorType::Q6K => {
                let wb: &[BlockQ6K] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned("Q6_K"))?;
                if m >= PACKED_MIN_TOKENS {
                    let offs = match choice {
                        Isa::Avx512 => Shared(offsets.get_or_init(|| x.iter().map(|b| b.bsums.map(|s| -32 * i32::from(s))).collect()).as_ptr().cast()),
                        _ => Shared(std::ptr::null()),
                    };
                    matmul_packed_k(choice, wb, w.rows, kb, x, sums, stride, offs, m, out);
                } else {
                    tiled(wb, w.rows, kb, x, m, out, q6k_dot(choice));
                }
            }
            t => return Err(KernelError::Unsupported(t.name())),
        }
        return Ok(());
    }
    #[cfg(target_arch = "aarch64")]
    if m >= PACKED_MIN_TOKENS && matches!(choice, Isa::Neon | Isa::NeonDot) {
        match w.ttype {
            TensorType::Q4K => {
                matmul_packed_neon(choice, cast_blocks::<BlockQ4K>(w.bytes).ok_or(KernelError::Misaligned("Q4_K"))?, w.rows, kb, x, sums, stride, m, out)
            }
            TensorType::Q5K => {
                matmul_packed_neon(choice, cast_blocks::<BlockQ5K>(w.bytes).ok_or(KernelError::Misaligned("Q5_K"))?, w.rows, kb, x, sums, stride, m, out)
            }
            TensorType::Q6K => {
                matmul_packed_neon(choice, cast_blocks::<BlockQ6K>(w.bytes).ok_or(KernelError::Misaligned("Q6_K"))?, w.rows, kb, x, sums, stride, m, out)
            }
            t => return Err(KernelError::Unsupported(t.name())),
        }
        return Ok(());
    }
    let _ = sub_sums;
    match (w.ttype, choice) {
        (TensorType::Q4K, Isa::Scalar) => {
            tiled(cast_blocks::<BlockQ4K>(w.bytes).ok_or(KernelError::Misaligned("Q4_K"))?, w.rows, kb, x, m, out, q4k::dot_scalar)
        }
        (TensorType::Q6K, Isa::Scalar) => {
            tiled(cast_blocks::<BlockQ6K>(w.bytes).ok_or(KernelError::Misaligned("Q6_K"))?, w.rows, kb, x, m, out, q6k::dot_scalar)
        }
        (TensorType::Q5K, Isa::Scalar) => {
            tiled(cast_blocks::<BlockQ5K>(w.bytes).ok_or(KernelError::Misaligned("Q5_K"))?, w.rows, kb, x, m, out, packed::dot_scalar)
        }
        _ => return generic::matmul_q8k(w, x, m, out),
    }
    Ok(())
}

/// Where a chunk's activation data starts, shared by the tasks (read only): its per-unit sums
/// (`SumsPtr`) or Q6_K's offsets (`OffsPtr`, null where the kernel does not read them).
struct Shared<T>(*const T);
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}
// SAFETY: the tasks only read through it, from data the caller borrows for the whole parallel
// loop that the tasks run in.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as for `Send`: shared reads only.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper rather than its field).
    fn get(self) -> *const T {
        self.0
    }
}

type SumsPtr = Shared<i16>;
#[cfg(target_arch = "x86_64")]
type OffsPtr = Shared<i32>;

/// Rows of the packed kernels per task: unpacked once per call, then every token of the chunk
/// runs through them (two groups of four for 256-bit vectors, one of eight rows for the
/// 512-bit 32-value kernel; the 512-bit K-quant kernel's tile is its sixteen rows).
const PACK_TILE: usize = 8;

thread_local! {
    static PACK_BUF4: std::cell::RefCell<Vec<packed::Packed<4>>> = const { std::cell::RefCell::new(Vec::new()) };
    #[cfg(target_arch = "x86_64")]
    static PACK_BUF16: std::cell::RefCell<Vec<packed::Packed16>> = const { std::cell::RefCell::new(Vec::new()) };
    static PACK32_BUF4: std::cell::RefCell<Vec<packed::Packed32<4>>> = const { std::cell::RefCell::new(Vec::new()) };
    static PACK32_BUF8: std::cell::RefCell<Vec<packed::Packed32<8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs a packed kernel over all rows in parallel tiles of `PACK_TILE`: each task unpacks its
/// rows in groups of `R` with `pack` (a last group short of `R` repeats its last row, whose
/// results are dropped), then `run(group, t0, nt, res)` puts tokens `t0..t0 + nt` (up to
/// `per_call`: 8 for the 512-bit kernels, whose 32 registers hold that many tokens' sums, else
/// 4) through each group, row r's result for token i in `res[i][r]`.
#[allow(clippy::too_many_arguments)]
fn tiled_packed<W: Sync, P: Copy + Send + Sync + 'static, const R: usize>(
    w: &[W],
    rows: usize,
    kb: usize,
    m: usize,
    out: &mut [f32],
    buf: &'static std::thread::LocalKey<std::cell::RefCell<Vec<P>>>,
    zero: P,
    per_call: usize,
    pack: impl Fn([&[W]; R], &mut [P]) + Sync,
    run: impl Fn(&[P], usize, usize, &mut [[f32; 16]; 8]) + Sync,
) {
    let ptr = OutPtr(out.as_mut_ptr());
    let tile_rows = PACK_TILE.max(R);
    let tiles = rows.div_ceil(tile_rows);
    (0..tiles).into_par_iter().for_each(|tile| {
        // The whole wrapper, not its raw pointer field (edition 2021 closures capture fields),
        // so that the closure is Send.
        #[allow(clippy::redundant_locals)]
        let ptr = ptr;
        let r0 = tile * tile_rows;
        let r1 = (r0 + tile_rows).min(rows);
        let groups = (r1 - r0).div_ceil(R);
        buf.with_borrow_mut(|buf| {
            buf.resize(groups * kb, zero);
            for g in 0..groups {
                let rows_in: [&[W]; R] = std::array::from_fn(|i| {
                    let r = (r0 + R * g + i).min(r1 - 1);
                    &w[r * kb..(r + 1) * kb]
                });
                pack(rows_in, &mut buf[g * kb..(g + 1) * kb]);
            }
            // The next tile's weights (this task's usual next) are read from memory while
            // this one's tokens run, spread over the steps, so its unpacking does not wait.
            let next = &w[r1 * kb..(r1 + tile_rows).min(rows) * kb];
            let next_lines = std::mem::size_of_val(next).div_ceil(64);
            let lines_per_step = next_lines.div_ceil(m.div_ceil(per_call));
            let mut fetched = 0;
            let mut t0 = 0;
            while t0 < m {
                let upto = (fetched + lines_per_step).min(next_lines);
                prefetch_lines(next.as_ptr().cast(), fetched..upto);
                fetched = upto;
                let nt = (m - t0).min(per_call);
                for g in 0..groups {
                    let mut res = [[0f32; 16]; 8];
                    run(&buf[g * kb..(g + 1) * kb], t0, nt, &mut res);
                    let rg = r0 + R * g;
                    for (i, row) in res[..nt].iter().enumerate() {
                        for (j, &v) in row.iter().enumerate().take((r1 - rg).min(R)) {
                            // SAFETY: inside the m x rows output, and column rg + j belongs
                            // to this task's tile.
                            unsafe { *ptr.0.add((t0 + i) * rows + rg + j) = v };
                        }
                    }
                }
                t0 += nt;
            }
        });
    });
}

/// Calls `$f::<NT, ...>` (a kernel generic over the token count first) with `nt` of 1 to 8,
/// its `[[f32; ROWS]; NT]` output the first rows of `$res`, ROWS being `$rows`.
macro_rules! by_token_count {
    ($nt:expr, $res:expr, $rows:literal, |$n:ident, $out:ident| $call:expr) => {{
        macro_rules! one {
            ($k:literal) => {{
                let mut o = [[0f32; $rows]; $k];
                {
                    let $out = &mut o;
                    const $n: usize = $k;
                    $call;
                }
                for (dst, src) in $res.iter_mut().zip(o.iter()) {
                    dst[..$rows].copy_from_slice(src);
                }
            }};
        }
        match $nt {
            8 => one!(8),
            7 => one!(7),
            6 => one!(6),
            5 => one!(5),
            4 => one!(4),
            3 => one!(3),
            2 => one!(2),
            _ => one!(1),
        }
    }};
}

/// The K-quant types (Q8_K activations) through the packed kernel of `choice`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn matmul_packed_k<B: packed::KBlock>(
    choice: Isa,
    w: &[B],
    rows: usize,
    kb: usize,
    x: &[BlockQ8K],
    sums: SumsPtr,
    stride: usize,
    offs: OffsPtr,
    m: usize,
    out: &mut [f32],
) {
    // SAFETY: `choice` was detected on this CPU (these run on x86 SIMD choices only); each row
    // holds `kb` blocks.
    let pack = |r: [&[B]; 4], o: &mut [packed::Packed<4>]| unsafe { packed::pack(r, o) };
    // SAFETY: as above.
    let pack16 = |r: [&[B]; 16], o: &mut [packed::Packed16]| unsafe { packed::pack16(r, o) };
    match (choice, B::UNITS) {
        (Isa::Avx512, units) => tiled_packed(w, rows, kb, m, out, &PACK_BUF16, packed::Packed16::ZERO, 8, pack16, |wp, t0, nt, res| {
            // SAFETY: AVX-512 (F, BW, VL, VNNI) was detected on this CPU; every token holds `kb`
            // blocks, `sums` covers them and `offs` is Q6_K's where the kernel reads it.
            by_token_count!(nt, res, 16, |NT, o| unsafe {
                let xs = packed::Tokens::<NT>::of_chunk(x, sums.get(), stride, kb, t0).with_offsets(offs.get(), kb, t0);
                if units == 8 {
                    packed::dot16_avx512::<NT, 8>(wp, &xs, o)
                } else {
                    packed::dot16_avx512::<NT, 16>(wp, &xs, o)
                }
            })
        }),
        (Isa::AvxVnni, units) => tiled_packed(w, rows, kb, m, out, &PACK_BUF4, packed::Packed::ZERO, 4, pack, |wp, t0, nt, res| {
            // SAFETY: AVX-VNNI was detected on this CPU; every token holds `kb` blocks and `sums`
            // covers them.
            by_token_count!(nt, res, 4, |NT, o| unsafe {
                let xs = packed::Tokens::<NT>::of_chunk(x, sums.get(), stride, kb, t0);
                if units == 8 {
                    packed::dot_avxvnni::<NT, 8>(wp, &xs, o)
                } else {
                    packed::dot_avxvnni::<NT, 16>(wp, &xs, o)
                }
            })
        }),
        (_, units) => tiled_packed(w, rows, kb, m, out, &PACK_BUF4, packed::Packed::ZERO, 4, pack, |wp, t0, nt, res| {
            // SAFETY: AVX2 and FMA were detected on this CPU (an x86 SIMD choice); every token
            // holds `kb` blocks and `sums` covers them.
            by_token_count!(nt, res, 4, |NT, o| unsafe {
                let xs = packed::Tokens::<NT>::of_chunk(x, sums.get(), stride, kb, t0);
                if units == 8 {
                    packed::dot_avx2::<NT, 8>(wp, &xs, o)
                } else {
                    packed::dot_avx2::<NT, 16>(wp, &xs, o)
                }
            })
        }),
    }
}

/// The 32-value types through the packed kernel of `choice` (VNNI only for Q8_0: its unsigned
/// bytes reach 255, which `maddubs` pairs could saturate).
#[cfg(target_arch = "x86_64")]
fn matmul_packed32<B: q32::Block32>(choice: Isa, w: &[B], rows: usize, kb: usize, x: &[q32::BlockQ8x32], m: usize, out: &mut [f32]) {
    let toks = |t0: usize, i: usize| &x[(t0 + i) * kb..(t0 + i + 1) * kb];
    // SAFETY: `choice` was detected on this CPU (these run on x86 SIMD choices only); each row
    // holds `kb` blocks.
    let pack = |r: [&[B]; 4], o: &mut [packed::Packed32<4>]| unsafe { packed::pack32(r, o) };
    // SAFETY: as above.
    let pack8 = |r: [&[B]; 8], o: &mut [packed::Packed32<8>]| unsafe { packed::pack32(r, o) };
    match choice {
        Isa::Avx512 => tiled_packed(w, rows, kb, m, out, &PACK32_BUF8, packed::Packed32::ZERO, 8, pack8, |wp, t0, nt, res| {
            // SAFETY: AVX-512 was detected on this CPU; every token holds `kb` blocks.
            by_token_count!(nt, res, 8, |NT, o| unsafe { packed::dot32_avx512::<B, NT>(wp, &std::array::from_fn(|i| toks(t0, i)), o) })
        }),
        Isa::AvxVnni => tiled_packed(w, rows, kb, m, out, &PACK32_BUF4, packed::Packed32::ZERO, 4, pack, |wp, t0, nt, res| {
            // SAFETY: AVX-VNNI was detected on this CPU; every token holds `kb` blocks.
            by_token_count!(nt, res, 4, |NT, o| unsafe { packed::dot32_avxvnni::<B, NT>(wp, &std::array::from_fn(|i| toks(t0, i)), o) })
        }),
        _ => tiled_packed(w, rows, kb, m, out, &PACK32_BUF4, packed::Packed32::ZERO, 4, pack, |wp, t0, nt, res| {
            // SAFETY: AVX2 and FMA were detected on this CPU; every token holds `kb` blocks.
            by_token_count!(nt, res, 4, |NT, o| unsafe { packed::dot32_avx2::<B, NT>(wp, &std::array::from_fn(|i| toks(t0, i)), o) })
        }),
    }
}

/// The K-quant types through the NEON packed kernel (`sdot` where the CPU has it).
#[cfg(target_arch = "aarch64")]
#[allow(clippy::too_many_arguments)]
fn matmul_packed_neon<B: packed::KBlock>(
    choice: Isa,
    w: &[B],
    rows: usize,
    kb: usize,
    x: &[BlockQ8K],
    sums: SumsPtr,
    stride: usize,
    m: usize,
    out: &mut [f32],
) {
    tiled_packed(w, rows, kb, m, out, &PACK_BUF4, packed::Packed::ZERO, 4, packed::pack_portable, |wp, t0, nt, res| {
        by_token_count!(nt, res, 4, |NT, o| {
            let xs = packed::Tokens::<NT>::of_chunk(x, sums.get(), stride, kb, t0);
            // SAFETY: NEON is on every aarch64 CPU and NeonDot was detected; every token holds
            // `kb` blocks and `sums` covers them.
            unsafe {
                match (choice, B::UNITS) {
                    (Isa::NeonDot, 8) => packed::neon::dot_sdot::<NT, 8>(wp, &xs, o),
                    (Isa::NeonDot, _) => packed::neon::dot_sdot::<NT, 16>(wp, &xs, o),
                    (_, 8) => packed::neon::dot_base::<NT, 8>(wp, &xs, o),
                    (_, _) => packed::neon::dot_base::<NT, 16>(wp, &xs, o),
                }
            }
        })
    });
}

fn matmul_q32(choice: Isa, w: &QWeight<'_>, x: &[q32::BlockQ8x32], m: usize, out: &mut [f32]) -> Result<(), KernelError> {
    let kb = w.cols / q32::QK;
    #[cfg(target_arch = "x86_64")]
    if m >= PACKED_MIN_TOKENS && choice.x86_simd() {
        match (w.ttype, choice) {
            (TensorType::Q8_0, Isa::AvxVnni | Isa::Avx512) => {
                return q32_blocks::<q32::BlockQ8_0>(w).map(|b| matmul_packed32(choice, b, w.rows, kb, x, m, out))
            }
            (TensorType::Q4_0, _) => return q32_blocks::<q32::BlockQ4_0>(w).map(|b| matmul_packed32(choice, b, w.rows, kb, x, m, out)),
            (TensorType::Q4_1, _) => return q32_blocks::<q32::BlockQ4_1>(w).map(|b| matmul_packed32(choice, b, w.rows, kb, x, m, out)),
            _ => {}
        }
    }
    match (w.ttype, choice) {
        (TensorType::Q8_0, Isa::Scalar) => tiled(q32_blocks::<q32::BlockQ8_0>(w)?, w.rows, kb, x, m, out, q32::dot_scalar),
        (TensorType::Q4_0, Isa::Scalar) => tiled(q32_blocks::<q32::BlockQ4_0>(w)?, w.rows, kb, x, m, out, q32::dot_scalar),
        (TensorType::Q4_1, Isa::Scalar) => tiled(q32_blocks::<q32::BlockQ4_1>(w)?, w.rows, kb, x, m, out, q32::dot_scalar),
        #[cfg(target_arch = "x86_64")]
        (TensorType::Q8_0, Isa::Avx2 | Isa::AvxVnni | Isa::Avx512) => tiled(q32_blocks::<q32::BlockQ8_0>(w)?, w.rows, kb, x, m, out, dot_q8_0_avx2),
        #[cfg(target_arch = "x86_64")]
        (TensorType::Q4_0, Isa::Avx2 | Isa::AvxVnni | Isa::Avx512) => tiled(q32_blocks::<q32::BlockQ4_0>(w)?, w.rows, kb, x, m, out, dot_q4_0_avx2),
        #[cfg(target_arch = "x86_64")]
        (TensorType::Q4_1, Isa::Avx2 | Isa::AvxVnni | Isa::Avx512) => tiled(q32_blocks::<q32::BlockQ4_1>(w)?, w.rows, kb, x, m, out, dot_q4_1_avx2),
        #[cfg(target_arch = "aarch64")]
        (TensorType::Q8_0, Isa::Neon | Isa::NeonDot) => tiled(q32_blocks::<q32::BlockQ8_0>(w)?, w.rows, kb, x, m, out, q32::neon::dot_q8_0),
        #[cfg(target_arch = "aarch64")]
        (TensorType::Q4_0, Isa::Neon | Isa::NeonDot) => tiled(q32_blocks::<q32::BlockQ4_0>(w)?, w.rows, kb, x, m, out, q32::neon::dot_q4_0),
        #[cfg(target_arch = "aarch64")]
        (TensorType::Q4_1, Isa::Neon | Isa::NeonDot) => tiled(q32_blocks::<q32::BlockQ4_1>(w)?, w.rows, kb, x, m, out, q32::neon::dot_q4_1),
        (t, _) => return Err(KernelError::Unsupported(t.name())),
    }
    Ok(())
}

fn q32_blocks<'a, B: blocks::Pod>(w: &QWeight<'a>) -> Result<&'a [B], KernelError> {
    cast_blocks(w.bytes).ok_or(KernelError::Misaligned(w.ttype.name()))
}

/// Calls a SIMD kernel generic over the token count with the count `xs` has.
#[cfg(target_arch = "x86_64")]
macro_rules! by_tokens {
    ($($f:ident)::+, $w:expr, $xs:expr, $out:expr) => {
        match $xs.len() {
            4 => $($f)::+::<4>($w, &[$xs[0], $xs[1], $xs[2], $xs[3]], $out),
            3 => $($f)::+::<3>($w, &[$xs[0], $xs[1], $xs[2]], $out),
            2 => $($f)::+::<2>($w, &[$xs[0], $xs[1]], $out),
            _ => $($f)::+::<1>($w, &[$xs[0]], $out),
        }
    };
}

#[cfg(target_arch = "x86_64")]
fn dot_q8_0_avx2(w: &[q32::BlockQ8_0], xs: &[&[q32::BlockQ8x32]], out: &mut [f32]) {
    // SAFETY: chosen only when AVX2 and FMA were detected; rows are whole blocks of one length.
    unsafe { by_tokens!(q32::avx2::dot_q8_0, w, xs, out) }
}

#[cfg(target_arch = "x86_64")]
fn dot_q4_0_avx2(w: &[q32::BlockQ4_0], xs: &[&[q32::BlockQ8x32]], out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { by_tokens!(q32::avx2::dot_q4_0, w, xs, out) }
}

#[cfg(target_arch = "x86_64")]
fn dot_q4_1_avx2(w: &[q32::BlockQ4_1], xs: &[&[q32::BlockQ8x32]], out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { by_tokens!(q32::avx2::dot_q4_1, w, xs, out) }
}

fn check_cols(got: usize, expected: usize) -> Result<(), KernelError> {
    if got != expected {
        return Err(KernelError::Shape { got, expected });
    }
    Ok(())
}

/// Raw output pointer shared by the tasks; each writes only its own columns.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the output is borrowed mutably by the caller for the whole parallel loop, and each
// task writes only its own tile's columns of it (the writes say so where they happen).
unsafe impl Send for OutPtr {}
// SAFETY: as for `Send`: no two tasks write the same element, and none reads.
unsafe impl Sync for OutPtr {}

/// Runs `dot` over tiles of ROW_TILE weight rows in parallel; within a tile, tokens go four at a
/// time through every row, so the tile's rows stay in cache for the whole chunk of tokens.
pub(crate) fn tiled<W: Sync, X: Sync>(w: &[W], rows: usize, blocks_per_row: usize, x: &[X], m: usize, out: &mut [f32], dot: fn(&[W], &[&[X]], &mut [f32])) {
    let xb_per_row = x.len() / m.max(1);
    let ptr = OutPtr(out.as_mut_ptr());
    let tiles = rows.div_ceil(ROW_TILE);
    (0..tiles).into_par_iter().for_each(|tile| {
        // The whole wrapper, not its raw pointer field (edition 2021 closures capture fields),
        // so that the closure is Send.
        #[allow(clippy::redundant_locals)]
        let ptr = ptr;
        let r0 = tile * ROW_TILE;
        let r1 = (r0 + ROW_TILE).min(rows);
        let mut t0 = 0;
        let mut res = [0f32; 4];
        while t0 < m {
            let nt = (m - t0).min(4);
            let xs: [&[X]; 4] = std::array::from_fn(|i| {
                let t = (t0 + i).min(m - 1);
                &x[t * xb_per_row..(t + 1) * xb_per_row]
            });
            for r in r0..r1 {
                let row = &w[r * blocks_per_row..(r + 1) * blocks_per_row];
                dot(row, &xs[..nt], &mut res[..nt]);
                for (i, &v) in res[..nt].iter().enumerate() {
                    // SAFETY: (t0 + i, r) is inside the m x rows output, and only this tile
                    // writes column r.
                    unsafe { *ptr.0.add((t0 + i) * rows + r) = v };
                }
            }
            t0 += nt;
        }
    });
}

/// `tiled` for Q4_K with the four-row kernel; rows left over at a tile's end go one by one.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn tiled_q4k_rows4(
    w: &[BlockQ4K],
    rows: usize,
    kb: usize,
    x: &[BlockQ8K],
    sub_sums: &[[i16; 8]],
    m: usize,
    out: &mut [f32],
    one_row: DotFn<BlockQ4K, BlockQ8K>,
) {
    let ptr = OutPtr(out.as_mut_ptr());
    let tiles = rows.div_ceil(ROW_TILE);
    (0..tiles).into_par_iter().for_each(|tile| {
        // The whole wrapper, not its raw pointer field (edition 2021 closures capture fields),
        // so that the closure is Send.
        #[allow(clippy::redundant_locals)]
        let ptr = ptr;
        let r0 = tile * ROW_TILE;
        let r1 = (r0 + ROW_TILE).min(rows);
        let mut t0 = 0;
        while t0 < m {
            let nt = (m - t0).min(4);
            let tok = |i: usize| (t0 + i).min(m - 1);
            let xs: [&[BlockQ8K]; 4] = std::array::from_fn(|i| &x[tok(i) * kb..(tok(i) + 1) * kb]);
            let ss: [&[[i16; 8]]; 4] = std::array::from_fn(|i| &sub_sums[tok(i) * kb..(tok(i) + 1) * kb]);
            let mut r = r0;
            while r < r1 {
                if r + 4 <= r1 {
                    let wr: [&[BlockQ4K]; 4] = std::array::from_fn(|i| &w[(r + i) * kb..(r + i + 1) * kb]);
                    let mut res = [[0f32; 4]; 4];
                    // SAFETY: AVX2 and FMA were detected; every row and token holds `kb` blocks.
                    unsafe {
                        match nt {
                            4 => q4k::avx2_rows4::dot::<4>(wr, &xs, &ss, &mut res),
                            3 => q4k::avx2_rows4::dot::<3>(
                                wr,
                                &[xs[0], xs[1], xs[2]],
                                &[ss[0], ss[1], ss[2]],
                                (&mut res[..3]).try_into().unwrap_or_else(|_| unreachable!()),
                            ),
                            2 => q4k::avx2_rows4::dot::<2>(wr, &[xs[0], xs[1]], &[ss[0], ss[1]], (&mut res[..2]).try_into().unwrap_or_else(|_| unreachable!())),
                            _ => q4k::avx2_rows4::dot::<1>(wr, &[xs[0]], &[ss[0]], (&mut res[..1]).try_into().unwrap_or_else(|_| unreachable!())),
                        }
                    }
                    for (i, row) in res[..nt].iter().enumerate() {
                        for (j, &v) in row.iter().enumerate() {
                            // SAFETY: inside the output, and column r + j belongs to this tile.
                            unsafe { *ptr.0.add((t0 + i) * rows + r + j) = v };
                        }
                    }
                    r += 4;
                } else {
                    let mut res = [0f32; 4];
                    one_row(&w[r * kb..(r + 1) * kb], &xs[..nt], &mut res[..nt]);
                    for (i, &v) in res[..nt].iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { *ptr.0.add((t0 + i) * rows + r) = v };
                    }
                    r += 1;
                }
            }
            t0 += nt;
        }
    });
}

/// A row kernel: dot products of one weight row with up to four tokens.
type DotFn<W, X> = fn(&[W], &[&[X]], &mut [f32]);

/// The one-row Q4_K kernel of `choice` (decode, short prompts, a tile's last rows).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn q4k_dot(choice: Isa) -> DotFn<BlockQ4K, BlockQ8K> {
    match choice {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `choice` was detected on this CPU; rows are whole blocks of one length.
        Isa::Avx2 => |w, xs, out| unsafe { by_tokens!(q4k::avx2::dot, w, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::AvxVnni => |w, xs, out| unsafe { by_tokens!(q4k::avx2::dot_avxvnni, w, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx512 => |w, xs, out| unsafe { by_tokens!(q4k::avx2::dot_avx512, w, xs, out) },
        // Q4_K on NEON goes through candle (`matmul`); the portable code is right everywhere.
        _ => q4k::dot_scalar,
    }
}

/// The one-row Q6_K kernel of `choice`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn q6k_dot(choice: Isa) -> DotFn<BlockQ6K, BlockQ8K> {
    match choice {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `choice` was detected on this CPU; rows are whole blocks of one length.
        Isa::Avx2 => |w, xs, out| unsafe { by_tokens!(q6k::avx2::dot, w, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::AvxVnni => |w, xs, out| unsafe { by_tokens!(q6k::avx2::dot_avxvnni, w, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx512 => |w, xs, out| unsafe { by_tokens!(q6k::avx2::dot_avx512, w, xs, out) },
        _ => q6k::dot_scalar,
    }
}

/// How far ahead of the block being read the one-row kernels (decode) prefetch their weights.
/// The mapped file's 4 KiB pages stop the hardware prefetcher at each page boundary; asking for
/// the lines three pages ahead kept memory busy: 7B Q4_K_M decode went from 7.4 to 11-12 tok/s
/// on the 2-vCPU EPYC (distances of 0.5-32 KiB tried; 8-32 KiB alike).
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 12 * 1024;

/// Prefetches, `PREFETCH_AHEAD` bytes on, the cache lines that `block` is the first of a
/// contiguous run of blocks to reach: each line once. (One prefetch per block whatever its
/// size asked for a 34-byte Q8_0 line twice, and those repeats held 7B Q8_0 decode to 38 of
/// the 70 GB/s the machine streams.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn prefetch_ahead<T>(block: &T) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let start = block as *const T as usize;
    let first = start.wrapping_sub(1) / 64 + 1;
    let last = (start + std::mem::size_of::<T>() - 1) / 64;
    for line in first..=last {
        // SAFETY: a prefetch is a hint: it neither faults nor reads into the program.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((line * 64 + PREFETCH_AHEAD) as *const i8) };
    }
}

/// Asks for cache lines `lines` from `base` into L2 (a hint: it neither faults nor reads into
/// the program).
#[inline(always)]
fn prefetch_lines(base: *const u8, lines: std::ops::Range<usize>) {
    for i in lines {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(base.wrapping_add(64 * i).cast())
        };
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        unsafe {
            std::arch::asm!("prfm pldl2keep, [{p}]", p = in(reg) base.wrapping_add(64 * i), options(nostack, readonly, preserves_flags))
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let _ = (base, i);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Dequantizes row `row` of a weight matrix (token embeddings are looked up this way).
pub fn dequantize_row(w: &QWeight<'_>, row: usize, out: &mut [f32]) -> Result<(), KernelError> {
    generic::dequantize_row(w, row, out)
}

/// For tests and benchmarks: the kernels of a chosen implementation (one this CPU runs).
pub fn matmul_with(isa_choice: Isa, w: &QWeight<'_>, x: &QInput, out: &mut [f32]) -> Result<(), KernelError> {
    // Only what this CPU has: the kernels' `target_feature` code is undefined behaviour elsewhere.
    assert!(Isa::available().contains(&isa_choice), "{isa_choice:?} is not available on this CPU");
    check_buffers(w, x, out);
    if let (QInput::Q8x32 { blocks, cols, rows }, true) = (x, uses_q32(w.ttype)) {
        check_cols(*cols, w.cols)?;
        return matmul_q32(isa_choice, w, blocks, *rows, out);
    }
    let (QInput::Q8K { blocks, sub_sums, offsets, cols, rows }, true) = (x, uses_q8k(w.ttype)) else {
        return matmul(w, x, out);
    };
    check_cols(*cols, w.cols)?;
    matmul_kquant(isa_choice, w, blocks, sub_sums, offsets, *rows, out)
}

/// For tests: Q4_K / Q6_K through candle's dot products, the path CPUs without AVX2 take.
pub fn matmul_candle_fallback(w: &QWeight<'_>, x: &QInput, out: &mut [f32]) -> Result<(), KernelError> {
    check_buffers(w, x, out);
    match x {
        QInput::Q8K { blocks, cols, rows, .. } => {
            check_cols(*cols, w.cols)?;
            generic::matmul_q8k(w, blocks, *rows, out)
        }
        QInput::Generic(_) | QInput::Q8x32 { .. } => matmul(w, x, out),
    }
}

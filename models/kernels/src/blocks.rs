//! GGML block layouts the fast kernels read in place from the mapped file, and the Q8_K
//! activation blocks they multiply against. Layouts match ggml (and candle's block types) byte
//! for byte, so a weight slice of the file can be viewed as blocks without a copy.

use half::f16;

pub const QK_K: usize = 256;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4K {
    pub d: u16,
    pub dmin: u16,
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: u16,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ5K {
    pub d: u16,
    pub dmin: u16,
    pub scales: [u8; 12],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

/// Activations quantized per 256 values, with the sums of each 16 that let the kernels apply
/// Q4_K's minimums and Q6_K's offset without touching the values again.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);
const _: () = assert!(std::mem::size_of::<BlockQ8K>() == 292);

impl BlockQ8K {
    pub const ZERO: Self = Self { d: 0.0, qs: [0; QK_K], bsums: [0; QK_K / 16] };
}

#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

/// f16 to f32 by the F16C instruction for the x86 kernels (compiled with it, they inline it):
/// `half` decides at run time and calls out, and a call per block made the kernels save and
/// restore their vector registers around it.
#[cfg(target_arch = "x86_64")]
pub mod f16c {
    use std::arch::x86_64::{_mm_cvtph_ps, _mm_cvtss_f32, _mm_loadu_si32, _mm_movehdup_ps};

    /// The two f16 values at `p`, as f32. A four-byte load fills a fresh register: the
    /// compiler merged a lone u16 into a live accumulator's register (the other lanes being
    /// unused), a false dependency that chained each block to the one before it.
    ///
    /// # Safety
    /// Four bytes at `p` must be readable.
    #[inline]
    #[target_feature(enable = "f16c")]
    pub unsafe fn two_f16(p: *const u16) -> (f32, f32) {
        let v = _mm_cvtph_ps(_mm_loadu_si32(p.cast()));
        (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
    }
}

/// ggml's `quantize_row_q8_K`: the value of largest magnitude maps to -127 or 127.
pub fn quantize_q8k(xs: &[f32], out: &mut [BlockQ8K]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        // SAFETY: the build has AVX2 (and the start-up check refuses CPUs without it).
        unsafe { q8k_avx2::quantize(xs, out) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    quantize_q8k_portable(xs, out)
}

/// The reference [`quantize_q8k`]; the AVX2 one gives the same bytes.
pub fn quantize_q8k_portable(xs: &[f32], out: &mut [BlockQ8K]) {
    debug_assert_eq!(xs.len(), out.len() * QK_K);
    for (x, b) in xs.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut amax = 0f32;
        let mut max = 0f32;
        for &v in x {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 || !amax.is_finite() {
            *b = BlockQ8K::ZERO;
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = (iscale * v).round().clamp(-128.0, 127.0) as i8;
        }
        for (s, q) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = q.iter().map(|&v| v as i16).sum();
        }
        b.d = 1.0 / iscale;
    }
}

/// [`quantize_q8k`] on 256-bit vectors: scalar, it was 3% of a 7B prefill (a branch per value
/// for the maximum, a lane insert per byte). Bit for bit the portable result: the first value of
/// largest magnitude sets the scale, and rounding is half away from zero as `f32::round`.
#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod q8k_avx2 {
    use super::{BlockQ8K, QK_K};
    use std::arch::x86_64::*;

    pub unsafe fn quantize(xs: &[f32], out: &mut [BlockQ8K]) {
        debug_assert_eq!(xs.len(), out.len() * QK_K);
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
        for (x, b) in xs.chunks_exact(QK_K).zip(out.iter_mut()) {
            let p = x.as_ptr();
            // A NaN lane is passed over, as the scalar `>` passes it over.
            let mut m = _mm256_setzero_ps();
            for i in 0..QK_K / 8 {
                m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(p.add(8 * i)), abs_mask), m);
            }
            let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
            if amax == 0.0 || !amax.is_finite() {
                *b = BlockQ8K::ZERO;
                continue;
            }
            let target = _mm256_set1_ps(amax);
            let mut max = amax;
            for i in 0..QK_K / 8 {
                let v = _mm256_loadu_ps(p.add(8 * i));
                let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_and_ps(v, abs_mask), target));
                if hit != 0 {
                    max = x[8 * i + hit.trailing_zeros() as usize];
                    break;
                }
            }
            let iscale = -127.0 / max;
            let vs = _mm256_set1_ps(iscale);
            let sign = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN));
            let (half, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
            let (lo, hi) = (_mm256_set1_ps(-128.0), _mm256_set1_ps(127.0));
            let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
            let q = |i: usize| {
                let t = _mm256_mul_ps(vs, _mm256_loadu_ps(p.add(8 * i)));
                let r = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(t);
                // Exact for these magnitudes: what truncation dropped, at least a half rounds away.
                let up = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_and_ps(_mm256_sub_ps(t, r), abs_mask), half);
                let r = _mm256_add_ps(r, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(t, sign))));
                let r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
                // A NaN value quantizes to 0, as `NaN as i8` does.
                _mm256_cvttps_epi32(_mm256_and_ps(r, _mm256_cmp_ps::<_CMP_ORD_Q>(t, t)))
            };
            for j in 0..QK_K / 32 {
                let ab = _mm256_packs_epi32(q(4 * j), q(4 * j + 1));
                let cd = _mm256_packs_epi32(q(4 * j + 2), q(4 * j + 3));
                let bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
                _mm256_storeu_si256(b.qs.as_mut_ptr().add(32 * j) as *mut __m256i, bytes);
            }
            for (s, q) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
                *s = q.iter().map(|&v| v as i16).sum();
            }
            b.d = 1.0 / iscale;
        }
    }
}

/// Q4_K's eight 6-bit scales and eight 6-bit minimums, packed into 12 bytes.
#[inline]
pub fn q4k_scales_mins(s: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        if j < 4 {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
        } else {
            sc[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
            mn[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
    }
    (sc, mn)
}

/// Keeps [`Pod`] to the block types listed below: no other crate can claim it for a type of its
/// own (and then view a weight file's bytes as, say, `bool`s or references).
mod sealed {
    pub trait Sealed {}
}

/// A block type that any bytes of its size and alignment are a valid value of: only integers,
/// `f16`/`f32` and arrays of them, in `repr(C)`, with no references, no `UnsafeCell` and no
/// drop glue. [`cast_blocks`] views a weight file's bytes as such blocks without a copy. Sealed:
/// the types listed in this module are the only ones.
///
/// # Safety
/// An implementation promises that every bit pattern of `size_of::<Self>()` bytes is a valid
/// `Self`, and that `Self` has no interior mutability; [`cast_blocks`] relies on both.
pub unsafe trait Pod: sealed::Sealed + Sized + 'static {}

/// Implements [`Pod`] for block types made only of integers, `f16`/`f32` and arrays of them.
macro_rules! pod {
    ($($t:ty),+ $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            // SAFETY: a `repr(C)` struct of integers, `half::f16` (a transparent u16) or `f32`
            // and arrays of them: any bytes are a valid value, and nothing in it is a cell.
            unsafe impl Pod for $t {}
        )+
    };
}

// SAFETY: each type below is a `repr(C)` struct of integers, `f16`/`f32` and arrays of them
// (ours above and in q32.rs; candle 0.11's in `quantized::k_quants`, sizes asserted there).
pod!(BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K);
// SAFETY: as above.
pod!(super::q32::BlockQ8_0, super::q32::BlockQ4_0, super::q32::BlockQ4_1, super::q32::BlockQ8x32);
// SAFETY: as above.
pod!(
    candle_core::quantized::k_quants::BlockQ4_0,
    candle_core::quantized::k_quants::BlockQ4_1,
    candle_core::quantized::k_quants::BlockQ5_0,
    candle_core::quantized::k_quants::BlockQ5_1,
    candle_core::quantized::k_quants::BlockQ8_0,
    candle_core::quantized::k_quants::BlockQ8_1,
    candle_core::quantized::k_quants::BlockQ2K,
    candle_core::quantized::k_quants::BlockQ3K,
    candle_core::quantized::k_quants::BlockQ4K,
    candle_core::quantized::k_quants::BlockQ5K,
    candle_core::quantized::k_quants::BlockQ6K,
    candle_core::quantized::k_quants::BlockQ8K,
);

/// Views `bytes` as blocks when the length and alignment allow it. Only for the block types
/// ([`Pod`]): a type some bytes are not a valid value of does not compile.
///
/// ```
/// use fin_r1_kernels::blocks::{cast_blocks, BlockQ4K};
/// let bytes = vec![0u8; 144];
/// assert_eq!(cast_blocks::<BlockQ4K>(&bytes).map(<[_]>::len), Some(1));
/// ```
///
/// ```compile_fail,E0277
/// // Regression (issue 26, item 6): `2u8` is not a `bool`; this compiled and was undefined behaviour.
/// let flags: Option<&[bool]> = fin_r1_kernels::blocks::cast_blocks::<bool>(&[2u8]);
/// ```
pub fn cast_blocks<T: Pod>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if size == 0 || !bytes.len().is_multiple_of(size) || !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return None;
    }
    // SAFETY: `T: Pod`, so any bytes are a valid `T` and none of it is a cell; length and
    // alignment were checked above, and the result borrows `bytes` for its lifetime.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_viewed_only_when_length_and_alignment_fit() {
        let buffer = vec![0u8; 2 * 292 + 8];
        let bytes = &buffer[buffer.as_ptr().align_offset(4)..];
        assert_eq!(cast_blocks::<BlockQ8K>(&bytes[..2 * 292]).map(<[_]>::len), Some(2));
        assert!(cast_blocks::<BlockQ8K>(&bytes[..292 + 4]).is_none(), "a length that is not whole blocks");
        assert!(cast_blocks::<BlockQ8K>(&bytes[1..293]).is_none(), "a misaligned start");
        assert_eq!(cast_blocks::<BlockQ4K>(&bytes[2..2 + 144]).map(<[_]>::len), Some(1), "u16 alignment");
    }
}

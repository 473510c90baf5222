//! Q6_K weight rows against Q8_K activation rows, up to four tokens per unpacked row. The six-bit
//! values are used unsigned (0..63) so `maddubs` applies; their offset of 32 is taken back
//! through the activation block sums.

use super::blocks::{f16_to_f32, BlockQ6K, BlockQ8K};

/// The unsigned 6-bit value `i` (0..256) of a block, as ggml's `dequantize_row_q6_K` lays it out.
#[inline]
fn value(b: &BlockQ6K, i: usize) -> i32 {
    let (n, r) = (i / 128, i % 128);
    let (quarter, l) = (r / 32, r % 32);
    let ql = b.ql[64 * n + l + 32 * (quarter & 1)];
    let low = if quarter < 2 { ql & 0x0F } else { ql >> 4 };
    let high = (b.qh[32 * n + l] >> (2 * quarter)) & 3;
    (low | (high << 4)) as i32
}

/// Portable path (and the reference the SIMD path is tested against).
pub fn dot_scalar(w: &[BlockQ6K], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        let mut acc = 0f32;
        for (wb, xb) in w.iter().zip(x.iter()) {
            let mut sumi = 0i32;
            for s in 0..16 {
                let mut p = 0i32;
                for i in 16 * s..16 * s + 16 {
                    p += (value(wb, i) - 32) * xb.qs[i] as i32;
                }
                sumi += p * wb.scales[s] as i32;
            }
            acc += f16_to_f32(wb.d) * xb.d * sumi as f32;
        }
        *o = acc;
    }
}

/// Masks picking, from a vector holding eight i16 scales in each 128-bit half, scale `2i` for
/// the low half and `2i + 1` for the high half (16 values each).
#[cfg(target_arch = "x86_64")]
static PAIR_I16: [[i8; 32]; 4] = {
    let mut m = [[0i8; 32]; 4];
    let mut i = 0;
    while i < 4 {
        let mut l = 0;
        while l < 16 {
            m[i][l] = (4 * i + l % 2) as i8;
            m[i][16 + l] = (4 * i + 2 + l % 2) as i8;
            l += 1;
        }
        i += 1;
    }
    m
};

/// One weight row against up to four tokens (decode and short prompts): per 32 values one
/// `maddubs`, then the two 16-value scales applied and accumulated by one `vpdpwssd` (VNNI) or
/// `madd` + `add`.
#[cfg(target_arch = "x86_64")]
macro_rules! q6k_row_kernel {
    ($name:ident, $feat:literal, $dpw:path) => {
        /// # Safety
        /// The CPU must have the named features; every row in `xs` holds `w.len()` blocks.
        #[target_feature(enable = $feat)]
        pub unsafe fn $name<const NT: usize>(w: &[BlockQ6K], xs: &[&[BlockQ8K]; NT], out: &mut [f32]) {
            let m4 = _mm256_set1_epi8(0x0F);
            let m3 = _mm256_set1_epi8(3);
            let pair = PAIR_I16.as_ptr() as *const __m256i;
            let mut acc = [_mm256_setzero_ps(); NT];
            for (b, wb) in w.iter().enumerate() {
                prefetch_ahead(wb);
                // The last two scales and `d`, which ends the block.
                let (_, d) = two_f16((&wb.d as *const u16).wrapping_sub(1));
                let scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wb.scales.as_ptr() as *const __m128i));
                let halves = [_mm256_permute2x128_si256(scales16, scales16, 0x00), _mm256_permute2x128_si256(scales16, scales16, 0x11)];
                let mut sumi = [_mm256_setzero_si256(); NT];
                for n in 0..2 {
                    let qh = _mm256_loadu_si256(wb.qh.as_ptr().add(32 * n) as *const __m256i);
                    let ql0 = _mm256_loadu_si256(wb.ql.as_ptr().add(64 * n) as *const __m256i);
                    let ql1 = _mm256_loadu_si256(wb.ql.as_ptr().add(64 * n + 32) as *const __m256i);
                    let v = [
                        _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
                        _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
                    ];
                    for (i, &vi) in v.iter().enumerate() {
                        let sc = _mm256_shuffle_epi8(halves[n], _mm256_loadu_si256(pair.add(i)));
                        for t in 0..NT {
                            let xq = xs[t].get_unchecked(b).qs.as_ptr().add(128 * n + 32 * i);
                            let x = _mm256_loadu_si256(xq as *const __m256i);
                            sumi[t] = $dpw(sumi[t], _mm256_maddubs_epi16(vi, x), sc);
                        }
                    }
                }
                for t in 0..NT {
                    let xb = xs[t].get_unchecked(b);
                    let bs = _mm256_loadu_si256(xb.bsums.as_ptr() as *const __m256i);
                    let offset = _mm256_slli_epi32(_mm256_madd_epi16(bs, scales16), 5);
                    let s = _mm256_sub_epi32(sumi[t], offset);
                    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb.d), _mm256_cvtepi32_ps(s), acc[t]);
                }
            }
            for t in 0..NT {
                out[t] = hsum(acc[t]);
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    use super::super::blocks::{f16c::two_f16, BlockQ6K, BlockQ8K};
    use super::super::hsum;
    use super::super::prefetch_ahead;
    use super::super::q4k::dpwssd;
    use super::PAIR_I16;

    q6k_row_kernel!(dot, "avx2,fma,f16c", dpwssd::avx2);
    q6k_row_kernel!(dot_avxvnni, "avx2,fma,f16c,avxvnni", dpwssd::avxvnni);
    q6k_row_kernel!(dot_avx512, "avx2,fma,f16c,avx512vnni,avx512vl", dpwssd::avx512);
}

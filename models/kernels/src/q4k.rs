//! Q4_K weight rows against Q8_K activation rows: one weight row is unpacked once and dotted
//! with up to four tokens, so prefill does a quarter of the unpacking and reads the row from
//! cache instead of memory.

use super::blocks::{f16_to_f32, q4k_scales_mins, BlockQ4K, BlockQ8K};

/// Portable path (and the reference the SIMD path is tested against).
pub fn dot_scalar(w: &[BlockQ4K], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        let mut acc = 0f32;
        for (wb, xb) in w.iter().zip(x.iter()) {
            let (sc, mn) = q4k_scales_mins(&wb.scales);
            let mut sumi = 0i32;
            let mut summ = 0i32;
            for j in 0..4 {
                let q = &wb.qs[32 * j..32 * j + 32];
                let (x_lo, x_hi) = (&xb.qs[64 * j..64 * j + 32], &xb.qs[64 * j + 32..64 * j + 64]);
                let (mut lo, mut hi) = (0i32, 0i32);
                for ((&q, &a), &b) in q.iter().zip(x_lo).zip(x_hi) {
                    lo += (q & 0x0F) as i32 * a as i32;
                    hi += (q >> 4) as i32 * b as i32;
                }
                sumi += lo * sc[2 * j] as i32 + hi * sc[2 * j + 1] as i32;
            }
            for (i, &b) in xb.bsums.iter().enumerate() {
                summ += b as i32 * mn[i / 2] as i32;
            }
            acc += f16_to_f32(wb.d) * xb.d * sumi as f32 - f16_to_f32(wb.dmin) * xb.d * summ as f32;
        }
        *o = acc;
    }
}

/// ggml's bit trick: the 12 packed bytes become 8 scale bytes then 8 minimum bytes, each as a
/// little-endian u64 (byte i = sub-block i).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn unpack_scales(s: &[u8; 12]) -> (u64, u64) {
    const K1: u32 = 0x3f3f3f3f;
    const K2: u32 = 0x0f0f0f0f;
    const K3: u32 = 0x03030303;
    let u0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let u1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let u2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let m_hi = ((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4);
    let m_lo = u1 & K1;
    let s_hi = (u2 & K2) | (((u0 >> 6) & K3) << 4);
    let s_lo = u0 & K1;
    ((s_lo as u64) | ((s_hi as u64) << 32), (m_lo as u64) | ((m_hi as u64) << 32))
}

/// 16-bit multiply-accumulate of pairs (`vpdpwssd`): one VNNI instruction where the CPU has
/// it, `madd` then `add` where it does not.
#[cfg(target_arch = "x86_64")]
pub(crate) mod dpwssd {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn avx2(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
    }

    #[inline]
    #[target_feature(enable = "avx2,avxvnni")]
    pub unsafe fn avxvnni(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpwssd_avx_epi32(acc, a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2,avx512vnni,avx512vl")]
    pub unsafe fn avx512(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpwssd_epi32(acc, a, b)
    }
}

/// Masks that spread byte `k` of a 16-byte vector to all 16 i16 lanes of a 256-bit one, the
/// high byte of each lane zero (a scale of 0..63 as i16).
#[cfg(target_arch = "x86_64")]
static SPREAD_U8: [[i8; 32]; 8] = {
    let mut m = [[0i8; 32]; 8];
    let mut k = 0;
    while k < 8 {
        let mut i = 0;
        while i < 32 {
            m[k][i] = k as i8;
            m[k][i + 1] = -128;
            i += 2;
        }
        k += 1;
    }
    m
};

/// One weight row against up to four tokens, whole 256-value blocks at a time (decode and short
/// prompts). Per 32 values: one `maddubs`, then the sub-block's scale applied and the result
/// accumulated by one `vpdpwssd` (VNNI) or `madd` + `add`.
#[cfg(target_arch = "x86_64")]
macro_rules! q4k_row_kernel {
    ($name:ident, $feat:literal, $dpw:path) => {
        /// # Safety
        /// The CPU must have the named features; every row in `xs` holds `w.len()` blocks.
        #[target_feature(enable = $feat)]
        pub unsafe fn $name<const NT: usize>(w: &[BlockQ4K], xs: &[&[BlockQ8K]; NT], out: &mut [f32]) {
            let m4 = _mm256_set1_epi8(0x0F);
            let mut acc = [_mm256_setzero_ps(); NT];
            let x0: [*const BlockQ8K; NT] = std::array::from_fn(|t| xs[t].as_ptr());
            let spread = SPREAD_U8.as_ptr() as *const __m256i;
            for (b, wb) in w.iter().enumerate() {
                prefetch_ahead(wb);
                let (d, dmin) = two_f16(&wb.d);
                let (sc, mn) = unpack_scales(&wb.scales);
                let scb = _mm256_broadcastsi128_si256(_mm_cvtsi64_si128(sc as i64));
                // Each minimum twice: one per 16-value activation sum of its 32-value sub-block.
                let mn = _mm_cvtsi64_si128(mn as i64);
                let mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn));
                let mut sumi = [_mm256_setzero_si256(); NT];
                for j in 0..4 {
                    let q = _mm256_loadu_si256(wb.qs.as_ptr().add(32 * j) as *const __m256i);
                    let lo = _mm256_and_si256(q, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    let s_lo = _mm256_shuffle_epi8(scb, _mm256_loadu_si256(spread.add(2 * j)));
                    let s_hi = _mm256_shuffle_epi8(scb, _mm256_loadu_si256(spread.add(2 * j + 1)));
                    for t in 0..NT {
                        let xq = (*x0[t].add(b)).qs.as_ptr().add(64 * j);
                        let pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(xq as *const __m256i));
                        let ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256(xq.add(32) as *const __m256i));
                        sumi[t] = $dpw(sumi[t], pl, s_lo);
                        sumi[t] = $dpw(sumi[t], ph, s_hi);
                    }
                }
                for t in 0..NT {
                    let xb = &*x0[t].add(b);
                    let bs = _mm256_loadu_si256(xb.bsums.as_ptr() as *const __m256i);
                    let pm = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mins16));
                    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb.d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
                    acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * xb.d), pm, acc[t]);
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

    use super::super::blocks::{f16c::two_f16, BlockQ4K, BlockQ8K};
    use super::super::hsum;
    use super::super::prefetch_ahead;
    use super::{dpwssd, unpack_scales, SPREAD_U8};

    q4k_row_kernel!(dot, "avx2,fma,f16c", dpwssd::avx2);
    q4k_row_kernel!(dot_avxvnni, "avx2,fma,f16c,avxvnni", dpwssd::avxvnni);
    q4k_row_kernel!(dot_avx512, "avx2,fma,f16c,avx512vnni,avx512vl", dpwssd::avx512);
}

/// Four weight rows at once: each vector holds eight values of the same sub-block from each of
/// the four rows, so four `maddubs` results add up in 16 bits before one `madd` applies the
/// rows' scales (ten multiplies per row and block instead of sixteen), and the minimums of four
/// rows take two `madd`s per token. The rows are read in place, eight bytes at a time.
#[cfg(target_arch = "x86_64")]
pub mod avx2_rows4 {
    use std::arch::x86_64::*;

    use super::super::blocks::{f16c::two_f16, BlockQ4K, BlockQ8K};

    use super::unpack_scales;

    /// Byte `sub` of each row's packed scales, as 16 i16 lanes (each row's value four times).
    #[inline(always)]
    unsafe fn rows_scale(sc: &[u64; 4], sub: usize) -> __m256i {
        let b = |r: usize| ((sc[r] >> (8 * sub)) & 0xff) as u32;
        let s4 = b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
        let rep = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi32_si128(s4 as i32), rep))
    }

    #[inline(always)]
    unsafe fn gather8(rows: &[*const u8; 4], at: usize) -> __m256i {
        let r = |i: usize| std::ptr::read_unaligned(rows[i].add(at) as *const i64);
        _mm256_set_epi64x(r(3), r(2), r(1), r(0))
    }

    /// `out[t][r]` = dot(row r, token t). `sub_sums[t]` holds, per activation block, the sums of
    /// its eight 32-value sub-blocks.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; all rows have `w[0].len()` blocks, as do the tokens.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot<const NT: usize>(w: [&[BlockQ4K]; 4], xs: &[&[BlockQ8K]; NT], sub_sums: &[&[[i16; 8]]; NT], out: &mut [[f32; 4]; NT]) {
        let m4 = _mm256_set1_epi8(0x0F);
        let mut acc = [_mm256_setzero_ps(); NT];
        let nb = w[0].len();
        for b in 0..nb {
            let blk = [w[0].get_unchecked(b), w[1].get_unchecked(b), w[2].get_unchecked(b), w[3].get_unchecked(b)];
            let mut sc = [0u64; 4];
            let mut mn = [0u64; 4];
            let mut dv = [0f32; 8];
            let mut mv = [0f32; 8];
            for r in 0..4 {
                (sc[r], mn[r]) = unpack_scales(&blk[r].scales);
                let (d, dm) = two_f16(&blk[r].d);
                dv[2 * r] = d;
                dv[2 * r + 1] = d;
                mv[2 * r] = dm;
                mv[2 * r + 1] = dm;
            }
            let dv = _mm256_loadu_ps(dv.as_ptr());
            let mv = _mm256_loadu_ps(mv.as_ptr());
            // Minimums of sub-blocks 0-3 and 4-7, four lanes per row.
            let mins_lo = _mm256_cvtepu8_epi16(_mm_setr_epi32(mn[0] as i32, mn[1] as i32, mn[2] as i32, mn[3] as i32));
            let mins_hi = _mm256_cvtepu8_epi16(_mm_setr_epi32((mn[0] >> 32) as i32, (mn[1] >> 32) as i32, (mn[2] >> 32) as i32, (mn[3] >> 32) as i32));
            let qs: [*const u8; 4] = std::array::from_fn(|r| blk[r].qs.as_ptr());
            let mut sumi = [_mm256_setzero_si256(); NT];
            for j in 0..4 {
                let wv = [gather8(&qs, 32 * j), gather8(&qs, 32 * j + 8), gather8(&qs, 32 * j + 16), gather8(&qs, 32 * j + 24)];
                let s_lo = rows_scale(&sc, 2 * j);
                let s_hi = rows_scale(&sc, 2 * j + 1);
                for t in 0..NT {
                    let xq = xs[t].get_unchecked(b).qs.as_ptr().add(64 * j);
                    let mut al = _mm256_setzero_si256();
                    let mut ah = _mm256_setzero_si256();
                    for (g, &wg) in wv.iter().enumerate() {
                        let lo = _mm256_and_si256(wg, m4);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(wg, 4), m4);
                        let xl = _mm256_set1_epi64x(std::ptr::read_unaligned(xq.add(8 * g) as *const i64));
                        let xh = _mm256_set1_epi64x(std::ptr::read_unaligned(xq.add(32 + 8 * g) as *const i64));
                        al = _mm256_add_epi16(al, _mm256_maddubs_epi16(lo, xl));
                        ah = _mm256_add_epi16(ah, _mm256_maddubs_epi16(hi, xh));
                    }
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(al, s_lo));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(ah, s_hi));
                }
            }
            for t in 0..NT {
                let xd = _mm256_set1_ps(xs[t].get_unchecked(b).d);
                let ss = sub_sums[t].get_unchecked(b).as_ptr();
                let y_lo = _mm256_set1_epi64x(std::ptr::read_unaligned(ss as *const i64));
                let y_hi = _mm256_set1_epi64x(std::ptr::read_unaligned(ss.add(4) as *const i64));
                let pm = _mm256_add_epi32(_mm256_madd_epi16(mins_lo, y_lo), _mm256_madd_epi16(mins_hi, y_hi));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_mul_ps(dv, xd), acc[t]);
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(pm), _mm256_mul_ps(mv, xd), acc[t]);
            }
        }
        for t in 0..NT {
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[t]);
            for r in 0..4 {
                out[t][r] = lanes[2 * r] + lanes[2 * r + 1];
            }
        }
    }
}

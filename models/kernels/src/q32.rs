//! The 32-value block types: Q8_0 (the app's catalog offers it; the test models use it), Q4_0
//! and Q4_1 (SmolLM2's file, files users bring). Activations are quantized per 32 values to
//! 8 bits with an f32 scale and the block's scaled sum, which applies Q4_0's offset of 8 and
//! Q4_1's minimum without touching the values again:
//!
//! - Q8_0: `d_w·d_x·Σ w·x`
//! - Q4_0: `d_w·(d_x·Σ q·x − 8·s_x)` with `s_x = d_x·Σ x`
//! - Q4_1: `d_w·d_x·Σ q·x + m_w·s_x`
//!
//! A Q4 block's byte j holds value j in its low nibble and value j + 16 in its high one. The
//! portable code is the reference the SIMD paths are tested against.

use super::blocks::f16_to_f32;

pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ8_0 {
    pub d: u16,
    pub qs: [i8; QK],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4_0 {
    pub d: u16,
    pub qs: [u8; QK / 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4_1 {
    pub d: u16,
    pub m: u16,
    pub qs: [u8; QK / 2],
}

/// 32 activations: scale, scaled sum, values, and the values' exact sum (which the packed
/// prefill kernel needs to carry Q8_0's weights as unsigned bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ8x32 {
    pub d: f32,
    pub s: f32,
    pub qs: [i8; QK],
    pub sum: i32,
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);
const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);
const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);

impl BlockQ8x32 {
    pub const ZERO: Self = Self { d: 0.0, s: 0.0, qs: [0; QK], sum: 0 };
}

/// ggml's activation blocks for these types (`quantize_row_q8_0` / `_q8_1`), value for value:
/// the scale and the scaled sum kept at f16 precision as ggml stores them, so the integer dot
/// products and the scales are llama.cpp's own and the two engines' logits agree closely.
pub fn quantize(xs: &[f32], out: &mut [BlockQ8x32]) {
    debug_assert_eq!(xs.len(), out.len() * QK);
    for (x, b) in xs.chunks_exact(QK).zip(out.iter_mut()) {
        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
        if amax == 0.0 || !amax.is_finite() {
            *b = BlockQ8x32::ZERO;
            continue;
        }
        let d = amax / 127.0;
        let id = 1.0 / d;
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = (v * id).round().clamp(-127.0, 127.0) as i8;
            sum += i32::from(*q);
        }
        b.d = half::f16::from_f32(d).to_f32();
        b.s = half::f16::from_f32(d * sum as f32).to_f32();
        b.sum = sum;
    }
}

/// A weight block type of this family.
pub trait Block32: Copy + Sync + 'static {
    /// What the packed kernel adds to each value to make it an unsigned byte (128 for Q8_0),
    /// taken back through the activations' exact sum.
    const OFFSET: i32 = 0;
    /// The block's dot product with 32 activations, portably.
    fn dot(&self, x: &BlockQ8x32) -> f32;
    /// The block's values.
    fn values(&self) -> [f32; QK];
    /// For the packed kernel: the values as unsigned bytes (`OFFSET` added), the scale of the
    /// integer products and the factor of the activations' scaled sum `s`, so that the dot
    /// product is `d·d_x·Σ u·x − OFFSET·d·d_x·Σ x + c·s_x`.
    fn unpack(&self, vals: &mut [u8; QK]) -> (f32, f32);
}

#[inline]
fn nibbles(qs: &[u8; QK / 2]) -> [u8; QK] {
    std::array::from_fn(|i| if i < QK / 2 { qs[i] & 0x0F } else { qs[i - QK / 2] >> 4 })
}

impl Block32 for BlockQ8_0 {
    const OFFSET: i32 = 128;
    fn unpack(&self, vals: &mut [u8; QK]) -> (f32, f32) {
        for (v, &q) in vals.iter_mut().zip(&self.qs) {
            *v = (i32::from(q) + 128) as u8;
        }
        (f16_to_f32(self.d), 0.0)
    }
    fn dot(&self, x: &BlockQ8x32) -> f32 {
        let s: i32 = self.qs.iter().zip(&x.qs).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum();
        f16_to_f32(self.d) * x.d * s as f32
    }
    fn values(&self) -> [f32; QK] {
        let d = f16_to_f32(self.d);
        std::array::from_fn(|i| d * f32::from(self.qs[i]))
    }
}

impl Block32 for BlockQ4_0 {
    fn unpack(&self, vals: &mut [u8; QK]) -> (f32, f32) {
        *vals = nibbles(&self.qs);
        let d = f16_to_f32(self.d);
        (d, -8.0 * d)
    }
    fn dot(&self, x: &BlockQ8x32) -> f32 {
        let q = nibbles(&self.qs);
        let s: i32 = q.iter().zip(&x.qs).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum();
        f16_to_f32(self.d) * (x.d * s as f32 - 8.0 * x.s)
    }
    fn values(&self) -> [f32; QK] {
        let d = f16_to_f32(self.d);
        let q = nibbles(&self.qs);
        std::array::from_fn(|i| d * (f32::from(q[i]) - 8.0))
    }
}

impl Block32 for BlockQ4_1 {
    fn unpack(&self, vals: &mut [u8; QK]) -> (f32, f32) {
        *vals = nibbles(&self.qs);
        (f16_to_f32(self.d), f16_to_f32(self.m))
    }
    fn dot(&self, x: &BlockQ8x32) -> f32 {
        let q = nibbles(&self.qs);
        let s: i32 = q.iter().zip(&x.qs).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum();
        f16_to_f32(self.d) * x.d * s as f32 + f16_to_f32(self.m) * x.s
    }
    fn values(&self) -> [f32; QK] {
        let (d, m) = (f16_to_f32(self.d), f16_to_f32(self.m));
        let q = nibbles(&self.qs);
        std::array::from_fn(|i| d * f32::from(q[i]) + m)
    }
}

/// One weight row against up to four tokens, portably.
pub fn dot_scalar<B: Block32>(w: &[B], xs: &[&[BlockQ8x32]], out: &mut [f32]) {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        *o = w.iter().zip(x.iter()).map(|(b, x)| b.dot(x)).sum();
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! One weight block is unpacked once and multiplied by each token's block: `maddubs`
    //! takes unsigned bytes against signed ones, so a Q4 block's nibbles go in as they are and
    //! a Q8_0 block goes in as its magnitude with its signs moved onto the activations.
    use std::arch::x86_64::*;

    use super::super::prefetch_ahead;
    use super::{BlockQ4_0, BlockQ4_1, BlockQ8_0, BlockQ8x32};
    use crate::blocks::f16c::two_f16;
    use crate::hsum;

    /// Eight i32 sums of `u·s` over 32 unsigned × signed bytes, as f32.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn products(u: __m256i, s: __m256i) -> __m256 {
        let p16 = _mm256_maddubs_epi16(u, s);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn unpack(qs: &[u8; 16]) -> __m256i {
        let raw = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
        let mask = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(raw, mask);
        let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
        _mm256_set_m128i(hi, lo)
    }

    /// Runs `step(block, weights, acc, extra)` over the blocks with two sets of accumulators
    /// (even and odd blocks): at 32 values a block, one chain of dependent adds would hold the
    /// loop to its latency (4 cycles a block) below what memory delivers.
    #[inline(always)]
    unsafe fn two_chains<W, const N: usize>(w: &[W], mut step: impl FnMut(usize, &W, &mut [__m256; N], &mut [f32; N])) -> ([__m256; N], [f32; N]) {
        let mut acc = [[_mm256_setzero_ps(); N]; 2];
        let mut extra = [[0f32; N]; 2];
        let mut pairs = w.chunks_exact(2);
        for (i, pair) in pairs.by_ref().enumerate() {
            step(2 * i, &pair[0], &mut acc[0], &mut extra[0]);
            step(2 * i + 1, &pair[1], &mut acc[1], &mut extra[1]);
        }
        if let [last] = pairs.remainder() {
            step(w.len() - 1, last, &mut acc[0], &mut extra[0]);
        }
        (std::array::from_fn(|t| _mm256_add_ps(acc[0][t], acc[1][t])), std::array::from_fn(|t| extra[0][t] + extra[1][t]))
    }

    /// # Safety
    /// AVX2, FMA and F16C must be available; every token holds as many blocks as `w`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_q8_0<const N: usize>(w: &[BlockQ8_0], xs: &[&[BlockQ8x32]; N], out: &mut [f32]) {
        let (acc, _) = two_chains(w, |b, wb: &BlockQ8_0, acc: &mut [__m256; N], _: &mut [f32; N]| {
            prefetch_ahead(wb);
            let wv = _mm256_loadu_si256(wb.qs.as_ptr() as *const __m256i);
            let mag = _mm256_sign_epi8(wv, wv);
            // The scale and the first two values: the block goes on past it.
            let (dw, _) = two_f16(&wb.d);
            for t in 0..N {
                let x = xs[t].get_unchecked(b);
                let xv = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
                let p = products(mag, _mm256_sign_epi8(xv, wv));
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x.d), p, acc[t]);
            }
        });
        for t in 0..N {
            out[t] = hsum(acc[t]);
        }
    }

    /// # Safety
    /// As for `dot_q8_0`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_q4_0<const N: usize>(w: &[BlockQ4_0], xs: &[&[BlockQ8x32]; N], out: &mut [f32]) {
        let (acc, offset) = two_chains(w, |b, wb: &BlockQ4_0, acc: &mut [__m256; N], offset: &mut [f32; N]| {
            prefetch_ahead(wb);
            let q = unpack(&wb.qs);
            let (dw, _) = two_f16(&wb.d);
            for t in 0..N {
                let x = xs[t].get_unchecked(b);
                let xv = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x.d), products(q, xv), acc[t]);
                offset[t] += dw * x.s;
            }
        });
        for t in 0..N {
            out[t] = hsum(acc[t]) - 8.0 * offset[t];
        }
    }

    /// # Safety
    /// As for `dot_q8_0`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_q4_1<const N: usize>(w: &[BlockQ4_1], xs: &[&[BlockQ8x32]; N], out: &mut [f32]) {
        let (acc, mins) = two_chains(w, |b, wb: &BlockQ4_1, acc: &mut [__m256; N], mins: &mut [f32; N]| {
            prefetch_ahead(wb);
            let q = unpack(&wb.qs);
            let (dw, mw) = two_f16(&wb.d);
            for t in 0..N {
                let x = xs[t].get_unchecked(b);
                let xv = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x.d), products(q, xv), acc[t]);
                mins[t] += mw * x.s;
            }
        });
        for t in 0..N {
            out[t] = hsum(acc[t]) + mins[t];
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub mod neon {
    //! Widening multiplies (`vmull_s8`) added pairwise into 32-bit lanes: ARMv8's baseline, so
    //! every aarch64 CPU runs it (the dot-product instructions would be faster where present).
    use std::arch::aarch64::*;

    use super::{BlockQ4_0, BlockQ4_1, BlockQ8_0, BlockQ8x32};
    use crate::blocks::f16_to_f32;

    /// Σ a·b over 32 signed bytes given as two halves each.
    #[inline]
    fn dot32(a0: int8x16_t, a1: int8x16_t, b0: int8x16_t, b1: int8x16_t) -> i32 {
        // SAFETY: NEON is part of every aarch64 target.
        unsafe {
            let mut acc = vdupq_n_s32(0);
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
            acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
            acc = vpadalq_s16(acc, vmull_high_s8(a1, b1));
            vaddvq_s32(acc)
        }
    }

    #[inline]
    fn load(x: &[i8; 32]) -> (int8x16_t, int8x16_t) {
        // SAFETY: 32 readable bytes; NEON is always there.
        unsafe { (vld1q_s8(x.as_ptr()), vld1q_s8(x.as_ptr().add(16))) }
    }

    #[inline]
    fn nibbles(qs: &[u8; 16]) -> (int8x16_t, int8x16_t) {
        // SAFETY: 16 readable bytes; values 0..15 are the same as i8.
        unsafe {
            let raw = vld1q_u8(qs.as_ptr());
            (vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)))
        }
    }

    pub fn dot_q8_0(w: &[BlockQ8_0], xs: &[&[BlockQ8x32]], out: &mut [f32]) {
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            let mut sum = 0f32;
            for (b, xb) in w.iter().zip(x.iter()) {
                let (w0, w1) = load(&b.qs);
                let (x0, x1) = load(&xb.qs);
                sum += f16_to_f32(b.d) * xb.d * dot32(w0, w1, x0, x1) as f32;
            }
            *o = sum;
        }
    }

    pub fn dot_q4_0(w: &[BlockQ4_0], xs: &[&[BlockQ8x32]], out: &mut [f32]) {
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            let mut sum = 0f32;
            for (b, xb) in w.iter().zip(x.iter()) {
                let (q0, q1) = nibbles(&b.qs);
                let (x0, x1) = load(&xb.qs);
                sum += f16_to_f32(b.d) * (xb.d * dot32(q0, q1, x0, x1) as f32 - 8.0 * xb.s);
            }
            *o = sum;
        }
    }

    pub fn dot_q4_1(w: &[BlockQ4_1], xs: &[&[BlockQ8x32]], out: &mut [f32]) {
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            let mut sum = 0f32;
            for (b, xb) in w.iter().zip(x.iter()) {
                let (q0, q1) = nibbles(&b.qs);
                let (x0, x1) = load(&xb.qs);
                sum += f16_to_f32(b.d) * xb.d * dot32(q0, q1, x0, x1) as f32 + f16_to_f32(b.m) * xb.s;
            }
            *o = sum;
        }
    }
}

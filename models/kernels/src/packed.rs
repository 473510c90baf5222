//! Prefill for the K-quant types (Q4_K, Q5_K, Q6_K) on x86: a tile's weight rows are unpacked
//! once per call into one byte per value, four rows interleaved eight values at a time, so one
//! 8-bit dot-product instruction (`vpdpbusd` with VNNI, `maddubs` + `madd` without) multiplies
//! eight values of each of four rows by the same eight activations, read as one broadcast.
//!
//! Every type becomes the same thing: unsigned values, a float scale per unit (32 values for
//! Q4_K/Q5_K, 16 for Q6_K) and an integer bias per unit applied through the activations' unit
//! sums (Q4_K/Q5_K's minimums, Q6_K's offset of 32), so one kernel serves the three types and
//! the unpacking, done once for all the tokens of a chunk, carries the type's bit layout.

use super::blocks::{f16_to_f32, q4k_scales_mins, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K, QK_K};
#[cfg(target_arch = "x86_64")]
use super::q32::{Block32, BlockQ8x32, QK};

/// One 256-value block of `R` weight rows (4: 256-bit vectors and NEON), unpacked.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Packed<const R: usize> {
    /// Per group of eight values, each row's eight: one vector holds a group of every row, so
    /// one broadcast of eight activations multiplies them all.
    q: [[[u8; 8]; R]; QK_K / 8],
    /// Per unit, each row's `d * scale` twice: in the two i32 lanes the row's products land in.
    scale: [[[f32; 2]; R]; 16],
    /// Per four units, each row's four biases (i16).
    bias: [[[i16; 4]; R]; 4],
    /// Each row's factor of the bias (`dmin`, or `d` for Q6_K), twice.
    bias_f: [[f32; 2]; R],
}

impl<const R: usize> Packed<R> {
    pub const ZERO: Self = Self { q: [[[0; 8]; R]; QK_K / 8], scale: [[[0.0; 2]; R]; 16], bias: [[[0; 4]; R]; 4], bias_f: [[0.0; 2]; R] };

    /// Lays out the rows' scales, biases and bias factors (`units` of each row's used).
    fn set_scales(&mut self, units: usize, rb: &[RowBlock; R]) {
        for u in 0..units {
            for (r, row) in rb.iter().enumerate() {
                self.scale[u][r] = [row.scale[u]; 2];
                self.bias[u / 4][r][u % 4] = row.bias[u];
            }
        }
        for (r, row) in rb.iter().enumerate() {
            self.bias_f[r] = [row.bias_f; 2];
        }
    }
}

/// One 32-value block of `R` rows of a 32-value type (Q8_0, Q4_0, Q4_1), unpacked the same way;
/// each block has its own scales, so the kernel applies them block by block.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Packed32<const R: usize> {
    q: [[[u8; 8]; R]; 4],
    /// Each row's scale of the integer products, twice.
    d: [[f32; 2]; R],
    /// Each row's factor of the activations' scaled sum (Q4_0's offset, Q4_1's minimum), in
    /// the first of its two lanes.
    c: [[f32; 2]; R],
}

impl<const R: usize> Packed32<R> {
    pub const ZERO: Self = Self { q: [[[0; 8]; R]; 4], d: [[0.0; 2]; R], c: [[0.0; 2]; R] };
}

/// One 256-value block of sixteen rows for 512-bit vectors: one vector holds four values of
/// every row, so the activations' four bytes multiply all sixteen as one embedded broadcast
/// (`vpdpbusd zmm, zmm, m32{1to16}`) and each lane is a row to the end: no pairs to add, a
/// scale vector per unit.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Packed16 {
    /// Per group of four values, each row's four (as one u32).
    q: [[u32; 16]; QK_K / 4],
    /// Per unit, each row's `d * scale`.
    scale: [[f32; 16]; 16],
    /// Per two units, each row's two biases (i16 pairs for `vpdpwssd`).
    bias: [[[i16; 2]; 16]; 8],
    /// Each row's factor of the bias.
    bias_f: [f32; 16],
}

#[cfg(target_arch = "x86_64")]
impl Packed16 {
    pub const ZERO: Self = Self { q: [[0; 16]; QK_K / 4], scale: [[0.0; 16]; 16], bias: [[[0; 2]; 16]; 8], bias_f: [0.0; 16] };
}

/// One row's block, unpacked in value order.
pub struct RowBlock {
    vals: [u8; QK_K],
    scale: [f32; 16],
    bias: [i16; 16],
    bias_f: f32,
}

impl RowBlock {
    const ZERO: Self = Self { vals: [0; QK_K], scale: [0.0; 16], bias: [0; 16], bias_f: 0.0 };
}

/// A K-quant weight type the packed kernel reads.
pub trait KBlock: Copy + Sync {
    /// Scale units per block: 8 (32 values each) or 16 (16 values each).
    const UNITS: usize;
    /// The 256 values, unsigned, in order.
    fn values(&self, vals: &mut [u8; QK_K]);
    /// Each unit's float scale and integer bias, and the bias's factor.
    fn scales(&self, out: &mut RowBlock);
    /// `values` with the bit shuffling in AVX2 where the compiler's own vectorising falls short.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn values_avx2(&self, vals: &mut [u8; QK_K]) {
        self.values(vals)
    }
    fn unpack(&self, out: &mut RowBlock) {
        self.values(&mut out.vals);
        self.scales(out);
    }
}

/// Q4_K's and Q5_K's scales: six-bit scales and minimums per 32 values.
#[inline(always)]
fn scales_with_minimums(packed: &[u8; 12], d: u16, dmin: u16, o: &mut RowBlock) {
    let (sc, mn) = q4k_scales_mins(packed);
    let d = f16_to_f32(d);
    for u in 0..8 {
        o.scale[u] = d * sc[u] as f32;
        o.bias[u] = mn[u] as i16;
    }
    o.bias_f = f16_to_f32(dmin);
}

impl KBlock for BlockQ4K {
    const UNITS: usize = 8;
    #[inline(always)]
    fn values(&self, vals: &mut [u8; QK_K]) {
        for j in 0..4 {
            for l in 0..32 {
                let q = self.qs[32 * j + l];
                vals[64 * j + l] = q & 0x0F;
                vals[64 * j + 32 + l] = q >> 4;
            }
        }
    }
    #[inline(always)]
    fn scales(&self, o: &mut RowBlock) {
        scales_with_minimums(&self.scales, self.d, self.dmin, o);
    }
}

impl KBlock for BlockQ5K {
    const UNITS: usize = 8;
    #[inline(always)]
    fn values(&self, vals: &mut [u8; QK_K]) {
        for j in 0..4 {
            for l in 0..32 {
                let q = self.qs[32 * j + l];
                let h = self.qh[l] >> (2 * j);
                vals[64 * j + l] = (q & 0x0F) | ((h & 1) << 4);
                vals[64 * j + 32 + l] = (q >> 4) | ((h & 2) << 3);
            }
        }
    }
    #[inline(always)]
    fn scales(&self, o: &mut RowBlock) {
        scales_with_minimums(&self.scales, self.d, self.dmin, o);
    }
    #[cfg(target_arch = "x86_64")]
    unsafe fn values_avx2(&self, vals: &mut [u8; QK_K]) {
        simd::q5k_values(self, vals);
    }
}

impl KBlock for BlockQ6K {
    const UNITS: usize = 16;
    #[inline(always)]
    fn values(&self, vals: &mut [u8; QK_K]) {
        for n in 0..2 {
            for l in 0..32 {
                let (a, b, h) = (self.ql[64 * n + l], self.ql[64 * n + 32 + l], self.qh[32 * n + l]);
                vals[128 * n + l] = (a & 0x0F) | ((h & 3) << 4);
                vals[128 * n + 32 + l] = (b & 0x0F) | (((h >> 2) & 3) << 4);
                vals[128 * n + 64 + l] = (a >> 4) | (((h >> 4) & 3) << 4);
                vals[128 * n + 96 + l] = (b >> 4) | (((h >> 6) & 3) << 4);
            }
        }
    }
    #[inline(always)]
    fn scales(&self, o: &mut RowBlock) {
        let d = f16_to_f32(self.d);
        for u in 0..16 {
            o.scale[u] = d * self.scales[u] as f32;
            o.bias[u] = 32 * self.scales[u] as i16;
        }
        o.bias_f = d;
    }
    #[cfg(target_arch = "x86_64")]
    unsafe fn values_avx2(&self, vals: &mut [u8; QK_K]) {
        simd::q6k_values(self, vals);
    }
}

/// Portable dot products of one row of any K-quant type with tokens (the reference for Q5_K,
/// whose other paths are this module's kernel and candle's).
pub fn dot_scalar<B: KBlock>(w: &[B], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    let mut rb = RowBlock::ZERO;
    let per_unit = QK_K / B::UNITS;
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        let mut acc = 0f32;
        for (wb, xb) in w.iter().zip(x.iter()) {
            wb.unpack(&mut rb);
            let mut blk = 0f32;
            let mut bias = 0i32;
            for u in 0..B::UNITS {
                let range = per_unit * u..per_unit * (u + 1);
                let isum: i32 = rb.vals[range.clone()].iter().zip(&xb.qs[range.clone()]).map(|(&v, &q)| v as i32 * q as i32).sum();
                let usum: i32 = xb.qs[range].iter().map(|&q| q as i32).sum();
                blk += isum as f32 * rb.scale[u];
                bias += rb.bias[u] as i32 * usum;
            }
            acc += (blk - bias as f32 * rb.bias_f) * xb.d;
        }
        *o = acc;
    }
}

/// A token's activations for the packed kernel: its blocks, and per block the sums of each
/// unit's values (`stride` i16 apart from one block to the next, `UNITS` of them used).
#[derive(Clone, Copy)]
pub struct Tokens<'a, const NT: usize> {
    pub x: [&'a [BlockQ8K]; NT],
    pub sums: [*const i16; NT],
    pub stride: usize,
    /// Q6_K's offsets, 16 per block (`QInput::Q8K::offsets`), for the 512-bit kernel.
    pub offs: [*const i32; NT],
}

impl<'a, const NT: usize> Tokens<'a, NT> {
    /// Tokens `t0..t0 + NT` of a chunk whose tokens hold `kb` blocks each, their unit sums
    /// starting at `sums` (`stride` i16 per block).
    pub fn of_chunk(x: &'a [BlockQ8K], sums: *const i16, stride: usize, kb: usize, t0: usize) -> Self {
        Self {
            x: std::array::from_fn(|i| &x[(t0 + i) * kb..(t0 + i + 1) * kb]),
            sums: std::array::from_fn(|i| sums.wrapping_add((t0 + i) * kb * stride)),
            stride,
            offs: [std::ptr::null(); NT],
        }
    }

    /// The same tokens with their Q6_K offsets, which start at `offs` (16 per block).
    pub fn with_offsets(mut self, offs: *const i32, kb: usize, t0: usize) -> Self {
        self.offs = std::array::from_fn(|i| offs.wrapping_add((t0 + i) * kb * 16));
        self
    }
}

/// Packs each block of `R` rows into `out`, portably (the x86 path has an AVX2 version).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub fn pack_portable<B: KBlock, const R: usize>(rows: [&[B]; R], out: &mut [Packed<R>]) {
    let mut rb: [RowBlock; R] = std::array::from_fn(|_| RowBlock::ZERO);
    for (b, p) in out.iter_mut().enumerate() {
        for r in 0..R {
            rows[r][b].unpack(&mut rb[r]);
        }
        for g in 0..QK_K / 8 {
            for (r, row) in rb.iter().enumerate() {
                p.q[g][r].copy_from_slice(&row.vals[8 * g..8 * g + 8]);
            }
        }
        p.set_scales(B::UNITS, &rb);
    }
}

#[cfg(target_arch = "aarch64")]
pub mod neon {
    //! The packed kernel on NEON: a group's 32 bytes are two registers (rows 0-1, rows 2-3),
    //! each multiplied by the same eight activations twice over. With the dot-product extension
    //! one `sdot` does it (written in `asm!`: its intrinsic is not stable Rust yet); without,
    //! widening multiplies added pairwise give the same lanes. The weights (0..63) are valid
    //! signed bytes as they are.
    use std::arch::aarch64::*;
    use std::arch::asm;

    use super::super::blocks::BlockQ8K;
    use super::{Packed, Tokens};

    /// Lanes `[r0 a, r0 b, r1 a, r1 b]` += the four-product sums of `w` (two rows of eight)
    /// with `x` (eight activations, twice).
    #[inline(always)]
    unsafe fn dp_base(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
        let lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
        let hi = vmull_high_s8(w, x);
        vpadalq_s16(acc, vpaddq_s16(lo, hi))
    }

    #[inline(always)]
    unsafe fn dp_sdot(mut acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
        asm!("sdot {acc:v}.4s, {w:v}.16b, {x:v}.16b", acc = inout(vreg) acc, w = in(vreg) w, x = in(vreg) x, options(pure, nomem, nostack));
        acc
    }

    macro_rules! neon_kernel {
        ($name:ident, $feat:literal, $dp:ident) => {
            /// `out[t][r]` = dot(packed row r, token t) over all of `w`'s blocks.
            ///
            /// # Safety
            /// The CPU must have the named features; every token holds `w.len()` blocks and
            /// `sums` covers them.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const NT: usize, const UNITS: usize>(w: &[Packed<4>], xs: &Tokens<'_, NT>, out: &mut [[f32; 4]; NT]) {
                let per_unit = 32 / UNITS;
                let mut acc = [[vdupq_n_f32(0.0); 2]; NT];
                for (b, p) in w.iter().enumerate() {
                    let xb: [&BlockQ8K; NT] = std::array::from_fn(|t| xs.x[t].get_unchecked(b));
                    let mut blk = [[vdupq_n_f32(0.0); 2]; NT];
                    for u in 0..UNITS {
                        let mut isum = [[vdupq_n_s32(0); 2]; NT];
                        for gi in 0..per_unit {
                            let g = u * per_unit + gi;
                            let wq = p.q[g].as_ptr() as *const i8;
                            let (w01, w23) = (vld1q_s8(wq), vld1q_s8(wq.add(16)));
                            for t in 0..NT {
                                let x = vreinterpretq_s8_s64(vld1q_dup_s64(xb[t].qs.as_ptr().add(8 * g) as *const i64));
                                isum[t][0] = $dp(isum[t][0], w01, x);
                                isum[t][1] = $dp(isum[t][1], w23, x);
                            }
                        }
                        let sc = p.scale[u].as_ptr() as *const f32;
                        let (s01, s23) = (vld1q_f32(sc), vld1q_f32(sc.add(4)));
                        for t in 0..NT {
                            blk[t][0] = vfmaq_f32(blk[t][0], vcvtq_f32_s32(isum[t][0]), s01);
                            blk[t][1] = vfmaq_f32(blk[t][1], vcvtq_f32_s32(isum[t][1]), s23);
                        }
                    }
                    let bf = p.bias_f.as_ptr() as *const f32;
                    let (bf01, bf23) = (vld1q_f32(bf), vld1q_f32(bf.add(4)));
                    for t in 0..NT {
                        let s = xs.sums[t].add(b * xs.stride);
                        let mut bi = [vdupq_n_s32(0); 2];
                        for k in 0..UNITS / 4 {
                            let y = vld1_s16(s.add(4 * k));
                            let bk = p.bias[k].as_ptr() as *const i16;
                            for (h, bh) in bi.iter_mut().enumerate() {
                                // Rows 2h and 2h + 1: four products each, summed in pairs.
                                let r0 = vmull_s16(vld1_s16(bk.add(8 * h)), y);
                                let r1 = vmull_s16(vld1_s16(bk.add(8 * h + 4)), y);
                                *bh = vaddq_s32(*bh, vpaddq_s32(r0, r1));
                            }
                        }
                        let xd = vdupq_n_f32(xb[t].d);
                        blk[t][0] = vfmsq_f32(blk[t][0], vcvtq_f32_s32(bi[0]), bf01);
                        blk[t][1] = vfmsq_f32(blk[t][1], vcvtq_f32_s32(bi[1]), bf23);
                        acc[t][0] = vfmaq_f32(acc[t][0], blk[t][0], xd);
                        acc[t][1] = vfmaq_f32(acc[t][1], blk[t][1], xd);
                    }
                }
                for t in 0..NT {
                    // Lanes [r0, r0, r1, r1] and [r2, r2, r3, r3].
                    let a = vpaddq_f32(acc[t][0], acc[t][1]);
                    vst1q_f32(out[t].as_mut_ptr(), a);
                }
            }
        };
    }

    neon_kernel!(dot_base, "neon", dp_base);
    neon_kernel!(dot_sdot, "neon,dotprod", dp_sdot);
}

#[cfg(target_arch = "x86_64")]
pub use simd::*;

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::super::blocks::QK_K;
    use super::super::blocks::{BlockQ5K, BlockQ6K};
    use super::{Block32, BlockQ8x32, KBlock, Packed, Packed16, Packed32, RowBlock, Tokens, QK};

    /// Packs each block of `R` rows (`rows[r]` holds row r's blocks) into `out`.
    ///
    /// # Safety
    /// The CPU must support AVX2 (the loops are written for it to vectorise).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pack<B: KBlock, const R: usize>(rows: [&[B]; R], out: &mut [Packed<R>]) {
        let mut rb: [RowBlock; R] = std::array::from_fn(|_| RowBlock::ZERO);
        for (b, p) in out.iter_mut().enumerate() {
            for r in 0..R {
                super::super::prefetch_ahead(&rows[r][b]);
                rows[r][b].values_avx2(&mut rb[r].vals);
                rows[r][b].scales(&mut rb[r]);
            }
            interleave(&rb, &mut p.q);
            p.set_scales(B::UNITS, &rb);
        }
    }

    /// Packs each block of sixteen rows into `out` (the 512-bit layout).
    ///
    /// # Safety
    /// The CPU must support AVX-512 F.
    #[target_feature(enable = "avx2,fma,avx512f")]
    pub unsafe fn pack16<B: KBlock>(rows: [&[B]; 16], out: &mut [Packed16]) {
        let mut rb: [RowBlock; 16] = std::array::from_fn(|_| RowBlock::ZERO);
        for (b, p) in out.iter_mut().enumerate() {
            for r in 0..16 {
                rows[r][b].values_avx2(&mut rb[r].vals);
                rows[r][b].scales(&mut rb[r]);
            }
            transpose16(&rb, &mut p.q);
            for u in 0..B::UNITS {
                p.scale[u] = std::array::from_fn(|r| rb[r].scale[u]);
            }
            for k in 0..B::UNITS / 2 {
                p.bias[k] = std::array::from_fn(|r| [rb[r].bias[2 * k], rb[r].bias[2 * k + 1]]);
            }
            p.bias_f = std::array::from_fn(|r| rb[r].bias_f);
        }
    }

    /// `q[g][r]` = row r's values 4g..4g+4: four 16x16 transposes of 32-bit lanes (pairs of
    /// rows interleaved by 32 then 64 bits within each 128-bit lane, then the lanes gathered).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose16(rb: &[RowBlock; 16], q: &mut [[u32; 16]; QK_K / 4]) {
        for c in 0..QK_K / 64 {
            let v: [__m512i; 16] = std::array::from_fn(|r| _mm512_loadu_si512(rb[r].vals.as_ptr().add(64 * c) as *const _));
            let t: [__m512i; 16] = std::array::from_fn(|i| {
                let (a, b) = (v[2 * (i / 2)], v[2 * (i / 2) + 1]);
                if i % 2 == 0 {
                    _mm512_unpacklo_epi32(a, b)
                } else {
                    _mm512_unpackhi_epi32(a, b)
                }
            });
            // u[4q + i]: in 128-bit lane k, value group 4k + i of rows 4q..4q + 4.
            let u: [__m512i; 16] = std::array::from_fn(|j| {
                let (q4, i) = (j / 4, j % 4);
                let (lo, hi) = (t[4 * q4 + i / 2], t[4 * q4 + 2 + i / 2]);
                if i % 2 == 0 {
                    _mm512_unpacklo_epi64(lo, hi)
                } else {
                    _mm512_unpackhi_epi64(lo, hi)
                }
            });
            for i in 0..4 {
                let p_even = _mm512_shuffle_i32x4::<0x88>(u[i], u[4 + i]);
                let p_odd = _mm512_shuffle_i32x4::<0xDD>(u[i], u[4 + i]);
                let q_even = _mm512_shuffle_i32x4::<0x88>(u[8 + i], u[12 + i]);
                let q_odd = _mm512_shuffle_i32x4::<0xDD>(u[8 + i], u[12 + i]);
                let lanes = [
                    _mm512_shuffle_i32x4::<0x88>(p_even, q_even),
                    _mm512_shuffle_i32x4::<0x88>(p_odd, q_odd),
                    _mm512_shuffle_i32x4::<0xDD>(p_even, q_even),
                    _mm512_shuffle_i32x4::<0xDD>(p_odd, q_odd),
                ];
                for (k, &l) in lanes.iter().enumerate() {
                    _mm512_store_si512(q[16 * c + 4 * k + i].as_mut_ptr() as *mut _, l);
                }
            }
        }
    }

    /// Q6_K's 256 six-bit values, unsigned, in order (as the one-row kernel builds them).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn q6k_values(b: &BlockQ6K, vals: &mut [u8; QK_K]) {
        let m4 = _mm256_set1_epi8(0x0F);
        let m3 = _mm256_set1_epi8(3);
        for n in 0..2 {
            let qh = _mm256_loadu_si256(b.qh.as_ptr().add(32 * n) as *const __m256i);
            let ql0 = _mm256_loadu_si256(b.ql.as_ptr().add(64 * n) as *const __m256i);
            let ql1 = _mm256_loadu_si256(b.ql.as_ptr().add(64 * n + 32) as *const __m256i);
            let high = |shift: i32| match shift {
                0 => _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4),
                2 => _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4),
                4 => _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4),
                _ => _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4),
            };
            let v = [
                _mm256_or_si256(_mm256_and_si256(ql0, m4), high(0)),
                _mm256_or_si256(_mm256_and_si256(ql1, m4), high(2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), high(4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), high(6)),
            ];
            for (i, &vi) in v.iter().enumerate() {
                _mm256_storeu_si256(vals.as_mut_ptr().add(128 * n + 32 * i) as *mut __m256i, vi);
            }
        }
    }

    /// Q5_K's 256 five-bit values, in order.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn q5k_values(b: &BlockQ5K, vals: &mut [u8; QK_K]) {
        let m4 = _mm256_set1_epi8(0x0F);
        let one = _mm256_set1_epi8(1);
        let qh = _mm256_loadu_si256(b.qh.as_ptr() as *const __m256i);
        for j in 0..4 {
            let q = _mm256_loadu_si256(b.qs.as_ptr().add(32 * j) as *const __m256i);
            let h = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j as i32));
            let lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            let hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
            _mm256_storeu_si256(vals.as_mut_ptr().add(64 * j) as *mut __m256i, lo);
            _mm256_storeu_si256(vals.as_mut_ptr().add(64 * j + 32) as *mut __m256i, hi);
        }
    }

    /// Writes the rows' values group by group (`q[g][r]` = row r's values 8g..8g+8): 4x4
    /// transposes of 8-byte lanes, a quarter of the stores of a copy per group and row.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn interleave<const R: usize>(rb: &[RowBlock; R], q: &mut [[[u8; 8]; R]; QK_K / 8]) {
        let qp = q.as_mut_ptr() as *mut u8;
        for c in 0..QK_K / 32 {
            for quad in 0..R / 4 {
                let v: [__m256i; 4] = std::array::from_fn(|i| _mm256_loadu_si256(rb[4 * quad + i].vals.as_ptr().add(32 * c) as *const __m256i));
                let t0 = _mm256_unpacklo_epi64(v[0], v[1]);
                let t1 = _mm256_unpackhi_epi64(v[0], v[1]);
                let t2 = _mm256_unpacklo_epi64(v[2], v[3]);
                let t3 = _mm256_unpackhi_epi64(v[2], v[3]);
                let groups = [
                    _mm256_permute2x128_si256::<0x20>(t0, t2),
                    _mm256_permute2x128_si256::<0x20>(t1, t3),
                    _mm256_permute2x128_si256::<0x31>(t0, t2),
                    _mm256_permute2x128_si256::<0x31>(t1, t3),
                ];
                for (k, &gv) in groups.iter().enumerate() {
                    // Group 4c + k, rows 4·quad..4·quad + 4.
                    let at = (4 * c + k) * 8 * R + 32 * quad;
                    _mm256_storeu_si256(qp.add(at) as *mut __m256i, gv);
                }
            }
        }
    }

    /// Packs each block of `R` rows of a 32-value type into `out`.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pack32<B: Block32, const R: usize>(rows: [&[B]; R], out: &mut [Packed32<R>]) {
        let mut vals = [0u8; QK];
        for (b, p) in out.iter_mut().enumerate() {
            for (r, row) in rows.iter().enumerate() {
                super::super::prefetch_ahead(&row[b]);
                let (d, c) = row[b].unpack(&mut vals);
                for g in 0..4 {
                    p.q[g][r].copy_from_slice(&vals[8 * g..8 * g + 8]);
                }
                p.d[r] = [d; 2];
                // Once: the row's two lanes are added at the end.
                p.c[r] = [c, 0.0];
            }
        }
    }

    /// `vpdpbusd` for CPUs without VNNI: `maddubs` then `madd` by ones. No overflow: the weights are
    /// at most 63, so a pair of products stays within i16.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn dpbusd_avx2(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
    }

    #[inline]
    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn dpbusd_avxvnni(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpbusd_avx_epi32(acc, a, b)
    }

    macro_rules! packed_kernel {
        ($name:ident, $feat:literal, $dp:ident) => {
            /// `out[t][r]` = dot(packed row r, token t) over all of `w`'s blocks.
            ///
            /// # Safety
            /// The CPU must have the named features; every token holds `w.len()` blocks and
            /// `sums` covers them.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const NT: usize, const UNITS: usize>(w: &[Packed<4>], xs: &Tokens<'_, NT>, out: &mut [[f32; 4]; NT]) {
                let per_unit = 32 / UNITS;
                let mut acc = [_mm256_setzero_ps(); NT];
                for (b, p) in w.iter().enumerate() {
                    let xq: [*const u8; NT] = std::array::from_fn(|t| xs.x[t].get_unchecked(b).qs.as_ptr() as *const u8);
                    let mut blk = [_mm256_setzero_ps(); NT];
                    for u in 0..UNITS {
                        // Two sums per token (even and odd groups of eight values) halve the
                        // chain of dependent dot products, whose latency would bound the loop.
                        let mut ia = [_mm256_setzero_si256(); NT];
                        let mut ib = [_mm256_setzero_si256(); NT];
                        for gi in (0..per_unit).step_by(2) {
                            let g = u * per_unit + gi;
                            let wa = _mm256_load_si256(p.q[g].as_ptr() as *const __m256i);
                            let wb = _mm256_load_si256(p.q[g + 1].as_ptr() as *const __m256i);
                            for t in 0..NT {
                                let xa = _mm256_set1_epi64x(std::ptr::read_unaligned(xq[t].add(8 * g) as *const i64));
                                let xb = _mm256_set1_epi64x(std::ptr::read_unaligned(xq[t].add(8 * g + 8) as *const i64));
                                ia[t] = $dp(ia[t], wa, xa);
                                ib[t] = $dp(ib[t], wb, xb);
                            }
                        }
                        let sc = _mm256_load_ps(p.scale[u].as_ptr() as *const f32);
                        for t in 0..NT {
                            let s = _mm256_cvtepi32_ps(_mm256_add_epi32(ia[t], ib[t]));
                            blk[t] = _mm256_fmadd_ps(s, sc, blk[t]);
                        }
                    }
                    let bf = _mm256_load_ps(p.bias_f.as_ptr() as *const f32);
                    for t in 0..NT {
                        let s = xs.sums[t].add(b * xs.stride);
                        let mut bi = _mm256_setzero_si256();
                        for k in 0..UNITS / 4 {
                            let bv = _mm256_load_si256(p.bias[k].as_ptr() as *const __m256i);
                            let yv = _mm256_set1_epi64x(std::ptr::read_unaligned(s.add(4 * k) as *const i64));
                            bi = _mm256_add_epi32(bi, _mm256_madd_epi16(bv, yv));
                        }
                        blk[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(bi), bf, blk[t]);
                        acc[t] = _mm256_fmadd_ps(blk[t], _mm256_set1_ps(xs.x[t].get_unchecked(b).d), acc[t]);
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
        };
    }

    packed_kernel!(dot_avx2, "avx2,fma", dpbusd_avx2);
    packed_kernel!(dot_avxvnni, "avx2,fma,avxvnni", dpbusd_avxvnni);

    /// The packed kernel on 512-bit vectors, sixteen rows per vector (`Packed16`): each
    /// activation load is the dot-product instruction's own broadcast operand, and a unit's
    /// integer sums need no pairing before their scale (measured on Zen 5, which issues two
    /// 512-bit `vpdpbusd` a cycle: 7B Q5_K_M prefill 60 -> 70 tok/s over eight rows of eight
    /// values).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/BW/VL and VNNI; every token holds `w.len()` blocks and
    /// `sums` covers them.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn dot16_avx512<const NT: usize, const UNITS: usize>(w: &[Packed16], xs: &Tokens<'_, NT>, out: &mut [[f32; 16]; NT]) {
        let per_unit = QK_K / 4 / UNITS;
        let mut acc = [_mm512_setzero_ps(); NT];
        for (b, p) in w.iter().enumerate() {
            let xq: [*const u8; NT] = std::array::from_fn(|t| xs.x[t].get_unchecked(b).qs.as_ptr() as *const u8);
            let mut blk = [_mm512_setzero_ps(); NT];
            for u in 0..UNITS {
                // Q6_K (16 units): each unit's sum starts at its -32 offset times the
                // activations' sum, so its values count as signed and no bias term is left.
                let mut ia: [__m512i; NT] =
                    std::array::from_fn(|t| if UNITS == 16 { _mm512_set1_epi32(*xs.offs[t].add(16 * b + u)) } else { _mm512_setzero_si512() });
                for gi in 0..per_unit {
                    let g = u * per_unit + gi;
                    let wv = _mm512_load_si512(p.q[g].as_ptr() as *const _);
                    for t in 0..NT {
                        let xv = _mm512_set1_epi32(std::ptr::read_unaligned(xq[t].add(4 * g) as *const i32));
                        ia[t] = _mm512_dpbusd_epi32(ia[t], wv, xv);
                    }
                }
                let sc = _mm512_load_ps(p.scale[u].as_ptr());
                for t in 0..NT {
                    blk[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), sc, blk[t]);
                }
            }
            if UNITS == 16 {
                for t in 0..NT {
                    acc[t] = _mm512_fmadd_ps(blk[t], _mm512_set1_ps(xs.x[t].get_unchecked(b).d), acc[t]);
                }
                continue;
            }
            let bf = _mm512_load_ps(p.bias_f.as_ptr());
            for t in 0..NT {
                let s = xs.sums[t].add(b * xs.stride);
                let mut bi = _mm512_setzero_si512();
                for k in 0..UNITS / 2 {
                    let bv = _mm512_load_si512(p.bias[k].as_ptr() as *const _);
                    bi = _mm512_dpwssd_epi32(bi, bv, _mm512_set1_epi32(std::ptr::read_unaligned(s.add(2 * k) as *const i32)));
                }
                blk[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(bi), bf, blk[t]);
                acc[t] = _mm512_fmadd_ps(blk[t], _mm512_set1_ps(xs.x[t].get_unchecked(b).d), acc[t]);
            }
        }
        for t in 0..NT {
            _mm512_storeu_ps(out[t].as_mut_ptr(), acc[t]);
        }
    }

    macro_rules! packed32_kernel {
        ($name:ident, $feat:literal, $dp:ident) => {
            /// `out[t][r]` = dot(packed row r, token t) for a 32-value type (`OFFSET` and
            /// whether the `c` term applies given by the weight type).
            ///
            /// # Safety
            /// The CPU must have the named features; every token holds `w.len()` blocks.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<B: Block32, const NT: usize>(w: &[Packed32<4>], xs: &[&[BlockQ8x32]; NT], out: &mut [[f32; 4]; NT]) {
                let mut accd = [_mm256_setzero_ps(); NT];
                let mut accc = [_mm256_setzero_ps(); NT];
                for (b, p) in w.iter().enumerate() {
                    let xb: [&BlockQ8x32; NT] = std::array::from_fn(|t| xs[t].get_unchecked(b));
                    // Q8_0's offset of 128 comes off in the integer sum itself (in one of each
                    // row's two lanes).
                    let mut ia: [__m256i; NT] =
                        std::array::from_fn(|t| _mm256_blend_epi32::<0x55>(_mm256_setzero_si256(), _mm256_set1_epi32(-B::OFFSET * xb[t].sum)));
                    let mut ib = [_mm256_setzero_si256(); NT];
                    for g in [0, 2] {
                        let wa = _mm256_load_si256(p.q[g].as_ptr() as *const __m256i);
                        let wb = _mm256_load_si256(p.q[g + 1].as_ptr() as *const __m256i);
                        for t in 0..NT {
                            let xq = xb[t].qs.as_ptr() as *const u8;
                            let xa = _mm256_set1_epi64x(std::ptr::read_unaligned(xq.add(8 * g) as *const i64));
                            let xc = _mm256_set1_epi64x(std::ptr::read_unaligned(xq.add(8 * g + 8) as *const i64));
                            ia[t] = $dp(ia[t], wa, xa);
                            ib[t] = $dp(ib[t], wb, xc);
                        }
                    }
                    let d = _mm256_load_ps(p.d.as_ptr() as *const f32);
                    let c = _mm256_load_ps(p.c.as_ptr() as *const f32);
                    for t in 0..NT {
                        let s = _mm256_cvtepi32_ps(_mm256_add_epi32(ia[t], ib[t]));
                        accd[t] = _mm256_fmadd_ps(s, _mm256_mul_ps(d, _mm256_set1_ps(xb[t].d)), accd[t]);
                        if B::OFFSET == 0 {
                            accc[t] = _mm256_fmadd_ps(c, _mm256_set1_ps(xb[t].s), accc[t]);
                        }
                    }
                }
                for t in 0..NT {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(accd[t], accc[t]));
                    for r in 0..4 {
                        out[t][r] = lanes[2 * r] + lanes[2 * r + 1];
                    }
                }
            }
        };
    }

    packed32_kernel!(dot32_avx2, "avx2,fma", dpbusd_avx2);
    packed32_kernel!(dot32_avxvnni, "avx2,fma,avxvnni", dpbusd_avxvnni);

    /// `packed32_kernel` on 512-bit vectors, eight rows per vector.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/BW/VL and VNNI; every token holds `w.len()` blocks.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn dot32_avx512<B: Block32, const NT: usize>(w: &[Packed32<8>], xs: &[&[BlockQ8x32]; NT], out: &mut [[f32; 8]; NT]) {
        let mut accd = [_mm512_setzero_ps(); NT];
        let mut accc = [_mm512_setzero_ps(); NT];
        for (b, p) in w.iter().enumerate() {
            let xb: [&BlockQ8x32; NT] = std::array::from_fn(|t| xs[t].get_unchecked(b));
            let mut ia: [__m512i; NT] = std::array::from_fn(|t| _mm512_maskz_set1_epi32(0x5555, -B::OFFSET * xb[t].sum));
            let mut ib = [_mm512_setzero_si512(); NT];
            for g in [0, 2] {
                let wa = _mm512_load_si512(p.q[g].as_ptr() as *const _);
                let wb = _mm512_load_si512(p.q[g + 1].as_ptr() as *const _);
                for t in 0..NT {
                    let xq = xb[t].qs.as_ptr() as *const u8;
                    let xa = _mm512_set1_epi64(std::ptr::read_unaligned(xq.add(8 * g) as *const i64));
                    let xc = _mm512_set1_epi64(std::ptr::read_unaligned(xq.add(8 * g + 8) as *const i64));
                    ia[t] = _mm512_dpbusd_epi32(ia[t], wa, xa);
                    ib[t] = _mm512_dpbusd_epi32(ib[t], wb, xc);
                }
            }
            let d = _mm512_load_ps(p.d.as_ptr() as *const f32);
            let c = _mm512_load_ps(p.c.as_ptr() as *const f32);
            for t in 0..NT {
                let s = _mm512_cvtepi32_ps(_mm512_add_epi32(ia[t], ib[t]));
                accd[t] = _mm512_fmadd_ps(s, _mm512_mul_ps(d, _mm512_set1_ps(xb[t].d)), accd[t]);
                if B::OFFSET == 0 {
                    accc[t] = _mm512_fmadd_ps(c, _mm512_set1_ps(xb[t].s), accc[t]);
                }
            }
        }
        for t in 0..NT {
            let mut lanes = [0f32; 16];
            _mm512_storeu_ps(lanes.as_mut_ptr(), _mm512_add_ps(accd[t], accc[t]));
            for r in 0..8 {
                out[t][r] = lanes[2 * r] + lanes[2 * r + 1];
            }
        }
    }
}

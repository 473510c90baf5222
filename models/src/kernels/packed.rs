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

/// Rows interleaved in one packed block.
pub const ROWS: usize = 4;

/// One 256-value block of four weight rows, unpacked.
#[repr(C, align(32))]
#[derive(Clone, Copy)]
pub struct Packed {
    /// Value `v` of row `r` at `32 * (v / 8) + 8 * r + v % 8`.
    q: [u8; 4 * QK_K],
    /// Per unit, each row's `d * scale` in lanes `2r` and `2r + 1` (the two i32 lanes a row's
    /// dot products land in).
    scale: [[f32; 8]; 16],
    /// Per four units, each row's four biases in i16 lanes `4r..4r + 4`.
    bias: [[i16; 16]; 4],
    /// Each row's factor of the bias (`dmin`, or `d` for Q6_K), in lanes `2r` and `2r + 1`.
    bias_f: [f32; 8],
}

impl Packed {
    pub const ZERO: Self = Self {
        q: [0; 4 * QK_K],
        scale: [[0.0; 8]; 16],
        bias: [[0; 16]; 4],
        bias_f: [0.0; 8],
    };
}

/// One row's block, unpacked in value order.
pub struct RowBlock {
    vals: [u8; QK_K],
    scale: [f32; 16],
    bias: [i16; 16],
    bias_f: f32,
}

impl RowBlock {
    const ZERO: Self = Self {
        vals: [0; QK_K],
        scale: [0.0; 16],
        bias: [0; 16],
        bias_f: 0.0,
    };
}

/// A K-quant weight type the packed kernel reads.
pub trait KBlock: Copy + Sync {
    /// Scale units per block: 8 (32 values each) or 16 (16 values each).
    const UNITS: usize;
    fn unpack(&self, out: &mut RowBlock);
}

impl KBlock for BlockQ4K {
    const UNITS: usize = 8;
    #[inline(always)]
    fn unpack(&self, o: &mut RowBlock) {
        let (sc, mn) = q4k_scales_mins(&self.scales);
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        for j in 0..4 {
            for l in 0..32 {
                let q = self.qs[32 * j + l];
                o.vals[64 * j + l] = q & 0x0F;
                o.vals[64 * j + 32 + l] = q >> 4;
            }
        }
        for u in 0..8 {
            o.scale[u] = d * sc[u] as f32;
            o.bias[u] = mn[u] as i16;
        }
        o.bias_f = dmin;
    }
}

impl KBlock for BlockQ5K {
    const UNITS: usize = 8;
    #[inline(always)]
    fn unpack(&self, o: &mut RowBlock) {
        let (sc, mn) = q4k_scales_mins(&self.scales);
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        for j in 0..4 {
            for l in 0..32 {
                let q = self.qs[32 * j + l];
                let h = self.qh[l] >> (2 * j);
                o.vals[64 * j + l] = (q & 0x0F) | ((h & 1) << 4);
                o.vals[64 * j + 32 + l] = (q >> 4) | ((h & 2) << 3);
            }
        }
        for u in 0..8 {
            o.scale[u] = d * sc[u] as f32;
            o.bias[u] = mn[u] as i16;
        }
        o.bias_f = dmin;
    }
}

impl KBlock for BlockQ6K {
    const UNITS: usize = 16;
    #[inline(always)]
    fn unpack(&self, o: &mut RowBlock) {
        let d = f16_to_f32(self.d);
        for n in 0..2 {
            for l in 0..32 {
                let (a, b, h) = (self.ql[64 * n + l], self.ql[64 * n + 32 + l], self.qh[32 * n + l]);
                o.vals[128 * n + l] = (a & 0x0F) | ((h & 3) << 4);
                o.vals[128 * n + 32 + l] = (b & 0x0F) | (((h >> 2) & 3) << 4);
                o.vals[128 * n + 64 + l] = (a >> 4) | (((h >> 4) & 3) << 4);
                o.vals[128 * n + 96 + l] = (b >> 4) | (((h >> 6) & 3) << 4);
            }
        }
        for u in 0..16 {
            o.scale[u] = d * self.scales[u] as f32;
            o.bias[u] = 32 * self.scales[u] as i16;
        }
        o.bias_f = d;
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
                let isum: i32 = rb.vals[range.clone()]
                    .iter()
                    .zip(&xb.qs[range.clone()])
                    .map(|(&v, &q)| v as i32 * q as i32)
                    .sum();
                let usum: i32 = xb.qs[range].iter().map(|&q| q as i32).sum();
                blk += isum as f32 * rb.scale[u];
                bias += rb.bias[u] as i32 * usum;
            }
            acc += (blk - bias as f32 * rb.bias_f) * xb.d;
        }
        *o = acc;
    }
}

#[cfg(target_arch = "x86_64")]
pub use simd::*;

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::super::blocks::{BlockQ8K, QK_K};
    use super::{KBlock, Packed, RowBlock, ROWS};

    /// Packs block `b` of each of four rows (`rows[r]` holds the row's blocks) into `out`.
    ///
    /// # Safety
    /// The CPU must support AVX2 (the loops are written for it to vectorise).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pack<B: KBlock>(rows: [&[B]; ROWS], out: &mut [Packed]) {
        let mut rb = [RowBlock::ZERO, RowBlock::ZERO, RowBlock::ZERO, RowBlock::ZERO];
        for (b, p) in out.iter_mut().enumerate() {
            for r in 0..ROWS {
                rows[r][b].unpack(&mut rb[r]);
            }
            for g in 0..QK_K / 8 {
                for (r, row) in rb.iter().enumerate() {
                    p.q[32 * g + 8 * r..32 * g + 8 * r + 8].copy_from_slice(&row.vals[8 * g..8 * g + 8]);
                }
            }
            for u in 0..B::UNITS {
                for (r, row) in rb.iter().enumerate() {
                    p.scale[u][2 * r] = row.scale[u];
                    p.scale[u][2 * r + 1] = row.scale[u];
                    p.bias[u / 4][4 * r + u % 4] = row.bias[u];
                }
            }
            for (r, row) in rb.iter().enumerate() {
                p.bias_f[2 * r] = row.bias_f;
                p.bias_f[2 * r + 1] = row.bias_f;
            }
        }
    }

    /// A token's activations for the packed kernel: its blocks, and per block the sums of each
    /// unit's values (`stride` i16 apart from one block to the next, `UNITS` of them used).
    #[derive(Clone, Copy)]
    pub struct Tokens<'a, const NT: usize> {
        pub x: [&'a [BlockQ8K]; NT],
        pub sums: [*const i16; NT],
        pub stride: usize,
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

    #[inline]
    #[target_feature(enable = "avx2,avx512vnni,avx512vl")]
    unsafe fn dpbusd_avx512(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, a, b)
    }

    macro_rules! packed_kernel {
        ($name:ident, $feat:literal, $dp:ident) => {
            /// `out[t][r]` = dot(packed row r, token t) over all of `w`'s blocks.
            ///
            /// # Safety
            /// The CPU must have the named features; every token holds `w.len()` blocks and
            /// `sums` covers them.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name<const NT: usize, const UNITS: usize>(
                w: &[Packed],
                xs: &Tokens<'_, NT>,
                out: &mut [[f32; 4]; NT],
            ) {
                let per_unit = 32 / UNITS;
                let mut acc = [_mm256_setzero_ps(); NT];
                for (b, p) in w.iter().enumerate() {
                    let xq: [*const u8; NT] =
                        std::array::from_fn(|t| xs.x[t].get_unchecked(b).qs.as_ptr() as *const u8);
                    let mut blk = [_mm256_setzero_ps(); NT];
                    for u in 0..UNITS {
                        let mut isum = [_mm256_setzero_si256(); NT];
                        for gi in 0..per_unit {
                            let g = u * per_unit + gi;
                            let wv = _mm256_load_si256(p.q.as_ptr().add(32 * g) as *const __m256i);
                            for t in 0..NT {
                                let xv = _mm256_set1_epi64x(std::ptr::read_unaligned(xq[t].add(8 * g) as *const i64));
                                isum[t] = $dp(isum[t], wv, xv);
                            }
                        }
                        let sc = _mm256_load_ps(p.scale[u].as_ptr());
                        for t in 0..NT {
                            blk[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), sc, blk[t]);
                        }
                    }
                    let bf = _mm256_load_ps(p.bias_f.as_ptr());
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
    packed_kernel!(dot_avx512, "avx2,fma,avx512vnni,avx512vl", dpbusd_avx512);
}

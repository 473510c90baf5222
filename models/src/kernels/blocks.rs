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

/// Views `bytes` as blocks when the length and alignment allow it.
pub fn cast_blocks<T>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if bytes.len() % size != 0 || bytes.as_ptr() as usize % std::mem::align_of::<T>() != 0 {
        return None;
    }
    // SAFETY: the block types are plain `repr(C)` integers and arrays, valid for any bytes;
    // length and alignment were checked above.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, bytes.len() / size) })
}

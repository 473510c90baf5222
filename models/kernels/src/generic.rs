//! The block types without a kernel of our own (Q5_*, Q2_K, Q3_K, Q5_K; Q4_K and Q6_K where our
//! SIMD kernels do not run, as on ARM): candle's per-type dot products (SIMD where candle has
//! it), over the weights in place, tiled like the fast kernels so that prefill reads each weight
//! row from memory once per chunk.

use std::any::Any;

use candle_core::quantized::k_quants::BlockQ4K;
use candle_core::quantized::k_quants::{BlockQ2K, BlockQ3K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0, GgmlType};
use rayon::prelude::*;

use super::blocks::{cast_blocks, Pod};
use super::{tiled, KernelError, QWeight};
use crate::TensorType;

pub struct GenericInput {
    pub rows: usize,
    cols: usize,
    ttype: TensorType,
    blocks: Box<dyn Any + Send + Sync>,
}

/// Calls `$body` with `$T` bound to candle's block type for `$t`.
macro_rules! with_block_type {
    ($t:expr, $T:ident => $body:expr, else $other:expr) => {
        match $t {
            TensorType::Q4_0 => {
                type $T = BlockQ4_0;
                $body
            }
            TensorType::Q4_1 => {
                type $T = BlockQ4_1;
                $body
            }
            TensorType::Q5_0 => {
                type $T = BlockQ5_0;
                $body
            }
            TensorType::Q5_1 => {
                type $T = BlockQ5_1;
                $body
            }
            TensorType::Q8_0 => {
                type $T = BlockQ8_0;
                $body
            }
            TensorType::Q2K => {
                type $T = BlockQ2K;
                $body
            }
            TensorType::Q3K => {
                type $T = BlockQ3K;
                $body
            }
            TensorType::Q4K => {
                type $T = BlockQ4K;
                $body
            }
            TensorType::Q5K => {
                type $T = BlockQ5K;
                $body
            }
            TensorType::Q6K => {
                type $T = BlockQ6K;
                $body
            }
            _ => $other,
        }
    };
}

pub fn supported(t: TensorType) -> bool {
    with_block_type!(t, T => { let _ = std::marker::PhantomData::<T>; true }, else false)
}

pub fn quantize(t: TensorType, x: &[f32], rows: usize, cols: usize) -> Result<GenericInput, KernelError> {
    with_block_type!(t, T => quantize_as::<T>(t, x, rows, cols), else Err(KernelError::Unsupported(t.name())))
}

fn quantize_as<T: GgmlType>(t: TensorType, x: &[f32], rows: usize, cols: usize) -> Result<GenericInput, KernelError>
where
    T::VecDotType: 'static,
{
    let bs = T::VecDotType::BLCK_SIZE;
    if !cols.is_multiple_of(bs) || !cols.is_multiple_of(T::BLCK_SIZE) {
        return Err(KernelError::Shape { got: cols, expected: cols.next_multiple_of(T::BLCK_SIZE.max(bs)) });
    }
    let per_row = cols / bs;
    let mut blocks = vec![T::VecDotType::zeros(); rows * per_row];
    blocks.par_chunks_mut(per_row).zip(x.par_chunks(cols)).for_each(|(b, x)| T::VecDotType::from_float(x, b));
    Ok(GenericInput { rows, cols, ttype: t, blocks: Box::new(blocks) })
}

pub fn matmul(w: &QWeight<'_>, x: &GenericInput, out: &mut [f32]) -> Result<(), KernelError> {
    if x.ttype != w.ttype || x.cols != w.cols {
        return Err(KernelError::Shape { got: x.cols, expected: w.cols });
    }
    with_block_type!(w.ttype, T => matmul_as::<T>(w, x, out), else Err(KernelError::Unsupported(w.ttype.name())))
}

fn matmul_as<T: GgmlType + Pod>(w: &QWeight<'_>, x: &GenericInput, out: &mut [f32]) -> Result<(), KernelError>
where
    T::VecDotType: 'static,
{
    let wb: &[T] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned(w.ttype.name()))?;
    let xb = x.blocks.downcast_ref::<Vec<T::VecDotType>>().ok_or(KernelError::Unsupported(w.ttype.name()))?;
    let cols = w.cols;
    tiled(wb, w.rows, cols / T::BLCK_SIZE, xb, x.rows, out, |row, xs, res| {
        let n = row.len() * T::BLCK_SIZE;
        for (x, r) in xs.iter().zip(res.iter_mut()) {
            *r = T::vec_dot(n, row, x);
        }
    });
    Ok(())
}

pub fn dequantize_row(w: &QWeight<'_>, row: usize, out: &mut [f32]) -> Result<(), KernelError> {
    if out.len() != w.cols || row >= w.rows {
        return Err(KernelError::Shape { got: out.len(), expected: w.cols });
    }
    match w.ttype {
        TensorType::F32 => {
            let src = &w.bytes[row * w.cols * 4..(row + 1) * w.cols * 4];
            for (o, b) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            Ok(())
        }
        TensorType::F16 => {
            let src = &w.bytes[row * w.cols * 2..(row + 1) * w.cols * 2];
            for (o, b) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
            Ok(())
        }
        t => with_block_type!(t, T => {
            let wb: &[T] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned(t.name()))?;
            let per_row = w.cols / T::BLCK_SIZE;
            T::to_float(&wb[row * per_row..(row + 1) * per_row], out);
            Ok(())
        }, else Err(KernelError::Unsupported(t.name()))),
    }
}

/// Q4_K / Q6_K rows against our Q8_K activation blocks through candle's dot products: the path
/// for CPUs without our AVX2 kernels (candle's NEON code on ARM, scalar elsewhere).
pub fn matmul_q8k(w: &QWeight<'_>, x: &[super::blocks::BlockQ8K], m: usize, out: &mut [f32]) -> Result<(), KernelError> {
    use candle_core::quantized::k_quants::BlockQ8K as CandleQ8K;
    const _: () = assert!(std::mem::size_of::<CandleQ8K>() == std::mem::size_of::<super::blocks::BlockQ8K>());
    // SAFETY: both are repr(C) { d: f32, qs: [i8; 256], bsums: [i16; 16] }, same size and alignment.
    let xc: &[CandleQ8K] = unsafe { std::slice::from_raw_parts(x.as_ptr() as *const CandleQ8K, x.len()) };
    fn run<T: GgmlType<VecDotType = CandleQ8K> + Pod>(w: &QWeight<'_>, xc: &[CandleQ8K], m: usize, out: &mut [f32]) -> Result<(), KernelError> {
        let wb: &[T] = cast_blocks(w.bytes).ok_or(KernelError::Misaligned(w.ttype.name()))?;
        tiled(wb, w.rows, w.cols / T::BLCK_SIZE, xc, m, out, |row, xs, res| {
            let n = row.len() * T::BLCK_SIZE;
            for (x, r) in xs.iter().zip(res.iter_mut()) {
                *r = T::vec_dot(n, row, x);
            }
        });
        Ok(())
    }
    match w.ttype {
        TensorType::Q4K => run::<BlockQ4K>(w, xc, m, out),
        TensorType::Q5K => run::<BlockQ5K>(w, xc, m, out),
        TensorType::Q6K => run::<BlockQ6K>(w, xc, m, out),
        t => Err(KernelError::Unsupported(t.name())),
    }
}

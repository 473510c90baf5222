//! The two places a forward pass takes exponentials, on the CPU: attention's softmax and the
//! MLP's SiLU. candle calls libm's `expf` per value, whose slow path for results that
//! underflow (masked scores, scores far below their row's maximum, strongly negative gate
//! values) took 4-5% of a 7B prefill in `perf`; these use a branch-free polynomial that the
//! compiler vectorises, within 2 ulp of `exp`, and give masked (−∞) scores exactly 0.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Softmax over the last dimension (the fast version for f32 on the CPU, candle's otherwise).
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.apply_op1_no_bwd(&Softmax)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

/// `silu(gate) · up`, in one pass (the fast version for contiguous f32 on the CPU).
pub fn silu_mul(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if gate.device().is_cpu() && gate.dtype() == DType::F32 && up.dtype() == DType::F32 && gate.shape() == up.shape() {
        gate.apply_op2_no_bwd(up, &SiluMul)
    } else {
        candle_nn::ops::silu(gate)? * up
    }
}

struct SiluMul;

impl CustomOp2 for SiluMul {
    fn name(&self) -> &'static str {
        "fin-r1-silu-mul"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(g), CpuStorage::F32(u)) = (s1, s2) else { bail!("silu_mul: f32 expected") };
        let (Some((g0, g1)), Some((u0, u1))) = (l1.contiguous_offsets(), l2.contiguous_offsets()) else { bail!("silu_mul: inputs not contiguous") };
        let (g, u) = (&g[g0..g1], &u[u0..u1]);
        let mut out = vec![0f32; g.len()];
        const CHUNK: usize = 4096;
        out.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(u.par_chunks(CHUNK)).for_each(|((o, g), u)| {
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o = g * sigmoid(g) * u;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `1 / (1 + e^-x)` through `e^-|x|`, so the exponential never overflows.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "fin-r1-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(src) = storage else { bail!("softmax: f32 expected") };
        let Some((from, to)) = layout.contiguous_offsets() else { bail!("softmax: input not contiguous") };
        let src = &src[from..to];
        let n = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut dst = vec![0f32; src.len()];
        src.par_chunks(n).zip(dst.par_chunks_mut(n)).with_min_len(8).for_each(|(s, d)| row(s, d));
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

fn row(s: &[f32], d: &mut [f32]) {
    let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if max == f32::NEG_INFINITY {
        // Nothing visible: no weight anywhere (candle's would give NaN).
        d.fill(0.0);
        return;
    }
    for (o, &v) in d.iter_mut().zip(s) {
        *o = exp_nonpositive(v - max);
    }
    // Eight running sums so the additions vectorise.
    let mut lanes = [0f32; 8];
    let mut chunks = d.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let sum: f32 = lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv = 1.0 / sum;
    for o in d.iter_mut() {
        *o *= inv;
    }
}

/// `exp(x)` for `x <= 0` (Cephes' `expf`: 2^n · e^r with |r| <= ln 2 / 2 and a degree-6
/// polynomial); 0 below -87.3, where the result would no longer be a normal f32.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.clamp(-87.3, 0.0);
    let n = (xc * LOG2E + 0.5).floor();
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits((((n as i32) + 127) as u32) << 23);
    if x < -87.3 {
        0.0
    } else {
        y * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_and_underflows_to_zero() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            assert!(((got - want) / want).abs() < 2.5e-7, "exp({x}) = {got}, want {want}");
            x += 0.0137;
        }
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn silu_mul_matches_candle() {
        let g: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 1000) as f32 * 0.3 - 150.0).collect();
        let u: Vec<f32> = (0..5000).map(|i| ((i * 104729) % 17) as f32 * 0.25 - 2.0).collect();
        let dev = candle_core::Device::Cpu;
        let (gt, ut) = (Tensor::from_vec(g, (2, 2500), &dev).unwrap(), Tensor::from_vec(u, (2, 2500), &dev).unwrap());
        let ours: Vec<f32> = silu_mul(&gt, &ut).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let theirs: Vec<f32> = (candle_nn::ops::silu(&gt).unwrap() * &ut).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() <= 2e-6 * b.abs().max(1e-20), "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_matches_candle_and_masks_exactly() {
        let v: Vec<f32> = (0..3 * 37).map(|i| ((i * 7919) % 97) as f32 * 0.37 - 20.0).collect();
        let mut masked = v.clone();
        for m in masked.iter_mut().skip(5).step_by(3) {
            *m = f32::NEG_INFINITY;
        }
        for data in [v, masked] {
            let t = Tensor::from_vec(data, (3, 37), &candle_core::Device::Cpu).unwrap();
            let ours: Vec<f32> = softmax_last_dim(&t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let theirs: Vec<f32> = candle_nn::ops::softmax_last_dim(&t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-30), "{a} vs {b}");
                if *b == 0.0 {
                    assert_eq!(*a, 0.0);
                }
            }
        }
    }
}

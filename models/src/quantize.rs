//! A Hugging Face Qwen2 checkpoint (config.json, tokenizer.json, tokenizer_config.json and
//! safetensors shards, such as Fin-R1's bf16 weights) to a GGUF the engine runs, quantized on
//! this machine. Memory stays bounded: the GGUF header is computed from the shards' tensor
//! table, then one tensor at a time is read from the memory-mapped shard, quantized, written
//! and dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device};
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::runtime::CancelToken;

/// What the weight matrices become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// llama.cpp's Q4_K_M recipe: Q4_K, with Q6_K for the output and for attn_v / ffn_down in
    /// the layers that matter most.
    Q4KM,
    Q8_0,
    F16,
    /// Unquantized: the reference the others are compared with.
    F32,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "q4_k_m" => Ok(Self::Q4KM),
            "q8_0" => Ok(Self::Q8_0),
            "f16" => Ok(Self::F16),
            "f32" => Ok(Self::F32),
            other => Err(format!("unknown quantization {other:?}: q4_k_m, q8_0, f16 or f32")),
        }
    }
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Self::Q4KM => "Q4_K_M",
            Self::Q8_0 => "Q8_0",
            Self::F16 => "F16",
            Self::F32 => "F32",
        }
    }
    /// llama.cpp's `general.file_type`.
    fn file_type(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 7,
            Self::Q4KM => 15,
        }
    }
}

/// Told as tensors are written: (done, total, name).
pub type OnTensor<'a> = &'a mut dyn FnMut(usize, usize, &str);

#[derive(Debug, Clone)]
pub struct QuantizeReport {
    pub out: PathBuf,
    pub tensors: usize,
    pub bytes: u64,
    pub types: BTreeMap<String, usize>,
}

fn err(msg: impl Into<String>) -> EngineError {
    EngineError::Quantize(msg.into())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| err(format!("{} is not valid JSON: {e}", path.display())))
}

fn ggml_id(t: GgmlDType) -> u32 {
    match t {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

/// The GGUF name of a Hugging Face Qwen2 tensor; `None` for tensors the engine does not use.
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_owned());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, name) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let mapped = match name {
        "input_layernorm.weight" => "attn_norm.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.q_proj.bias" => "attn_q.bias",
        "self_attn.k_proj.bias" => "attn_k.bias",
        "self_attn.v_proj.bias" => "attn_v.bias",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        _ => return None,
    };
    Some(format!("blk.{layer}.{mapped}"))
}

/// llama.cpp's choice of layers that get more bits in Q4_K_M (the subtraction runs only past the
/// first eighth).
fn more_bits(layer: usize, n_layer: usize) -> bool {
    layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2
}

fn layer_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// The type a tensor is stored as. Vectors (norms, biases) stay F32; a matrix whose rows do
/// not divide into a type's blocks falls back to one whose blocks they fill.
fn choose(target: Target, name: &str, shape: &[usize], n_layer: usize) -> GgmlDType {
    if shape.len() < 2 {
        return GgmlDType::F32;
    }
    let row = *shape.last().unwrap_or(&0);
    let want = match target {
        Target::F32 => GgmlDType::F32,
        Target::F16 => GgmlDType::F16,
        Target::Q8_0 => GgmlDType::Q8_0,
        Target::Q4KM => {
            let sensitive = name == "output.weight"
                || ((name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) && layer_of(name).is_some_and(|l| more_bits(l, n_layer)));
            if sensitive {
                GgmlDType::Q6K
            } else {
                GgmlDType::Q4K
            }
        }
    };
    for t in [want, GgmlDType::Q8_0, GgmlDType::F16] {
        if row.is_multiple_of(t.block_size()) {
            return t;
        }
    }
    GgmlDType::F32
}

fn n_bytes(t: GgmlDType, elements: usize) -> u64 {
    (elements / t.block_size() * t.type_size()) as u64
}

// ---- GGUF writing -------------------------------------------------------------------------

const ALIGN: u64 = 32;

enum Meta {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    StrArray(Vec<String>),
    I32Array(Vec<i32>),
}

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn put_meta(w: &mut impl Write, key: &str, v: &Meta) -> std::io::Result<()> {
    put_str(w, key)?;
    match v {
        Meta::U32(x) => {
            w.write_all(&4u32.to_le_bytes())?;
            w.write_all(&x.to_le_bytes())
        }
        Meta::F32(x) => {
            w.write_all(&6u32.to_le_bytes())?;
            w.write_all(&x.to_le_bytes())
        }
        Meta::Bool(x) => {
            w.write_all(&7u32.to_le_bytes())?;
            w.write_all(&[u8::from(*x)])
        }
        Meta::Str(s) => {
            w.write_all(&8u32.to_le_bytes())?;
            put_str(w, s)
        }
        Meta::StrArray(a) => {
            w.write_all(&9u32.to_le_bytes())?;
            w.write_all(&8u32.to_le_bytes())?;
            w.write_all(&(a.len() as u64).to_le_bytes())?;
            a.iter().try_for_each(|s| put_str(w, s))
        }
        Meta::I32Array(a) => {
            w.write_all(&9u32.to_le_bytes())?;
            w.write_all(&5u32.to_le_bytes())?;
            w.write_all(&(a.len() as u64).to_le_bytes())?;
            a.iter().try_for_each(|x| w.write_all(&x.to_le_bytes()))
        }
    }
}

fn pad(w: &mut (impl Write + Seek)) -> std::io::Result<()> {
    let at = w.stream_position()?;
    let n = (ALIGN - at % ALIGN) % ALIGN;
    w.write_all(&vec![0u8; n as usize])
}

// ---- the tokenizer ------------------------------------------------------------------------

struct TokenizerMeta {
    tokens: Vec<String>,
    types: Vec<i32>,
    merges: Vec<String>,
    bos: Option<u32>,
    eos: Option<u32>,
    pad: Option<u32>,
}

/// tokenizer.json (byte-level BPE) as GGUF's `tokenizer.ggml.*`: every id below the
/// embedding's row count gets a token (unused ids a `[PAD{id}]` placeholder, as llama.cpp
/// writes them); added special tokens are control tokens, other added tokens user-defined.
fn tokenizer_meta(dir: &Path, n_vocab: usize, config: &Value) -> Result<TokenizerMeta> {
    let tj = read_json(&dir.join("tokenizer.json"))?;
    let model = &tj["model"];
    if model["type"].as_str() != Some("BPE") {
        return Err(err("tokenizer.json: only a byte-level BPE tokenizer (Qwen2's) can be converted"));
    }
    let mut tokens: Vec<Option<String>> = vec![None; n_vocab];
    let mut types = vec![1i32; n_vocab];
    let vocab = model["vocab"].as_object().ok_or_else(|| err("tokenizer.json: model.vocab missing"))?;
    for (tok, id) in vocab {
        let id = id.as_u64().ok_or_else(|| err("tokenizer.json: a vocab id is not a number"))? as usize;
        if id < n_vocab {
            tokens[id] = Some(tok.clone());
        }
    }
    for a in tj["added_tokens"].as_array().into_iter().flatten() {
        let (Some(id), Some(content)) = (a["id"].as_u64(), a["content"].as_str()) else { continue };
        if (id as usize) < n_vocab {
            tokens[id as usize] = Some(content.to_owned());
            types[id as usize] = if a["special"].as_bool().unwrap_or(false) { 3 } else { 4 };
        }
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.unwrap_or_else(|| {
                types[i] = 5; // unused
                format!("[PAD{i}]")
            })
        })
        .collect();
    let merges = model["merges"]
        .as_array()
        .ok_or_else(|| err("tokenizer.json: model.merges missing"))?
        .iter()
        .map(|m| match m {
            Value::String(s) => Ok(s.clone()),
            Value::Array(p) if p.len() == 2 => Ok(format!("{} {}", p[0].as_str().unwrap_or_default(), p[1].as_str().unwrap_or_default())),
            _ => Err(err("tokenizer.json: a merge is neither \"a b\" nor [a, b]")),
        })
        .collect::<Result<Vec<_>>>()?;
    let id_of = |v: &Value| -> Option<u32> {
        match v {
            Value::Number(n) => n.as_u64().map(|x| x as u32),
            Value::Array(a) => a.first().and_then(|x| x.as_u64()).map(|x| x as u32),
            _ => None,
        }
    };
    let token_id = |content: &str| tokens.iter().position(|t| t == content).map(|i| i as u32);
    let tc = read_json(&dir.join("tokenizer_config.json")).unwrap_or(Value::Null);
    let named = |key: &str| -> Option<u32> {
        let v = &tc[key];
        let s = v.as_str().or_else(|| v["content"].as_str())?;
        token_id(s)
    };
    Ok(TokenizerMeta {
        bos: id_of(&config["bos_token_id"]).or_else(|| named("bos_token")),
        eos: named("eos_token").or_else(|| id_of(&config["eos_token_id"])),
        pad: named("pad_token"),
        tokens,
        types,
        merges,
    })
}

// ---- the conversion -----------------------------------------------------------------------

fn shards(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let v = read_json(&index)?;
        let map = v["weight_map"].as_object().ok_or_else(|| err("model.safetensors.index.json: weight_map missing"))?;
        let mut files: Vec<String> = map.values().filter_map(|f| f.as_str().map(str::to_owned)).collect();
        files.sort();
        files.dedup();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    Err(err(format!("{}: no model.safetensors or model.safetensors.index.json", dir.display())))
}

fn cfg_u64(config: &Value, key: &str) -> Result<u64> {
    config[key].as_u64().ok_or_else(|| err(format!("config.json: {key} missing or not a number")))
}

/// Converts the checkpoint in `dir` to `out`, written to `out.partial` and renamed when whole.
/// `cancel` is checked before each tensor: a cancelled or failed run removes its partial file
/// and leaves no output, and this returns only once it has stopped writing.
pub fn quantize(dir: &Path, out: &Path, target: Target, on_tensor: OnTensor<'_>, cancel: &CancelToken) -> Result<QuantizeReport> {
    let config = read_json(&dir.join("config.json"))?;
    let arch = config["model_type"].as_str().unwrap_or_default();
    if arch != "qwen2" {
        return Err(err(format!("config.json: model_type {arch:?}: only Qwen2 checkpoints (Fin-R1's) are converted")));
    }
    let n_layer = cfg_u64(&config, "num_hidden_layers")? as usize;
    let hidden = cfg_u64(&config, "hidden_size")?;
    let n_head = cfg_u64(&config, "num_attention_heads")?;
    let n_head_kv = config["num_key_value_heads"].as_u64().unwrap_or(n_head);
    let files = shards(dir)?;
    // Read-only; the shards are not modified while mapped (see `map_safetensors`).
    let st = crate::kernels::sys::map_safetensors(&files).map_err(|e| err(format!("reading the safetensors shards: {e}")))?;

    // The tensor table first: names, shapes, types, sizes; nothing loaded yet.
    let mut table: Vec<(String, String, Vec<usize>, GgmlDType)> = Vec::new();
    for (hf, view) in st.tensors() {
        let Some(name) = gguf_name(&hf) else { continue };
        let shape = view.shape().to_vec();
        let t = choose(target, &name, &shape, n_layer);
        table.push((name, hf, shape, t));
    }
    let tied = !table.iter().any(|(n, ..)| n == "output.weight");
    table.sort_by(|a, b| a.0.cmp(&b.0));
    let n_vocab =
        table.iter().find(|(n, ..)| n == "token_embd.weight").map(|(_, _, s, _)| s[0]).ok_or_else(|| err("the checkpoint has no model.embed_tokens.weight"))?;
    let tok = tokenizer_meta(dir, n_vocab, &config)?;
    let template = read_json(&dir.join("tokenizer_config.json")).ok().and_then(|v| v["chat_template"].as_str().map(str::to_owned));

    let mut meta: Vec<(String, Meta)> = vec![
        ("general.architecture".into(), Meta::Str("qwen2".into())),
        ("general.name".into(), Meta::Str(dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "qwen2".into()))),
        ("general.file_type".into(), Meta::U32(target.file_type())),
        ("general.quantized_by".into(), Meta::Str("Fin-R1 Desktop (fin-r1 models quantize)".into())),
        ("qwen2.block_count".into(), Meta::U32(n_layer as u32)),
        ("qwen2.context_length".into(), Meta::U32(config["max_position_embeddings"].as_u64().unwrap_or(32768) as u32)),
        ("qwen2.embedding_length".into(), Meta::U32(hidden as u32)),
        ("qwen2.feed_forward_length".into(), Meta::U32(cfg_u64(&config, "intermediate_size")? as u32)),
        ("qwen2.attention.head_count".into(), Meta::U32(n_head as u32)),
        ("qwen2.attention.head_count_kv".into(), Meta::U32(n_head_kv as u32)),
        ("qwen2.attention.layer_norm_rms_epsilon".into(), Meta::F32(config["rms_norm_eps"].as_f64().unwrap_or(1e-6) as f32)),
        ("qwen2.rope.freq_base".into(), Meta::F32(config["rope_theta"].as_f64().unwrap_or(1e6) as f32)),
        ("tokenizer.ggml.model".into(), Meta::Str("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Meta::Str("qwen2".into())),
        ("tokenizer.ggml.tokens".into(), Meta::StrArray(tok.tokens)),
        ("tokenizer.ggml.token_type".into(), Meta::I32Array(tok.types)),
        ("tokenizer.ggml.merges".into(), Meta::StrArray(tok.merges)),
        ("tokenizer.ggml.add_bos_token".into(), Meta::Bool(false)),
    ];
    for (k, v) in [("bos", tok.bos), ("eos", tok.eos), ("padding", tok.pad)] {
        if let Some(id) = v {
            meta.push((format!("tokenizer.ggml.{k}_token_id"), Meta::U32(id)));
        }
    }
    if let Some(t) = template {
        meta.push(("tokenizer.chat_template".into(), Meta::Str(t)));
    }

    let partial = out.with_extension("gguf.partial");
    let written = write_gguf(&partial, &meta, &table, &st, on_tensor, cancel);
    let (bytes, mut types) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let total = table.len();
    std::fs::rename(&partial, out).map_err(|e| err(format!("cannot move {} into place: {e}", partial.display())))?;
    if tied {
        types.insert("(output tied to token_embd)".into(), 0);
    }
    Ok(QuantizeReport { out: out.to_owned(), tensors: total, bytes, types })
}

type Table = [(String, String, Vec<usize>, GgmlDType)];

/// Writes the header and every tensor to `partial`: (bytes written, tensors by type).
fn write_gguf(
    partial: &Path,
    meta: &[(String, Meta)],
    table: &Table,
    st: &MmapedSafetensors,
    on_tensor: OnTensor<'_>,
    cancel: &CancelToken,
) -> Result<(u64, BTreeMap<String, usize>)> {
    let file = File::create(partial).map_err(|e| err(format!("cannot write {}: {e}", partial.display())))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| err(format!("writing {}: {e}", partial.display()));
    w.write_all(b"GGUF").map_err(io)?;
    w.write_all(&3u32.to_le_bytes()).map_err(io)?;
    w.write_all(&(table.len() as u64).to_le_bytes()).map_err(io)?;
    w.write_all(&(meta.len() as u64).to_le_bytes()).map_err(io)?;
    for (k, v) in meta {
        put_meta(&mut w, k, v).map_err(io)?;
    }
    let mut offset = 0u64;
    for (name, _, shape, t) in table {
        put_str(&mut w, name).map_err(io)?;
        w.write_all(&(shape.len() as u32).to_le_bytes()).map_err(io)?;
        // GGML lists dimensions innermost first.
        for d in shape.iter().rev() {
            w.write_all(&(*d as u64).to_le_bytes()).map_err(io)?;
        }
        w.write_all(&ggml_id(*t).to_le_bytes()).map_err(io)?;
        w.write_all(&offset.to_le_bytes()).map_err(io)?;
        let n = n_bytes(*t, shape.iter().product());
        offset += n.div_ceil(ALIGN) * ALIGN;
    }
    pad(&mut w).map_err(io)?;

    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let total = table.len();
    for (i, (name, hf, shape, t)) in table.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        on_tensor(i, total, name);
        let tensor = st.load(hf, &Device::Cpu).and_then(|x| x.to_dtype(DType::F32)).map_err(|e| err(format!("reading {hf}: {e}")))?;
        let q = QTensor::quantize(&tensor, *t).map_err(|e| err(format!("quantizing {hf} to {t:?}: {e}")))?;
        let data = q.data().map_err(|e| err(format!("{name}: {e}")))?;
        if data.len() as u64 != n_bytes(*t, shape.iter().product()) {
            return Err(err(format!("{name}: {} bytes quantized, {} expected", data.len(), n_bytes(*t, shape.iter().product()))));
        }
        w.write_all(&data).map_err(io)?;
        pad(&mut w).map_err(io)?;
        *types.entry(format!("{t:?}")).or_default() += 1;
    }
    on_tensor(total, total, "");
    w.flush().map_err(io)?;
    let bytes = w.stream_position().map_err(io)?;
    w.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
    Ok((bytes, types))
}

//! The decoder: one implementation for the `qwen2` and `llama` GGUF layouts (they differ in
//! q/k/v biases and in how the rotary pairs are laid out). Owning it, rather than using
//! candle-transformers' models, lets the engine truncate the KV cache for prefix reuse and keep
//! the token embedding quantized.

use candle_core::{DType, Device, Tensor};

use crate::error::{EngineError, Result};
use crate::gguf::GgufFile;
use crate::hparams::{Architecture, HParams};
use crate::weights::{Embedding, Linear, WeightSource};

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    q_bias: Option<Tensor>,
    k_bias: Option<Tensor>,
    v_bias: Option<Tensor>,
    o: Linear,
}

struct Layer {
    attn_norm: Tensor,
    attn: Attention,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
    cache: KvCache,
}

/// Keys and values of the cached positions, in buffers that grow by doubling (so a token's
/// step writes its own row instead of copying the whole cache) and are cut back by a length.
#[derive(Default)]
struct KvCache {
    /// (1, n_kv_heads, capacity, head_dim) each.
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
}

impl KvCache {
    fn capacity(&self) -> usize {
        self.buffers.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Appends `k` and `v` (1, heads, seq, dim) and returns views of everything cached.
    fn append(&mut self, k: &Tensor, v: &Tensor, max: usize) -> Result<(Tensor, Tensor)> {
        let (b, h, seq, d) = k.dims4()?;
        let need = self.len + seq;
        if need > self.capacity() {
            let cap = need.max(self.capacity() * 2).max(256).min(max).max(need);
            let nk = Tensor::zeros((b, h, cap, d), k.dtype(), k.device())?;
            let nv = Tensor::zeros((b, h, cap, d), v.dtype(), v.device())?;
            if let Some((ok, ov)) = self.buffers.take() {
                if self.len > 0 {
                    nk.slice_set(&ok.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                    nv.slice_set(&ov.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                }
            }
            self.buffers = Some((nk, nv));
        }
        let (kb, vb) = self.buffers.as_ref().ok_or_else(|| EngineError::Compute("kv cache missing".into()))?;
        kb.slice_set(&k.contiguous()?, 2, self.len)?;
        vb.slice_set(&v.contiguous()?, 2, self.len)?;
        self.len = need;
        Ok((kb.narrow(2, 0, need)?, vb.narrow(2, 0, need)?))
    }
}

pub struct Model {
    pub hp: HParams,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
    max_positions: usize,
    cached: usize,
}

impl Model {
    /// Loads the weights of an already validated file. `max_positions` bounds the KV cache and
    /// the rotary tables (the context the engine will use, not necessarily the model's maximum).
    pub fn load(g: &GgufFile, hp: HParams, device: &Device, max_positions: usize) -> Result<Self> {
        let l = WeightSource::new(g, device)?;
        let embed = l.embedding("token_embd.weight")?;
        let output = if hp.tied_embeddings { l.tied_output("token_embd.weight")? } else { l.linear("output.weight")? };
        let norm = l.dense("output_norm.weight")?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            layers.push(Layer {
                attn_norm: l.dense(&n("attn_norm.weight"))?,
                attn: Attention {
                    q: l.linear(&n("attn_q.weight"))?,
                    k: l.linear(&n("attn_k.weight"))?,
                    v: l.linear(&n("attn_v.weight"))?,
                    q_bias: l.opt_dense(&n("attn_q.bias"))?,
                    k_bias: l.opt_dense(&n("attn_k.bias"))?,
                    v_bias: l.opt_dense(&n("attn_v.bias"))?,
                    o: l.linear(&n("attn_output.weight"))?,
                },
                ffn_norm: l.dense(&n("ffn_norm.weight"))?,
                gate: l.linear(&n("ffn_gate.weight"))?,
                up: l.linear(&n("ffn_up.weight"))?,
                down: l.linear(&n("ffn_down.weight"))?,
                cache: KvCache::default(),
            });
        }
        let (cos, sin) = rope_tables(&hp, max_positions, device)?;
        Ok(Self { hp, embed, layers, norm, output, cos, sin, device: device.clone(), max_positions, cached: 0 })
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Forgets cached positions from `len` on, keeping the prefix before it.
    pub fn truncate_cache(&mut self, len: usize) -> Result<()> {
        if len >= self.cached {
            return Ok(());
        }
        for layer in &mut self.layers {
            layer.cache.len = layer.cache.len.min(len);
            if len == 0 {
                layer.cache.buffers = None;
            }
        }
        self.cached = len;
        Ok(())
    }

    /// Copies of the keys and values of the first `len` cached positions, layer by layer
    /// ((1, n_kv_heads, len, head_dim) each): what a prefix cache keeps.
    pub fn snapshot(&self, len: usize) -> Result<Vec<(Tensor, Tensor)>> {
        if len == 0 || len > self.cached {
            return Err(EngineError::Compute(format!("cannot snapshot {len} of {} cached positions", self.cached)));
        }
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (k, v) = layer.cache.buffers.as_ref().ok_or_else(|| EngineError::Compute("kv cache missing".into()))?;
            out.push((k.narrow(2, 0, len)?.copy()?, v.narrow(2, 0, len)?.copy()?));
        }
        Ok(out)
    }

    /// Replaces the cache with a snapshot of `len` positions (from `snapshot`, possibly of an
    /// earlier process): its shapes must be this model's.
    pub fn restore(&mut self, layers: &[(Tensor, Tensor)], len: usize) -> Result<()> {
        let shape = (1, self.hp.n_head_kv, len, self.hp.head_dim);
        let fits = layers.len() == self.layers.len()
            && len > 0
            && len <= self.max_positions
            && layers.iter().all(|(k, v)| k.dims4().ok() == Some(shape) && v.dims4().ok() == Some(shape));
        if !fits {
            return Err(EngineError::Compute("a cached prefix does not fit this model".into()));
        }
        self.truncate_cache(0)?;
        let dtype = self.cos.dtype();
        for (layer, (k, v)) in self.layers.iter_mut().zip(layers) {
            let k = k.to_device(&self.device)?.to_dtype(dtype)?;
            let v = v.to_device(&self.device)?.to_dtype(dtype)?;
            if let Err(e) = layer.cache.append(&k, &v, self.max_positions) {
                self.cached = 0;
                for l in &mut self.layers {
                    l.cache = KvCache::default();
                }
                return Err(e);
            }
        }
        self.cached = len;
        Ok(())
    }

    /// Runs `tokens` at the positions after the cached ones and returns the logits of the last
    /// one, as a vector over the vocabulary.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let seq = tokens.len();
        let pos = self.cached;
        if seq == 0 {
            return Err(EngineError::InvalidRequest("no tokens to run".into()));
        }
        if pos + seq > self.max_positions {
            return Err(EngineError::PromptTooLong { prompt_tokens: pos + seq, context: self.max_positions });
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.hp.n_vocab) {
            return Err(EngineError::InvalidRequest(format!("token id {bad} is outside the vocabulary")));
        }
        let mut x = self.embed.lookup(tokens, &self.device)?.unsqueeze(0)?;
        let group = self.hp.n_head / self.hp.n_head_kv;
        let mask = if seq > 1 { Some(causal_mask(seq, pos, group, &self.device)?) } else { None };
        let cos = self.cos.narrow(0, pos, seq)?;
        let sin = self.sin.narrow(0, pos, seq)?;
        let hp = self.hp.clone();
        for layer in &mut self.layers {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, hp.rms_eps as f32)?;
            let a = layer.attention(&h, &hp, &cos, &sin, mask.as_ref(), self.max_positions)?;
            x = (x + a)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, hp.rms_eps as f32)?;
            let [gate, up]: [Tensor; 2] =
                Linear::forward_shared(&[&layer.gate, &layer.up], &h)?.try_into().map_err(|_| EngineError::Compute("gate/up projection".into()))?;
            x = (x + layer.down.forward(&crate::cpu_ops::silu_mul(&gate, &up)?)?)?;
        }
        self.cached = pos + seq;
        let last = x.narrow(1, seq - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, hp.rms_eps as f32)?;
        let logits = self.output.forward(&last)?;
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
    }
}

impl Layer {
    fn attention(&mut self, x: &Tensor, hp: &HParams, cos: &Tensor, sin: &Tensor, mask: Option<&Tensor>, max_positions: usize) -> Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let a = &self.attn;
        let [q, k, v]: [Tensor; 3] = Linear::forward_shared(&[&a.q, &a.k, &a.v], x)?.try_into().map_err(|_| EngineError::Compute("q/k/v projection".into()))?;
        let proj = |t: Tensor, bias: &Option<Tensor>, heads: usize| -> Result<Tensor> {
            let mut t = t;
            if let Some(bias) = bias {
                t = t.broadcast_add(bias)?;
            }
            Ok(t.reshape((b, seq, heads, hp.head_dim))?.transpose(1, 2)?.contiguous()?)
        };
        let q = proj(q, &a.q_bias, hp.n_head)?;
        let k = proj(k, &a.k_bias, hp.n_head_kv)?;
        let v = proj(v, &a.v_bias, hp.n_head_kv)?;
        // llama.cpp's converter permutes llama's q/k rows so that rotary pairs are adjacent;
        // qwen2 keeps the two halves apart (NeoX layout).
        let (q, k) = match hp.arch {
            Architecture::Llama => (candle_nn::rotary_emb::rope_i(&q, cos, sin)?, candle_nn::rotary_emb::rope_i(&k, cos, sin)?),
            Architecture::Qwen2 => (candle_nn::rotary_emb::rope(&q, cos, sin)?, candle_nn::rotary_emb::rope(&k, cos, sin)?),
        };
        let (k, v) = self.cache.append(&k, &v, max_positions)?;
        // Grouped-query attention without copying K/V per query head: the query heads that
        // share a key/value head are stacked as extra rows of one matrix product.
        let group = hp.n_head / hp.n_head_kv;
        let q = q.reshape((b, hp.n_head_kv, group * seq, hp.head_dim))?;
        let scale = 1.0 / (hp.head_dim as f64).sqrt();
        let mut att = (q.matmul(&k.t()?)? * scale)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(mask)?;
        }
        let att = crate::cpu_ops::softmax_last_dim(&att)?;
        let y = att.matmul(&v)?;
        let y = y.reshape((b, hp.n_head, seq, hp.head_dim))?.transpose(1, 2)?.reshape((b, seq, hp.n_head * hp.head_dim))?;
        a.o.forward(&y)
    }
}

/// Additive mask for `seq` new tokens after `pos` cached ones, its rows repeated for each of
/// the `group` query heads stacked per key/value head: row i sees columns 0..=pos+i.
fn causal_mask(seq: usize, pos: usize, group: usize, device: &Device) -> Result<Tensor> {
    let total = pos + seq;
    let mut m = vec![0f32; group * seq * total];
    for row in 0..group * seq {
        let i = row % seq;
        for j in (pos + i + 1)..total {
            m[row * total + j] = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::from_vec(m, (group * seq, total), device)?)
}

fn rope_tables(hp: &HParams, positions: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = hp.head_dim / 2;
    let inv: Vec<f32> = (0..half).map(|i| 1.0 / (hp.rope_base.powf(2.0 * i as f64 / hp.head_dim as f64)) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, half), device)?;
    let t = Tensor::arange(0u32, positions as u32, device)?.to_dtype(DType::F32)?.reshape((positions, 1))?;
    let freqs = t.matmul(&inv)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Used by tests and the loader's sanity check: last-dimension argmax of logits.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

//! The model's shape, read from GGUF metadata and checked against its tensors before any
//! weight is loaded, so that a file that parses but lies is refused with its problem named.

use crate::error::{EngineError, Result};
use crate::gguf::GgufFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Qwen2,
    Llama,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qwen2 => "qwen2",
            Self::Llama => "llama",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HParams {
    pub arch: Architecture,
    pub n_layer: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub context_length: usize,
    pub rms_eps: f64,
    pub rope_base: f64,
    pub n_vocab: usize,
    pub tied_embeddings: bool,
}

impl HParams {
    pub fn from_gguf(g: &GgufFile) -> Result<Self> {
        let arch_name = g.str("general.architecture").ok_or_else(|| EngineError::MissingMetadata("general.architecture".into()))?;
        let arch = match arch_name {
            "qwen2" => Architecture::Qwen2,
            "llama" => Architecture::Llama,
            other => return Err(EngineError::UnsupportedArchitecture(other.to_owned())),
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let bounded = |k: &str, lo: u64, hi: u64| -> Result<usize> {
            let v = g.require_u64(&key(k))?;
            if v < lo || v > hi {
                return Err(EngineError::InvalidMetadata { key: key(k), problem: format!("{v} is outside {lo}..={hi}") });
            }
            Ok(v as usize)
        };
        let n_layer = bounded("block_count", 1, 1024)?;
        let hidden = bounded("embedding_length", 1, 1 << 16)?;
        let ffn = bounded("feed_forward_length", 1, 1 << 18)?;
        let n_head = bounded("attention.head_count", 1, 1024)?;
        let n_head_kv = match g.opt_u64(&key("attention.head_count_kv"))? {
            None => n_head,
            Some(_) => bounded("attention.head_count_kv", 1, n_head as u64)?,
        };
        if n_head % n_head_kv != 0 {
            return Err(EngineError::InvalidMetadata {
                key: key("attention.head_count_kv"),
                problem: format!("{n_head} query heads cannot be grouped over {n_head_kv} key/value heads"),
            });
        }
        let head_dim = match g.opt_u64(&key("attention.key_length"))? {
            Some(_) => bounded("attention.key_length", 2, 1024)?,
            None => {
                if hidden % n_head != 0 {
                    return Err(EngineError::InvalidMetadata {
                        key: key("attention.head_count"),
                        problem: format!("hidden size {hidden} is not divisible by {n_head} heads"),
                    });
                }
                hidden / n_head
            }
        };
        if head_dim % 2 != 0 {
            return Err(EngineError::InvalidMetadata {
                key: key("attention.head_count"),
                problem: format!("head dimension {head_dim} is odd; rotary embeddings need it even"),
            });
        }
        if let Some(rope_dims) = g.opt_u64(&key("rope.dimension_count"))? {
            if rope_dims as usize != head_dim {
                return Err(EngineError::InvalidMetadata {
                    key: key("rope.dimension_count"),
                    problem: format!("partial rotary embeddings ({rope_dims} of {head_dim}) are not supported"),
                });
            }
        }
        let context_length = bounded("context_length", 1, 1 << 24)?;
        let rms_eps = g.opt_f64(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6);
        if !(rms_eps > 0.0 && rms_eps < 1.0) {
            return Err(EngineError::InvalidMetadata { key: key("attention.layer_norm_rms_epsilon"), problem: format!("{rms_eps} is not in (0, 1)") });
        }
        let rope_base = g.opt_f64(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        if !(rope_base.is_finite() && rope_base > 1.0) {
            return Err(EngineError::InvalidMetadata { key: key("rope.freq_base"), problem: format!("{rope_base} is not a usable rotary base") });
        }
        let embd = g.tensor("token_embd.weight").ok_or_else(|| EngineError::MissingTensor("token_embd.weight".into()))?;
        if embd.dims.len() != 2 || embd.dims[0] != hidden as u64 {
            return Err(EngineError::TensorShape { name: embd.name.clone(), found: embd.dims.clone(), expected: vec![hidden as u64, 0] });
        }
        let n_vocab = embd.dims[1] as usize;
        let tied_embeddings = g.tensor("output.weight").is_none();
        let hp = Self { arch, n_layer, hidden, ffn, n_head, n_head_kv, head_dim, context_length, rms_eps, rope_base, n_vocab, tied_embeddings };
        hp.check_tensors(g)?;
        Ok(hp)
    }

    /// Every tensor the forward pass uses, with the shape it must have (GGML order).
    pub fn expected_tensors(&self) -> Vec<(String, Vec<u64>, bool)> {
        let (h, f, v) = (self.hidden as u64, self.ffn as u64, self.n_vocab as u64);
        let q = (self.n_head * self.head_dim) as u64;
        let kv = (self.n_head_kv * self.head_dim) as u64;
        let bias_required = self.arch == Architecture::Qwen2;
        let mut out = vec![
            ("token_embd.weight".to_owned(), vec![h, v], true),
            ("output_norm.weight".to_owned(), vec![h], true),
            ("output.weight".to_owned(), vec![h, v], false),
        ];
        for i in 0..self.n_layer {
            let b = |n: &str| format!("blk.{i}.{n}");
            out.extend([
                (b("attn_norm.weight"), vec![h], true),
                (b("attn_q.weight"), vec![h, q], true),
                (b("attn_k.weight"), vec![h, kv], true),
                (b("attn_v.weight"), vec![h, kv], true),
                (b("attn_q.bias"), vec![q], bias_required),
                (b("attn_k.bias"), vec![kv], bias_required),
                (b("attn_v.bias"), vec![kv], bias_required),
                (b("attn_output.weight"), vec![q, h], true),
                (b("ffn_norm.weight"), vec![h], true),
                (b("ffn_gate.weight"), vec![h, f], true),
                (b("ffn_up.weight"), vec![h, f], true),
                (b("ffn_down.weight"), vec![f, h], true),
            ]);
        }
        out
    }

    fn check_tensors(&self, g: &GgufFile) -> Result<()> {
        for (name, shape, required) in self.expected_tensors() {
            match g.tensor(&name) {
                None if required => return Err(EngineError::MissingTensor(name)),
                None => {}
                Some(t) if t.dims != shape => return Err(EngineError::TensorShape { name, found: t.dims.clone(), expected: shape }),
                Some(_) => {}
            }
        }
        Ok(())
    }

    pub fn n_params(g: &GgufFile) -> u64 {
        g.tensors.iter().map(|t| t.n_elements()).sum()
    }
}

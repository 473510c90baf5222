//! The tokenizer, built from the GGUF's own `tokenizer.ggml.*` metadata (or a `tokenizer.json`
//! beside the model) with the `tokenizers` crate, set up the way llama.cpp tokenizes the same
//! file: byte-level BPE, the pre-tokenizer regexes llama.cpp uses for each `tokenizer.ggml.pre`,
//! no normalizer, control tokens special and user-defined tokens (such as DeepSeek-R1's
//! `<think>`) ordinary text on decode.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::gguf::{GgufFile, MetaValue};

const QWEN2_REGEX: &str =
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_REGEX: &str =
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT2_REGEX: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Texts of tokens that end a turn in the chat formats the engine meets.
const END_OF_TURN: &[&str] = &["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|end|>", "<end_of_turn>"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Normal,
    /// Markup of the chat format (`<|im_start|>`): never shown as text.
    Control,
    /// Added text tokens (`<think>`): shown as their text.
    UserDefined,
}

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// What each id contributes to the output bytes (nothing for control tokens).
    token_bytes: Vec<Vec<u8>>,
    kinds: Vec<TokenKind>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub end_tokens: Vec<u32>,
    pub pre: String,
    pub source: &'static str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenizerSummary {
    pub source: &'static str,
    pub model: String,
    pub pre: String,
    pub vocab_size: usize,
    pub merges: usize,
    pub control_tokens: usize,
    pub user_defined_tokens: usize,
    pub bos: Option<String>,
    pub eos: Option<String>,
    /// A `tokenizer.json` in the model's folder that is not the one in use (it is only used
    /// when asked for by name).
    pub unused_beside: Option<String>,
}

/// The `tokenizer.json` in the model file's folder, if there is one.
pub fn beside(g: &GgufFile) -> Option<std::path::PathBuf> {
    g.path.parent().map(|p| p.join("tokenizer.json")).filter(|p| p.is_file())
}

fn meta_err(key: &str, problem: impl Into<String>) -> EngineError {
    EngineError::InvalidMetadata { key: key.into(), problem: problem.into() }
}

fn string_array<'a>(g: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let arr = g.get(key).ok_or_else(|| EngineError::MissingMetadata(key.into()))?.as_array().ok_or_else(|| meta_err(key, "expected an array of strings"))?;
    arr.iter().map(|v| v.as_str().ok_or_else(|| meta_err(key, "expected an array of strings"))).collect()
}

/// GPT-2's reversible map from bytes to printable characters, inverted.
fn char_to_byte() -> HashMap<char, u8> {
    let mut printable: Vec<u8> = (b'!'..=b'~').chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars: Vec<char> = printable.iter().map(|&b| b as char).collect();
    let mut n = 0u32;
    for b in 0..=255u8 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(char::from_u32(256 + n).unwrap_or('\u{FFFD}'));
            n += 1;
        }
    }
    chars.into_iter().zip(printable).collect()
}

fn byte_level_decode(token: &str, map: &HashMap<char, u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(token.len());
    for c in token.chars() {
        match map.get(&c) {
            Some(&b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

fn pre_regex(pre: &str) -> Result<&'static str> {
    Ok(match pre {
        "qwen2" | "deepseek-r1-qwen" | "qwen35" => QWEN2_REGEX,
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" => LLAMA3_REGEX,
        "gpt2" | "gpt-2" | "default" | "olmo" | "phi-2" | "smollm" | "starcoder" | "refact" | "codeshell" | "minerva" | "exaone" | "command-r" => GPT2_REGEX,
        other => return Err(EngineError::Tokenizer(format!("pre-tokenizer {other:?} is not supported; give the model's tokenizer.json with --tokenizer"))),
    })
}

/// llama.cpp splits digits off before the GPT-2 regex for these.
fn splits_digits(pre: &str) -> bool {
    matches!(pre, "smollm" | "starcoder" | "refact" | "codeshell" | "minerva" | "exaone" | "command-r")
}

fn optional_id(g: &GgufFile, key: &str, vocab: usize) -> Result<Option<u32>> {
    match g.opt_u64(key)? {
        None => Ok(None),
        Some(id) if (id as usize) < vocab => Ok(Some(id as u32)),
        Some(id) => Err(meta_err(key, format!("token id {id} is outside the {vocab}-token vocabulary"))),
    }
}

impl Tokenizer {
    /// Builds the tokenizer for a model file: from the GGUF's own metadata, or from the
    /// `tokenizer.json` the user names. A `tokenizer.json` that merely lies in the same folder
    /// is never picked up by itself: a stray file (another model's) would silently change
    /// every prompt's tokens. `n_vocab` is the embedding's row count.
    pub fn for_model(g: &GgufFile, n_vocab: usize, tokenizer_json: Option<&Path>) -> Result<Self> {
        match tokenizer_json {
            Some(p) => Self::from_tokenizer_json(p, g, n_vocab),
            None => Self::from_gguf(g, n_vocab).map_err(|e| match (e, beside(g)) {
                (EngineError::Tokenizer(m), Some(json)) => {
                    EngineError::Tokenizer(format!("{m}; {} lies beside the model: pass it with --tokenizer to use it", json.display()))
                }
                (e, _) => e,
            }),
        }
    }

    pub fn from_gguf(g: &GgufFile, n_vocab: usize) -> Result<Self> {
        let model = g.str("tokenizer.ggml.model").ok_or_else(|| EngineError::MissingMetadata("tokenizer.ggml.model".into()))?;
        if model != "gpt2" {
            return Err(EngineError::Tokenizer(format!(
                "tokenizer model {model:?} is not supported (byte-level BPE \"gpt2\" is); give the model's tokenizer.json with --tokenizer"
            )));
        }
        let tokens = string_array(g, "tokenizer.ggml.tokens")?;
        if tokens.is_empty() || tokens.len() > n_vocab {
            return Err(meta_err("tokenizer.ggml.tokens", format!("{} tokens for an embedding of {n_vocab} rows", tokens.len())));
        }
        let merges = string_array(g, "tokenizer.ggml.merges")?;
        let types: Vec<i64> = match g.get("tokenizer.ggml.token_type") {
            None => vec![1; tokens.len()],
            Some(v) => v
                .as_array()
                .ok_or_else(|| meta_err("tokenizer.ggml.token_type", "expected an array of integers"))?
                .iter()
                .map(|t| t.as_i64().ok_or_else(|| meta_err("tokenizer.ggml.token_type", "expected integers")))
                .collect::<Result<_>>()?,
        };
        if types.len() != tokens.len() {
            return Err(meta_err("tokenizer.ggml.token_type", format!("{} types for {} tokens", types.len(), tokens.len())));
        }
        let pre = g.str("tokenizer.ggml.pre").unwrap_or("default").to_owned();
        let regex = pre_regex(&pre)?;

        let mut vocab = serde_json::Map::with_capacity(tokens.len());
        let mut added = Vec::new();
        let mut kinds = Vec::with_capacity(tokens.len());
        for (id, (&text, &ty)) in tokens.iter().zip(&types).enumerate() {
            vocab.insert(text.to_owned(), json!(id));
            let kind = match ty {
                3 => TokenKind::Control,
                4 => TokenKind::UserDefined,
                _ => TokenKind::Normal,
            };
            if kind != TokenKind::Normal {
                added.push(json!({
                    "id": id, "content": text, "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": kind == TokenKind::Control,
                }));
            }
            kinds.push(kind);
        }
        for m in &merges {
            if m.split(' ').count() != 2 {
                return Err(meta_err("tokenizer.ggml.merges", format!("merge {m:?} is not two tokens separated by a space")));
            }
        }
        let mut pretok = Vec::new();
        if splits_digits(&pre) {
            pretok.push(json!({"type": "Split", "pattern": {"Regex": r"\p{N}"}, "behavior": "Isolated", "invert": false}));
        }
        pretok.push(json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false}));
        pretok.push(json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}));
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": pretok},
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
            "model": {
                "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                "ignore_merges": false, "vocab": Value::Object(vocab), "merges": merges,
            },
        });
        let inner: tokenizers::Tokenizer =
            serde_json::from_value(spec).map_err(|e| EngineError::Tokenizer(format!("building the tokenizer from GGUF metadata: {e}")))?;
        let map = char_to_byte();
        let token_bytes = tokens
            .iter()
            .zip(&kinds)
            .map(|(t, k)| match k {
                TokenKind::Control => Vec::new(),
                TokenKind::UserDefined => t.as_bytes().to_vec(),
                TokenKind::Normal => byte_level_decode(t, &map),
            })
            .collect();
        Self::finish(inner, token_bytes, kinds, g, pre, "gguf")
    }

    pub fn from_tokenizer_json(path: &Path, g: &GgufFile, n_vocab: usize) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| EngineError::Tokenizer(format!("{}: {e}", path.display())))?;
        let is_byte_level = matches!(inner.get_decoder(), Some(tokenizers::DecoderWrapper::ByteLevel(_)));
        if !is_byte_level {
            return Err(EngineError::Tokenizer(format!("{}: only byte-level BPE tokenizers are supported", path.display())));
        }
        let size = inner.get_vocab_size(true);
        if size > n_vocab {
            return Err(EngineError::Tokenizer(format!("{} has {size} tokens, the model's embedding only {n_vocab}", path.display())));
        }
        let added = inner.get_added_tokens_decoder();
        let map = char_to_byte();
        let mut token_bytes = Vec::with_capacity(size);
        let mut kinds = Vec::with_capacity(size);
        for id in 0..size as u32 {
            match (added.get(&id), inner.id_to_token(id)) {
                (Some(t), _) if t.special => {
                    token_bytes.push(Vec::new());
                    kinds.push(TokenKind::Control);
                }
                (Some(t), _) => {
                    token_bytes.push(t.content.as_bytes().to_vec());
                    kinds.push(TokenKind::UserDefined);
                }
                (None, Some(t)) => {
                    token_bytes.push(byte_level_decode(&t, &map));
                    kinds.push(TokenKind::Normal);
                }
                (None, None) => {
                    token_bytes.push(Vec::new());
                    kinds.push(TokenKind::Control);
                }
            }
        }
        let pre = g.str("tokenizer.ggml.pre").unwrap_or("tokenizer.json").to_owned();
        Self::finish(inner, token_bytes, kinds, g, pre, "tokenizer.json")
    }

    fn finish(inner: tokenizers::Tokenizer, token_bytes: Vec<Vec<u8>>, kinds: Vec<TokenKind>, g: &GgufFile, pre: String, source: &'static str) -> Result<Self> {
        let n = token_bytes.len();
        let bos = optional_id(g, "tokenizer.ggml.bos_token_id", n)?;
        let eos = optional_id(g, "tokenizer.ggml.eos_token_id", n)?;
        let eot = optional_id(g, "tokenizer.ggml.eot_token_id", n)?;
        let mut end_tokens: Vec<u32> = eos.into_iter().chain(eot).collect();
        for text in END_OF_TURN {
            if let Some(id) = inner.token_to_id(text) {
                if (id as usize) < n && !end_tokens.contains(&id) {
                    end_tokens.push(id);
                }
            }
        }
        if end_tokens.is_empty() {
            return Err(EngineError::Tokenizer("the model names no end-of-sequence token".into()));
        }
        Ok(Self { inner, token_bytes, kinds, bos, eos, end_tokens, pre, source })
    }

    /// Tokenizes text the way llama.cpp does with `parse_special = true`: chat markup written
    /// in the text becomes its control token.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode_fast(text, false).map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The bytes `ids` stand for, control tokens left out.
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            if let Some(b) = self.token_bytes.get(id as usize) {
                out.extend_from_slice(b);
            }
        }
        out
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }

    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }

    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }

    pub fn is_end(&self, id: u32) -> bool {
        self.end_tokens.contains(&id)
    }

    /// The literal text of a token as stored in the vocabulary (for templates' `bos_token`).
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The tokenizer as Hugging Face `tokenizer.json` text (to ship beside a converted model).
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(|e| EngineError::Tokenizer(e.to_string()))
    }

    pub fn summary(&self, g: &GgufFile) -> TokenizerSummary {
        let merges = g.get("tokenizer.ggml.merges").and_then(MetaValue::as_array).map_or(0, |a| a.len());
        TokenizerSummary {
            source: self.source,
            model: g.str("tokenizer.ggml.model").unwrap_or("?").to_owned(),
            pre: self.pre.clone(),
            vocab_size: self.vocab_size(),
            merges,
            control_tokens: self.kinds.iter().filter(|k| **k == TokenKind::Control).count(),
            user_defined_tokens: self.kinds.iter().filter(|k| **k == TokenKind::UserDefined).count(),
            bos: self.bos.and_then(|id| self.token_text(id)),
            eos: self.eos.and_then(|id| self.token_text(id)),
            unused_beside: if self.source == "gguf" { beside(g).map(|p| p.display().to_string()) } else { None },
        }
    }
}

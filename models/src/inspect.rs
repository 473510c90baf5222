//! What `fin-r1 inspect` reports about a model file, and the file's SHA-256 (the provenance
//! every report carries).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::hparams::HParams;
use crate::model_file::open_model;
/// The file's SHA-256 (model_file's; here, where reports have always found it).
pub use crate::model_file::sha256_file;
use crate::tokenizer::TokenizerSummary;

#[derive(Debug, Clone, Serialize)]
pub struct TypeCount {
    pub tensors: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub path: String,
    pub file_size: u64,
    pub gguf_version: u32,
    pub name: Option<String>,
    pub architecture: String,
    pub n_params: u64,
    pub quantization: BTreeMap<String, TypeCount>,
    pub context_length: usize,
    pub hparams: HParams,
    pub tokenizer: TokenizerSummary,
    pub chat_template: bool,
    /// `general.file_type`, where the file declares it.
    pub file_type: Option<u32>,
    pub sha256: Option<String>,
}

impl ModelReport {
    /// The quantization as people name it: the file's declared type (`general.file_type`, as
    /// llama.cpp and `fin-r1 models quantize` write it, e.g. Q4_K_M), else the tensor type
    /// holding most of the weights' bytes.
    pub fn main_type(&self) -> String {
        if let Some(name) = self.file_type.and_then(file_type_name) {
            return name.to_owned();
        }
        self.quantization.iter().max_by_key(|(_, c)| c.bytes).map(|(t, _)| t.clone()).unwrap_or_default()
    }
}

/// llama.cpp's `llama_ftype` numbers.
pub fn file_type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

/// Validates the file as the loader would (metadata, tensor table, tokenizer) without reading
/// the weights; `hash` adds the SHA-256 of the whole file. `tokenizer`: a `tokenizer.json` to
/// use instead of the file's own, as `LoadOptions::tokenizer`.
pub fn inspect(path: &Path, hash: bool, tokenizer: Option<&Path>) -> Result<ModelReport> {
    let (g, hp, tok) = open_model(path, tokenizer)?;
    let mut quantization: BTreeMap<String, TypeCount> = BTreeMap::new();
    for t in &g.tensors {
        let e = quantization.entry(t.ttype.name().to_owned()).or_insert(TypeCount { tensors: 0, bytes: 0 });
        e.tensors += 1;
        e.bytes += t.n_bytes;
    }
    Ok(ModelReport {
        path: path.display().to_string(),
        file_size: g.file_size,
        gguf_version: g.version,
        name: g.str("general.name").map(str::to_owned),
        architecture: hp.arch.as_str().to_owned(),
        n_params: HParams::n_params(&g),
        quantization,
        context_length: hp.context_length,
        tokenizer: tok.summary(&g),
        chat_template: g.str("tokenizer.chat_template").is_some(),
        file_type: g.get("general.file_type").and_then(|v| v.as_i64()).map(|v| v as u32),
        hparams: hp,
        sha256: if hash { Some(sha256_file(path)?) } else { None },
    })
}

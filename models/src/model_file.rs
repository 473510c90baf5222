//! A model file below the runtime: opened as far as the loader checks it without reading the
//! weights (header, shapes, tokenizer), and hashed. `runtime` loads through it, `inspect` reports
//! from it, `prefix_cache` keys its files by the hash; it uses none of them.

use std::path::Path;

use crate::error::{EngineError, Result};
use crate::gguf::GgufFile;
use crate::hparams::HParams;
use crate::tokenizer::Tokenizer;

/// Reads and validates everything but the weights: the cheap part of loading, and all that
/// `inspect` needs.
pub fn open_model(path: &Path, tokenizer: Option<&Path>) -> Result<(GgufFile, HParams, Tokenizer)> {
    let g = GgufFile::open(path)?;
    let hp = HParams::from_gguf(&g)?;
    let tok = Tokenizer::for_model(&g, hp.n_vocab, tokenizer)?;
    Ok((g, hp, tok))
}

/// The SHA-256 of the whole file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    crate::digest::sha256_file(path).map_err(|source| EngineError::Io { path: path.to_owned(), source })
}

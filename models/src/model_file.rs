//! A model file below the runtime: opened as far as the loader checks it without reading the
//! weights (header, shapes, tokenizer), and hashed. `runtime` loads through it, `inspect` reports
//! from it, `prefix_cache` keys its files by the hash; it uses none of them.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

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
    let io = |source| EngineError::Io { path: path.to_owned(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

//! Adding a GGUF to the model library: checked first as the loader would check it (header,
//! tensor table, shapes, tokenizer), hashed (once per file version), then recorded; a file that fails leaves the library
//! as it was.

use std::path::Path;

use fin_r1_engine::ErrorKind;

use crate::store::{now_ms, LibraryModel, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String, kind: ErrorKind },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { kind, .. } => *kind,
            Self::Store(e) => e.kind(),
        }
    }
}

/// Checks `path` and adds it to the library (`source`: import, download or quantize).
pub async fn add(store: &Store, path: &Path, source: &str, repo: Option<&str>) -> Result<LibraryModel, ImportError> {
    // Absolute, but links kept: a file in the Hugging Face cache keeps its name (its snapshot
    // link), not the blob's hash.
    let path = std::path::absolute(path).and_then(|p| std::fs::metadata(&p).map(|_| p)).map_err(|e| ImportError::Invalid {
        path: path.display().to_string(),
        reason: e.to_string(),
        kind: ErrorKind::NotFound,
    })?;
    let owned = path.clone();
    let report = tokio::task::spawn_blocking(move || fin_r1_engine::inspect::inspect(&owned, false, None))
        .await
        .map_err(|e| ImportError::Invalid { path: path.display().to_string(), reason: e.to_string(), kind: ErrorKind::Io })?
        .map_err(|e| ImportError::Invalid { path: path.display().to_string(), reason: e.to_string(), kind: e.kind() })?;
    // Hashed once per file version and remembered: answers' provenance reuses it.
    let sha256 = store.model_sha256(&path).await?;
    let m = LibraryModel {
        path: path.display().to_string(),
        file_name: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        size: report.file_size as i64,
        sha256: Some(sha256),
        name: report.name.clone(),
        architecture: report.architecture.clone(),
        quantization: report.main_type(),
        n_params: report.n_params as i64,
        context: report.context_length as i64,
        source: source.to_owned(),
        repo: repo.map(str::to_owned),
        added_at: now_ms(),
    };
    store.add_model(&m).await?;
    Ok(m)
}

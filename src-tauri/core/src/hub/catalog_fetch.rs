//! Fetching a catalog model: a GGUF repository's file for the entry's quantization, or the
//! official safetensors checkpoint (to be quantized here). Shared by the CLI and the app.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{download, list_files, pick_gguf, DownloadError, DownloadRequest, Progress};
use crate::catalog::Entry;

/// The files of a checkpoint the quantizer reads.
fn checkpoint_file(f: &str) -> bool {
    f.ends_with(".safetensors")
        || ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json", "generation_config.json"].contains(&f)
}

/// The request for a GGUF entry's file, picked from the repository's listing by quantization
/// (no file names are guessed); `None` for a safetensors entry.
pub async fn gguf_request(entry: &Entry, base: &DownloadRequest) -> Result<Option<DownloadRequest>, DownloadError> {
    let Some(quantization) = entry.quantization.clone().filter(|_| entry.kind == "gguf") else {
        return Ok(None);
    };
    let mut req = DownloadRequest { repo: entry.repo.clone(), ..base.clone() };
    let files = list_files(&req).await?;
    req.file = pick_gguf(&entry.repo, &files, &quantization)?;
    Ok(Some(req))
}

/// Downloads every file of a safetensors checkpoint (resumable, hash-checked); returns its
/// folder in the cache. `progress` is told of each file in turn.
pub async fn fetch_checkpoint(repo: &str, base: &DownloadRequest, progress: Arc<dyn Progress>) -> Result<PathBuf, DownloadError> {
    let req = DownloadRequest { repo: repo.to_owned(), ..base.clone() };
    let files: Vec<String> = list_files(&req).await?.into_iter().filter(|f| checkpoint_file(f)).collect();
    if !files.iter().any(|f| f.ends_with(".safetensors")) {
        return Err(DownloadError::NoMatch { repo: repo.to_owned(), quantization: "safetensors".into(), files: files.join(", ") });
    }
    let mut dir = None;
    for f in &files {
        let d = download(&DownloadRequest { file: f.clone(), ..req.clone() }, progress.clone()).await?;
        dir = d.path.parent().map(Path::to_path_buf);
    }
    dir.ok_or_else(|| DownloadError::NoMatch { repo: repo.to_owned(), quantization: "safetensors".into(), files: String::new() })
}

/// Where a checkpoint quantized here is written.
pub fn quantized_path(models_dir: &Path, repo: &str, target: fin_r1_engine::quantize::Target) -> PathBuf {
    let name = repo.rsplit('/').next().unwrap_or("model");
    models_dir.join(format!("{name}-{}.gguf", target.name()))
}

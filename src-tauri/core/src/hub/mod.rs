//! Getting models from a Hugging Face hub (or a mirror, `HF_ENDPOINT`): hf-hub's downloader into
//! the standard Hugging Face cache, so files other tools fetched are found and not fetched again;
//! resumable in 8 MiB chunks (an interrupted download, or an app restart, picks up after the
//! last whole chunk); free space checked first; the SHA-256 checked against the hub's ETag.

mod catalog_fetch;
mod download;
mod search;

pub use catalog_fetch::{fetch_checkpoint, gguf_request, quantized_path};
pub use download::{download, list_files, pick_gguf, DownloadError, DownloadRequest, Downloaded, Progress};
pub use search::{gguf_files, search, HubFile, HubRepo};

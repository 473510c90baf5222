//! One conversation written as a report file, the same way from the CLI and the app.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{to_html, to_json, to_markdown, to_pdf, JsonError, PdfError, Report, ReportOptions};
use fin_r1_core::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Md,
    Html,
    Pdf,
    /// Word (.docx): the memo an analyst hands in.
    Docx,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Json => "json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "md" | "markdown" => Ok(Self::Md),
            "html" => Ok(Self::Html),
            "pdf" => Ok(Self::Pdf),
            "docx" | "word" => Ok(Self::Docx),
            "json" => Ok(Self::Json),
            other => Err(format!("format {other:?}: md, html, pdf, docx or json")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("the PDF typesetter stopped: {0}")]
    Task(String),
    #[error(transparent)]
    Docx(#[from] crate::DocxError),
}

impl ExportError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        use fin_r1_engine::ErrorKind;
        match self {
            Self::Store(e) | Self::Json(JsonError::Store(e)) => e.kind(),
            Self::Json(_) => ErrorKind::InvalidRequest,
            Self::Pdf(_) | Self::Task(_) | Self::Docx(_) => ErrorKind::Other,
            Self::Write { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// The report's bytes. JSON holds every branch (it is the conversation itself, for import);
/// the others follow `opts`.
pub async fn render(store: &Store, id: i64, scenario_dir: Option<&Path>, format: Format, opts: &ReportOptions) -> Result<Vec<u8>, ExportError> {
    if format == Format::Json {
        return Ok(to_json(store, id).await?.into_bytes());
    }
    let r = Report::build(store, id, scenario_dir, opts).await?;
    Ok(match format {
        Format::Html => to_html(&r).into_bytes(),
        Format::Docx => crate::to_docx(&r)?,
        // Typesetting takes a moment: off the async threads.
        Format::Pdf => tokio::task::spawn_blocking(move || to_pdf(&r)).await.map_err(|e| ExportError::Task(e.to_string()))??,
        _ => to_markdown(&r).into_bytes(),
    })
}

/// Written beside, then moved: a full disk or a crash leaves no half report under the real name.
pub fn write_atomic(out: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let partial = out.with_extension("partial");
    let err = |path: &Path, source| ExportError::Write { path: path.display().to_string(), source };
    if let Err(e) = std::fs::write(&partial, bytes) {
        let _ = std::fs::remove_file(&partial);
        return Err(err(&partial, e));
    }
    std::fs::rename(&partial, out).map_err(|e| err(out, e))
}

//! Documents an analyst attaches (issue 18): a file read into what the model will see — text
//! with its structure and tables as Markdown tables, numbers as the file prints them. One
//! module per format, each through a library made for it; PDFs laid out from where their text
//! stands. Every reader holds what it keeps to `limits`, whatever the file declares; the app
//! runs them in a child process (`child`) so that one that still fails takes nothing with it.

#![forbid(unsafe_code)]

pub mod child;
pub mod chunks;
mod csv_file;
mod docx_file;
mod inflate;
pub mod limits;
mod numfmt;
mod pdf_file;
mod pdf_layout;
mod sheet;
mod table;

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use limits::{Budget, MAX_FILE_BYTES};
pub use pdf_file::page_list;
pub use table::markdown_table;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}: this kind of file is not read (PDF, CSV, Excel .xlsx/.xls/.xlsm, OpenDocument .ods and Word .docx are)")]
    Unsupported(String),
    #[error("{path}: {size} MB; files up to {max} MB are read")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{0}: the file is password-protected; save an unprotected copy to attach it")]
    Encrypted(String),
    #[error("{0}: reading was cancelled")]
    Cancelled(String),
    #[error("{path}: not a readable {kind} file: {reason}")]
    Unreadable { path: String, kind: &'static str, reason: String },
    #[error("{path}: it unpacks to more than {max} MB; files that unpack to at most {max} MB are read")]
    Inflates { path: String, max: u64 },
    /// The reader child stopped without an answer, or said why it could not read the file.
    #[error("{0}")]
    Reader(String),
}

impl DocumentError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::Io { .. } => fin_r1_engine::ErrorKind::Io,
            Self::Cancelled(_) => fin_r1_engine::ErrorKind::Cancelled,
            _ => fin_r1_engine::ErrorKind::Document,
        }
    }
}

/// A file as read: what it is, and its content in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub file_name: String,
    /// pdf, csv, xlsx, xls, ods, docx.
    pub kind: String,
    pub size: u64,
    /// A PDF's page count.
    pub pages: Option<u32>,
    pub sha256: String,
    /// What was left out or could not be read as it is, said rather than dropped silently
    /// (a hidden sheet, a merged cell's repeat).
    pub notes: Vec<String>,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Where a PDF's page starts: what follows is on that page.
    Page {
        number: u32,
    },
    Heading {
        level: u8,
        text: String,
    },
    Paragraph {
        text: String,
    },
    /// The first row is the header. `label` says where it is (a sheet's name).
    Table {
        label: Option<String>,
        rows: Vec<Vec<String>>,
    },
}

impl Document {
    /// The text the model sees: a heading naming the file, then each block; tables as
    /// Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## {} ({})\n", self.file_name, self.kind);
        for n in &self.notes {
            out.push_str(&format!("\n> {n}\n"));
        }
        for b in &self.blocks {
            out.push('\n');
            match b {
                Block::Page { number } => out.push_str(&format!("[p. {number}]\n")),
                Block::Heading { level, text } => out.push_str(&format!("{} {text}\n", "#".repeat(usize::from(*level).clamp(1, 4) + 2))),
                Block::Paragraph { text } => out.push_str(&format!("{text}\n")),
                Block::Table { label, rows } => {
                    if let Some(l) = label {
                        out.push_str(&format!("{l}\n\n"));
                    }
                    out.push_str(&markdown_table(rows));
                }
            }
        }
        out
    }

    /// Every table's cells, for tests and the extracted view.
    pub fn tables(&self) -> impl Iterator<Item = (&Option<String>, &Vec<Vec<String>>)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Table { label, rows } => Some((label, rows)),
            _ => None,
        })
    }
}

/// Reads a file by its content's kind (the name's extension, checked against its first bytes).
pub fn extract(path: &Path) -> Result<Document, DocumentError> {
    extract_with(path, &mut |_, _| true)
}

/// As `extract`, telling `on_page(done, total)` after each page of a PDF (the one kind that
/// runs to hundreds of pages); reading stops with `Cancelled` when it answers false.
pub fn extract_with(path: &Path, on_page: &mut dyn FnMut(u32, u32) -> bool) -> Result<Document, DocumentError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| DocumentError::Io { path: shown.clone(), source })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(DocumentError::TooLarge { path: shown, size: meta.len() >> 20, max: MAX_FILE_BYTES >> 20 });
    }
    let bytes = std::fs::read(path).map_err(|source| DocumentError::Io { path: shown.clone(), source })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    // Encrypted Office files are an OLE container, whatever their extension says.
    let ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let zip = bytes.starts_with(b"PK\x03\x04");
    let mut pages = None;
    let mut budget = Budget::new();
    let (kind, mut notes, blocks) = match ext.as_str() {
        "pdf" => {
            let read = pdf_file::read(&bytes, &shown, &mut budget, on_page)?;
            pages = Some(read.pages);
            ("pdf", read.notes, read.blocks)
        }
        "csv" | "tsv" | "txt" => {
            let (notes, table) = csv_file::read(&bytes, &shown, &mut budget)?;
            ("csv", notes, vec![table])
        }
        "xlsx" | "xlsm" if ole => return Err(DocumentError::Encrypted(shown)),
        "xlsx" | "xlsm" | "xls" | "ods" => {
            if zip {
                inflate::check(&bytes, &shown, "spreadsheet")?;
            }
            let (notes, blocks) = sheet::read(path, &shown, &mut budget)?;
            (if ext == "xlsm" { "xlsx" } else { ext.as_str() }, notes, blocks)
        }
        "docx" if ole => return Err(DocumentError::Encrypted(shown)),
        "docx" if !zip => return Err(DocumentError::Unreadable { path: shown, kind: "Word", reason: "not a .docx (zip) file".into() }),
        "docx" => ("docx", Vec::new(), docx_file::read(&bytes, &shown, &mut budget)?),
        _ => return Err(DocumentError::Unsupported(shown)),
    };
    notes.extend(budget.into_notes());
    Ok(Document {
        file_name: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        kind: kind.to_owned(),
        size: meta.len(),
        pages,
        sha256: Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
        notes,
        blocks,
    })
}

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
pub mod ocr;
mod pdf_file;
mod pdf_layout;
mod sheet;
mod table;

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// The reader child stopped without an answer, or said why it could not read the file
    /// (and, when it said, what kind of failure it was).
    #[error("{message}")]
    Reader { message: String, kind: Option<fin_r1_engine::ErrorKind> },
}

impl DocumentError {
    /// The child stopped, or could not be started: a document error.
    pub fn reader(message: String) -> Self {
        Self::Reader { message, kind: None }
    }

    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::Io { .. } => fin_r1_engine::ErrorKind::Io,
            Self::Cancelled(_) => fin_r1_engine::ErrorKind::Cancelled,
            Self::Reader { kind: Some(kind), .. } => *kind,
            _ => fin_r1_engine::ErrorKind::Document,
        }
    }
}

/// The kinds of file read, by what their content is (an .xlsm reads as .xlsx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    Pdf,
    Csv,
    Xlsx,
    Xls,
    Ods,
    Docx,
    /// A kind a conversation file from a newer build names (it reads as this).
    #[serde(other)]
    Other,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Xls => "xls",
            Self::Ods => "ods",
            Self::Docx => "docx",
            Self::Other => "other",
        }
    }

    /// A stored name; an unknown one is `Other`.
    pub fn parse(s: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(Self::Other)
    }
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a read file is, wherever it goes: the chip, the store, a report's sources, a
/// conversation file. One declaration, so the five places agree on names and widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DocumentMeta {
    pub file_name: String,
    pub kind: DocumentKind,
    pub size: u64,
    /// A PDF's page count.
    pub pages: Option<u32>,
    pub sha256: String,
    /// What was left out or could not be read as it is, said rather than dropped silently
    /// (a hidden sheet, a merged cell's repeat, what a limit cut).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A file as read: what it is, and its content in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    #[serde(flatten)]
    pub meta: DocumentMeta,
    pub blocks: Vec<Block>,
    /// A workbook's sheets as its file lays them out (cell references, hidden sheets too), for
    /// the analyst to check the tables read against; empty for other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub originals: Vec<SheetGrid>,
    /// Where the file was read from, for its original view (a PDF's pages) once it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The top-left corner of a sheet as its file lays it out: `rows[0][0]` is the cell at row
/// `top` (1-based) and column `left` (0 = A). At most `GRID_ROWS` × `GRID_COLUMNS` cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SheetGrid {
    pub name: String,
    /// Hidden in the workbook, so left out of the question.
    pub hidden: bool,
    pub top: u32,
    pub left: u32,
    pub rows: Vec<Vec<String>>,
    /// How many of the sheet's filled rows and columns lie past what the grid holds.
    pub rows_past: u32,
    pub columns_past: u32,
    /// Cells within the grid left empty because the view's budget for the workbook was spent.
    pub cells_cut: u32,
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
        let mut out = format!("## {} ({})\n", self.meta.file_name, self.meta.kind);
        for n in &self.meta.notes {
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
    // Every zipped kind (.docx, .xlsx, .ods) is unpacked once first, counting what it
    // inflates to, before a library is given it.
    if matches!(ext.as_str(), "xlsx" | "xlsm" | "ods" | "docx") && !ole {
        // A zip's libraries find it from its end: one behind other bytes would skip the check.
        if !zip {
            let kind = if ext == "docx" { "Word" } else { "spreadsheet" };
            return Err(DocumentError::Unreadable { path: shown, kind, reason: format!("not a .{ext} (zip) file") });
        }
        inflate::check(&bytes, &shown, if ext == "docx" { "Word" } else { "spreadsheet" })?;
    }
    let mut pages = None;
    let mut budget = Budget::new();
    let mut originals = Vec::new();
    let (kind, mut notes, blocks) = match ext.as_str() {
        "pdf" => {
            let read = pdf_file::read(&bytes, &shown, &mut budget, on_page)?;
            pages = Some(read.pages);
            (DocumentKind::Pdf, read.notes, read.blocks)
        }
        "csv" | "tsv" | "txt" => {
            let (notes, table) = csv_file::read(&bytes, &shown, &mut budget)?;
            (DocumentKind::Csv, notes, vec![table])
        }
        "xlsx" | "xlsm" if ole => return Err(DocumentError::Encrypted(shown)),
        "xlsx" | "xlsm" | "xls" | "ods" => {
            let (notes, blocks, grids) = sheet::read(path, &shown, &mut budget)?;
            originals = grids;
            let kind = match ext.as_str() {
                "xls" => DocumentKind::Xls,
                "ods" => DocumentKind::Ods,
                _ => DocumentKind::Xlsx,
            };
            (kind, notes, blocks)
        }
        "docx" if ole => return Err(DocumentError::Encrypted(shown)),
        "docx" => (DocumentKind::Docx, Vec::new(), docx_file::read(&bytes, &shown, &mut budget)?),
        _ => return Err(DocumentError::Unsupported(shown)),
    };
    notes.extend(budget.into_notes());
    Ok(Document {
        meta: DocumentMeta {
            file_name: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            kind,
            size: meta.len(),
            pages,
            sha256: fin_r1_engine::digest::sha256_hex(&bytes),
            notes,
        },
        blocks,
        originals,
        path: Some(shown),
    })
}

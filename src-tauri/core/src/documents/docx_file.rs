//! Word documents through docx-rs: headings and paragraphs in order, tables as tables (a cell
//! spanning columns keeps its text once and leaves the others empty; a vertically merged
//! cell's continuation is empty).

use docx_rs::{DocumentChild, Paragraph, ParagraphChild, RunChild, Table, TableCellContent, TableChild, TableRowChild};

use super::{Block, DocumentError};

pub fn read(bytes: &[u8], path: &str) -> Result<Vec<Block>, DocumentError> {
    let doc = docx_rs::read_docx(bytes).map_err(|e| DocumentError::Unreadable { path: path.to_owned(), kind: "Word", reason: e.to_string() })?;
    let mut blocks = Vec::new();
    for child in &doc.document.children {
        match child {
            DocumentChild::Paragraph(p) => {
                let text = paragraph_text(p);
                if text.trim().is_empty() {
                    continue;
                }
                match heading_level(p) {
                    Some(level) => blocks.push(Block::Heading { level, text }),
                    None => blocks.push(Block::Paragraph { text }),
                }
            }
            DocumentChild::Table(t) => blocks.push(Block::Table { label: None, rows: table_rows(t) }),
            _ => {}
        }
    }
    Ok(blocks)
}

/// "Heading1" / "heading 2" / "Title" styles.
fn heading_level(p: &Paragraph) -> Option<u8> {
    let style = p.property.style.as_ref()?.val.to_ascii_lowercase().replace(' ', "");
    if style == "title" {
        return Some(1);
    }
    style.strip_prefix("heading")?.parse::<u8>().ok().filter(|l| (1..=6).contains(l))
}

fn paragraph_text(p: &Paragraph) -> String {
    let mut out = String::new();
    for child in &p.children {
        if let ParagraphChild::Run(run) = child {
            for rc in &run.children {
                match rc {
                    RunChild::Text(t) => out.push_str(&t.text),
                    RunChild::Tab(_) => out.push('\t'),
                    RunChild::Break(_) => out.push(' '),
                    _ => {}
                }
            }
        }
    }
    out
}

fn table_rows(t: &Table) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for TableChild::TableRow(row) in &t.rows {
        let mut cells = Vec::new();
        for TableRowChild::TableCell(cell) in &row.cells {
            // The span and merge fields are private; their serialized form is public.
            let props = serde_json::to_value(&cell.property).unwrap_or_default();
            let span = props.get("gridSpan").and_then(|v| v.as_u64()).unwrap_or(1).max(1) as usize;
            let continued = props.get("verticalMerge").and_then(|v| v.as_str()) == Some("continue");
            let text = if continued {
                String::new()
            } else {
                cell.children
                    .iter()
                    .map(|c| match c {
                        TableCellContent::Paragraph(p) => paragraph_text(p),
                        TableCellContent::Table(inner) => table_rows(inner).iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("; "),
                        _ => String::new(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            cells.push(text);
            cells.extend(std::iter::repeat_n(String::new(), span - 1));
        }
        rows.push(cells);
    }
    rows
}

//! Word documents through docx-rs: headings and paragraphs in order, tables as tables (a cell
//! spanning columns keeps its text once and leaves the others empty; a vertically merged
//! cell's continuation is empty). `extract` has unpacked the file once already, counting what
//! it inflates to; spans, nesting and text are held to `limits`.

use docx_rs::{DocumentChild, Paragraph, ParagraphChild, RunChild, Table, TableCellContent, TableChild, TableRowChild};

use super::limits::{Budget, MAX_COLUMNS, MAX_NESTING, MAX_TABLE_CELLS};
use super::{Block, DocumentError};

pub fn read(bytes: &[u8], path: &str, budget: &mut Budget) -> Result<Vec<Block>, DocumentError> {
    let doc = docx_rs::read_docx(bytes).map_err(|e| DocumentError::Unreadable { path: path.to_owned(), kind: "Word", reason: e.to_string() })?;
    let mut blocks = Vec::new();
    let mut wide = Wide::default();
    for child in &doc.document.children {
        if budget.full() {
            break;
        }
        match child {
            DocumentChild::Paragraph(p) => {
                let text = paragraph_text(p);
                if text.trim().is_empty() || !budget.take(text.len()) {
                    continue;
                }
                match heading_level(p) {
                    Some(level) => blocks.push(Block::Heading { level, text }),
                    None => blocks.push(Block::Paragraph { text }),
                }
            }
            DocumentChild::Table(t) => {
                let rows = table_rows(t, 0, &mut wide, budget);
                blocks.push(Block::Table { label: None, rows });
            }
            _ => {}
        }
    }
    if wide.spans_cut > 0 {
        budget.note(format!("{} table cells span more columns than their table has (or than the {MAX_COLUMNS} a table is read with): cut", wide.spans_cut));
    }
    if wide.rows_cut > 0 {
        budget.note(format!("{} table rows past {MAX_TABLE_CELLS} cells of a table left out", wide.rows_cut));
    }
    if wide.nested_cut > 0 {
        budget.note(format!("{} tables nested more than {MAX_NESTING} deep read as their text", wide.nested_cut));
    }
    Ok(blocks)
}

/// What the tables' own sizes made the reader cut.
#[derive(Default)]
struct Wide {
    spans_cut: usize,
    rows_cut: usize,
    nested_cut: usize,
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

fn table_rows(t: &Table, depth: usize, wide: &mut Wide, budget: &mut Budget) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut cells_held = 0usize;
    // The columns the table declares (`w:tblGrid`), within the reader's own bound; a row
    // with more cells than that still keeps each of them.
    let declared = if t.grid.is_empty() { MAX_COLUMNS } else { t.grid.len().min(MAX_COLUMNS) };
    for TableChild::TableRow(row) in &t.rows {
        if budget.full() {
            break;
        }
        if cells_held >= MAX_TABLE_CELLS {
            wide.rows_cut += 1;
            continue;
        }
        let mut cells: Vec<String> = Vec::new();
        let width = declared.max(row.cells.len()).min(MAX_COLUMNS);
        for (i, TableRowChild::TableCell(cell)) in row.cells.iter().enumerate() {
            // The span and merge fields are private; their serialized form is public. A span
            // is the file's claim: it fills at most the columns a table is read with.
            let props = serde_json::to_value(&cell.property).unwrap_or_default();
            let span = props.get("gridSpan").and_then(|v| v.as_u64()).unwrap_or(1).max(1);
            let room = width.saturating_sub(cells.len());
            if room == 0 {
                wide.spans_cut += 1;
                break;
            }
            // A span leaves a column for each cell after it in the row: a lying span must not
            // push the row's figures out of the table.
            let room = room.saturating_sub(row.cells.len() - i - 1).max(1);
            let span = usize::try_from(span).unwrap_or(usize::MAX);
            if span > room {
                wide.spans_cut += 1;
            }
            let span = span.min(room);
            let continued = props.get("verticalMerge").and_then(|v| v.as_str()) == Some("continue");
            // A nested table's cells were counted against the budget as they were read: its
            // text in this cell is not counted again.
            let mut nested_bytes = 0usize;
            let text = if continued {
                String::new()
            } else {
                cell.children
                    .iter()
                    .map(|c| match c {
                        TableCellContent::Paragraph(p) => paragraph_text(p),
                        TableCellContent::Table(inner) if depth < MAX_NESTING => {
                            let text = table_rows(inner, depth + 1, wide, budget).iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("; ");
                            nested_bytes += text.len();
                            text
                        }
                        TableCellContent::Table(_) => {
                            wide.nested_cut += 1;
                            String::new()
                        }
                        _ => String::new(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let text = budget.cell(text);
            if !budget.take(text.len().saturating_sub(nested_bytes) + span * 3) {
                break;
            }
            cells.push(text);
            cells.extend(std::iter::repeat_n(String::new(), span - 1));
        }
        cells_held += cells.len();
        rows.push(cells);
    }
    rows
}

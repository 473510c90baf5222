//! Workbooks through calamine: every visible sheet as a table under its name, formulas as the
//! values the file saved for them, dates as dates, numbers under their cells' formats (xlsx);
//! hidden sheets left out and said so; empty rows and columns are not content and are not kept.

use std::path::Path;

use calamine::{open_workbook_auto, Data, DataRef, Reader, SheetVisible, Sheets, Xlsx, XlsxFormulaMetadata};

use super::limits::{sparse_grid, Budget, MAX_TABLE_CELLS};
use super::numfmt;
use super::{Block, DocumentError, SheetGrid};

/// The most of a sheet its original view holds: a statement's page, not its whole ledger.
pub const GRID_ROWS: usize = 200;
pub const GRID_COLUMNS: usize = 30;
/// The most sheets the original view holds.
pub const GRID_SHEETS: usize = 16;
/// The most text all of a workbook's grids hold together (they are stored with the question
/// and sent to the window whole), and the most of one cell.
pub const GRID_BYTES: usize = 2 << 20;
pub const GRID_CELL_CHARS: usize = 64;

/// A workbook as read: the reader's notes, the visible sheets' tables, and every sheet's grid.
pub type Read = (Vec<String>, Vec<Block>, Vec<SheetGrid>);

pub fn read(path: &Path, shown: &str, budget: &mut Budget) -> Result<Read, DocumentError> {
    let unreadable = |e: calamine::Error| DocumentError::Unreadable { path: shown.to_owned(), kind: "spreadsheet", reason: e.to_string() };
    let mut book = open_workbook_auto(path).map_err(unreadable)?;
    let mut notes = Vec::new();
    let mut blocks = Vec::new();
    let mut grids = Vec::new();
    let mut grid_bytes = GRID_BYTES;
    let sheets: Vec<(String, SheetVisible)> = book.sheets_metadata().iter().map(|s| (s.name.clone(), s.visible)).collect();
    for (i, (name, visible)) in sheets.iter().enumerate() {
        if budget.full() {
            notes.push(format!("{} more sheets left out", sheets.len() - i));
            break;
        }
        let hidden = *visible != SheetVisible::Visible;
        if hidden {
            notes.push(format!("sheet “{name}” is hidden: left out"));
            // Still shown in the original view, marked hidden: what the question left out.
            // A hidden sheet that cannot be read costs its view only, never the workbook.
            if grids.len() < GRID_SHEETS {
                if let Ok(cells) = sheet_cells(&mut book, name, shown, &mut Vec::new()) {
                    grids.push(grid(name, true, &cells, &mut grid_bytes));
                }
            }
            continue;
        }
        let cells = sheet_cells(&mut book, name, shown, &mut notes)?;
        if grids.len() < GRID_SHEETS {
            grids.push(grid(name, false, &cells, &mut grid_bytes));
        }
        if cells.iter().all(|c| c.2.trim().is_empty()) {
            notes.push(format!("sheet “{name}” is empty"));
            continue;
        }
        let mut rows = sparse_grid(cells, &format!("sheet “{name}”"), budget);
        // The first row is the table's header only when it reads as one: a sheet that starts
        // with its figures gets its columns named, and its first row stays a row of data.
        if rows.len() > 1 && !looks_like_header(&rows[0]) {
            let names: Vec<String> = (1..=rows[0].len()).map(|i| format!("Column {i}")).collect();
            rows.insert(0, names);
            notes.push(format!("sheet “{name}”: its first row holds figures, not headings: its columns are named Column 1, 2, …"));
        }
        blocks.push(Block::Table { label: Some(format!("Sheet: {name}")), rows });
    }
    Ok((notes, blocks, grids))
}

/// A sheet's filled cells by position, empty ones never held: a sheet's used range is what its
/// file says, and one cell at A1 with one at XFD1048576 spans 17 billion.
fn sheet_cells<R: std::io::Read + std::io::Seek>(
    book: &mut Sheets<R>,
    name: &str,
    shown: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<(u32, u32, String)>, DocumentError> {
    let unreadable = |e: calamine::Error| DocumentError::Unreadable { path: shown.to_owned(), kind: "spreadsheet", reason: e.to_string() };
    match book {
        Sheets::Xlsx(x) => xlsx_cells(x, name, shown, notes),
        other => {
            let range = other.worksheet_range(name).map_err(unreadable)?;
            let mut cells = Vec::new();
            let (top, left) = range.start().unwrap_or((0, 0));
            for (r, c, cell) in range.used_cells() {
                if cells.len() >= MAX_TABLE_CELLS {
                    notes.push(format!("sheet “{name}”: read up to {MAX_TABLE_CELLS} filled cells; the rest left out"));
                    break;
                }
                cells.push((top.saturating_add(r as u32), left.saturating_add(c as u32), text(cell, None)));
            }
            Ok(cells)
        }
    }
}

/// The sheet's top-left `GRID_ROWS` × `GRID_COLUMNS` from its first filled row and column, sized
/// by those bounds, never by where the file puts its cells; its text taken from `budget` (cells
/// past it are counted, not kept).
fn grid(name: &str, hidden: bool, cells: &[(u32, u32, String)], budget: &mut usize) -> SheetGrid {
    let filled = || cells.iter().filter(|c| !c.2.trim().is_empty());
    let top = filled().map(|c| c.0).min().unwrap_or(0);
    let left = filled().map(|c| c.1).min().unwrap_or(0);
    let bottom = filled().map(|c| c.0).max().unwrap_or(0);
    let right = filled().map(|c| c.1).max().unwrap_or(0);
    let height = ((bottom - top) as usize + 1).min(GRID_ROWS);
    let width = ((right - left) as usize + 1).min(GRID_COLUMNS);
    let mut rows = if filled().next().is_some() { vec![vec![String::new(); width]; height] } else { Vec::new() };
    let (mut rows_past, mut columns_past) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    let mut cells_cut = 0u32;
    for (r, c, text) in filled() {
        let (dr, dc) = ((r - top) as usize, (c - left) as usize);
        if dr >= GRID_ROWS {
            rows_past.insert(*r);
        } else if dc >= GRID_COLUMNS {
            columns_past.insert(*c);
        } else {
            // A cell is a figure or a label, not a document.
            let shown: String = text.chars().take(GRID_CELL_CHARS).collect();
            if shown.len() > *budget {
                cells_cut = cells_cut.saturating_add(1);
                continue;
            }
            *budget -= shown.len();
            rows[dr][dc] = shown;
        }
    }
    let count = |s: std::collections::BTreeSet<u32>| u32::try_from(s.len()).unwrap_or(u32::MAX);
    SheetGrid {
        name: name.to_owned(),
        hidden,
        top: top.saturating_add(1),
        left,
        rows,
        rows_past: count(rows_past),
        columns_past: count(columns_past),
        cells_cut,
    }
}

/// A row of headings: some text, and no cell that reads as a figure (a year such as 2024 is a
/// heading too, as statements head their columns with years).
fn looks_like_header(row: &[String]) -> bool {
    let filled: Vec<&str> = row.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    let figure = |c: &str| {
        let bare: String = c.chars().filter(|ch| !matches!(ch, ',' | '%' | '$' | '¥' | '€' | '£' | '(' | ')' | ' ')).collect();
        let year = bare.len() == 4 && bare.starts_with(['1', '2']) && bare.chars().all(|ch| ch.is_ascii_digit());
        !year && !bare.is_empty() && bare.trim_start_matches(['-', '+']).parse::<f64>().is_ok()
    };
    !filled.is_empty() && !filled.iter().any(|c| figure(c))
}

/// An .xlsx sheet's filled cells in file order, each under its own number format. A formula
/// the file saved no value for (files written by scripts: openpyxl, pandas) shows its formula,
/// never an empty cell.
fn xlsx_cells<R: std::io::Read + std::io::Seek>(
    book: &mut Xlsx<R>,
    name: &str,
    shown: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<(u32, u32, String)>, DocumentError> {
    let unreadable = |e: calamine::XlsxError| DocumentError::Unreadable { path: shown.to_owned(), kind: "spreadsheet", reason: e.to_string() };
    let mut reader = book.worksheet_cells_reader(name).map_err(unreadable)?;
    let mut cells = Vec::new();
    // A cell with no value may be a formula the file saved no value for: only then is the
    // sheet read a second time for its formulas.
    let mut blanks = false;
    while let Some((cell, style)) = reader.next_cell_with_style_id().map_err(unreadable)? {
        if cell.get_value() == &DataRef::Empty {
            blanks = true;
            continue;
        }
        if cells.len() >= MAX_TABLE_CELLS {
            notes.push(format!("sheet “{name}”: read up to {MAX_TABLE_CELLS} filled cells; the rest left out"));
            break;
        }
        let (r, c) = cell.get_position();
        let code = reader.styles().get(style).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.clone());
        let value: Data = cell.get_value().clone().into();
        cells.push((r, c, text(&value, code.as_deref())));
    }
    drop(reader);
    let mut unsaved = 0usize;
    if blanks && cells.len() < MAX_TABLE_CELLS {
        // The formulas as the file writes them, shared ones unexpanded: expanding sizes a table
        // by the index the file claims (`si="4000000000"` asks for billions of slots).
        let mut formulas = book.worksheet_cells_reader(name).map_err(unreadable)?;
        while let Some(f) = formulas.next_cell_with_formula_metadata().map_err(unreadable)? {
            if cells.len() >= MAX_TABLE_CELLS {
                break;
            }
            let shown = match (&f.value, &f.formula) {
                (DataRef::Empty, Some(XlsxFormulaMetadata::Normal { formula } | XlsxFormulaMetadata::Shared { formula, .. })) if !formula.is_empty() => {
                    // Bounded like a cell's text: a formula is not a document.
                    format!("={}", formula.chars().take(256).collect::<String>())
                }
                (DataRef::Empty, Some(XlsxFormulaMetadata::SharedDerived { .. })) => "(a shared formula, not computed)".to_owned(),
                _ => continue,
            };
            unsaved += 1;
            cells.push((f.pos.0, f.pos.1, shown));
        }
    }
    if unsaved > 0 {
        notes.push(format!(
            "sheet “{name}”: {unsaved} formula {} no saved value (the file was written by a program that does not compute them): shown as formulas, not computed",
            if unsaved == 1 { "cell has" } else { "cells have" }
        ));
    }
    Ok(cells)
}

fn text(cell: &Data, format_code: Option<&str>) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => format_code.map_or_else(|| i.to_string(), |c| numfmt::format(*i as f64, c)),
        Data::Float(f) => format_code.map_or_else(|| numfmt::general(*f), |c| numfmt::format(*f, c)),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(d) if d.is_duration() => numfmt::general(d.as_f64()),
        Data::DateTime(d) => {
            let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}")
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

//! Workbooks through calamine: every visible sheet as a table under its name, formulas as the
//! values the file saved for them, dates as dates, numbers under their cells' formats (xlsx);
//! hidden sheets left out and said so.

use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader, SheetVisible, Sheets};

use super::numfmt;
use super::{Block, DocumentError};

pub fn read(path: &Path, shown: &str) -> Result<(Vec<String>, Vec<Block>), DocumentError> {
    let unreadable = |e: calamine::Error| DocumentError::Unreadable { path: shown.to_owned(), kind: "spreadsheet", reason: e.to_string() };
    let mut book = open_workbook_auto(path).map_err(unreadable)?;
    let mut notes = Vec::new();
    let mut blocks = Vec::new();
    let sheets: Vec<(String, SheetVisible)> = book.sheets_metadata().iter().map(|s| (s.name.clone(), s.visible)).collect();
    for (name, visible) in sheets {
        if visible != SheetVisible::Visible {
            notes.push(format!("sheet “{name}” is hidden: left out"));
            continue;
        }
        let range = book.worksheet_range(&name).map_err(unreadable)?;
        let styles = match &mut book {
            Sheets::Xlsx(x) => x.worksheet_style(&name).ok(),
            _ => None,
        };
        let Some((top, left)) = range.start() else {
            notes.push(format!("sheet “{name}” is empty"));
            continue;
        };
        let mut rows: Vec<Vec<String>> = range
            .rows()
            .enumerate()
            .map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(|(c, cell)| {
                        let at = (top + r as u32, left + c as u32);
                        let code = styles.as_ref().and_then(|s| s.get(at)).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.as_str());
                        text(cell, code)
                    })
                    .collect()
            })
            .collect();
        while rows.last().is_some_and(|r| r.iter().all(String::is_empty)) {
            rows.pop();
        }
        blocks.push(Block::Table { label: Some(format!("Sheet: {name}")), rows });
    }
    Ok((notes, blocks))
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

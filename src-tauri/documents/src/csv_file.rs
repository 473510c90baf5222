//! CSV as a bank or a terminal writes it: UTF-8 (with or without BOM) or GBK/GB18030 (Chinese
//! Excel's "CSV"), comma, semicolon or tab separated; every cell's text kept as printed.

use super::limits::{Budget, MAX_COLUMNS, MAX_TABLE_CELLS};
use super::{Block, DocumentError};

/// The text and the encoding it was read in.
fn decode(bytes: &[u8]) -> (String, Option<&'static str>) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            if had_errors {
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
                (text.into_owned(), Some("Windows-1252"))
            } else {
                (text.into_owned(), Some("GBK"))
            }
        }
    }
}

fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    [b',', b';', b'\t'].into_iter().max_by_key(|d| first.matches(char::from(*d)).count()).unwrap_or(b',')
}

pub fn read(bytes: &[u8], path: &str, budget: &mut Budget) -> Result<(Vec<String>, Block), DocumentError> {
    let (text, encoding) = decode(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter(&text)).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let (mut cells_held, mut rows_cut, mut columns_cut) = (0usize, 0usize, 0usize);
    for record in reader.records() {
        let record = record.map_err(|e| DocumentError::Unreadable { path: path.to_owned(), kind: "CSV", reason: e.to_string() })?;
        if budget.full() {
            break;
        }
        if cells_held >= MAX_TABLE_CELLS {
            rows_cut += 1;
            continue;
        }
        if record.len() > MAX_COLUMNS {
            columns_cut += 1;
        }
        let mut row = Vec::with_capacity(record.len().min(MAX_COLUMNS));
        for field in record.iter().take(MAX_COLUMNS) {
            let cell = budget.cell(field.to_owned());
            if !budget.take(cell.len() + 3) {
                break;
            }
            row.push(cell);
        }
        cells_held += row.len().max(1);
        rows.push(row);
    }
    let mut notes: Vec<String> = encoding.map(|e| format!("read as {e} text")).into_iter().collect();
    if columns_cut > 0 {
        notes.push(format!("{columns_cut} rows have more than {MAX_COLUMNS} fields: those after the {MAX_COLUMNS}th are left out"));
    }
    if rows_cut > 0 {
        notes.push(format!("{rows_cut} rows past {MAX_TABLE_CELLS} cells left out"));
    }
    Ok((notes, Block::Table { label: None, rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_and_semicolons_are_read_as_printed() {
        let (gbk, _, _) = encoding_rs::GBK.encode("借款人;余额\n华东公司;\"(1,234)\"\n");
        let (notes, block) = read(&gbk, "x.csv", &mut Budget::new()).unwrap();
        assert_eq!(notes, ["read as GBK text"]);
        let Block::Table { rows, .. } = block else { panic!() };
        assert_eq!(rows, [vec!["借款人", "余额"], vec!["华东公司", "(1,234)"]]);
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn one_huge_cell_is_cut_and_said() {
        let mut bytes = b"Item,Amount\nLoan,".to_vec();
        bytes.extend(std::iter::repeat_n(b'9', 3 << 20));
        let mut budget = Budget::new();
        let (_, block) = read(&bytes, "x.csv", &mut budget).unwrap();
        let Block::Table { rows, .. } = block else { panic!() };
        assert_eq!(rows[0], ["Item", "Amount"]);
        assert!(rows[1][1].len() <= crate::limits::MAX_CELL_BYTES + 3);
        assert_eq!(budget.into_notes(), ["1 cell longer than 32 KB cut to their first 32 KB"]);
    }
}

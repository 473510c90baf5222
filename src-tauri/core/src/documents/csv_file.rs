//! CSV as a bank or a terminal writes it: UTF-8 (with or without BOM) or GBK/GB18030 (Chinese
//! Excel's "CSV"), comma, semicolon or tab separated; every cell's text kept as printed.

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

pub fn read(bytes: &[u8], path: &str) -> Result<(Vec<String>, Block), DocumentError> {
    let (text, encoding) = decode(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter(&text)).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DocumentError::Unreadable { path: path.to_owned(), kind: "CSV", reason: e.to_string() })?;
        rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
    }
    let notes = encoding.map(|e| format!("read as {e} text")).into_iter().collect();
    Ok((notes, Block::Table { label: None, rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_and_semicolons_are_read_as_printed() {
        let (gbk, _, _) = encoding_rs::GBK.encode("借款人;余额\n华东公司;\"(1,234)\"\n");
        let (notes, block) = read(&gbk, "x.csv").unwrap();
        assert_eq!(notes, ["read as GBK text"]);
        let Block::Table { rows, .. } = block else { panic!() };
        assert_eq!(rows, [vec!["借款人", "余额"], vec!["华东公司", "(1,234)"]]);
    }
}

//! A table as Markdown: the first row as the header, every row as wide as the widest, empty
//! cells kept empty (a merged cell's other places, a blank), cell text on one line.

pub fn markdown_table(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = (0..width).map(|i| cell(row.get(i).map(String::as_str).unwrap_or(""))).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&rows[0]);
    out.push_str(&format!("|{}\n", "---|".repeat(width)));
    for r in &rows[1..] {
        out.push_str(&line(r));
    }
    out
}

fn cell(text: &str) -> String {
    text.trim().replace('\\', "\\\\").replace('|', "\\|").replace("\r\n", " ").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_and_pipes_escaped() {
        let rows = vec![vec!["Item".to_owned(), "2024".to_owned()], vec!["A | B".to_owned()], vec![String::new(), "(1,234)".to_owned()]];
        assert_eq!(markdown_table(&rows), "| Item | 2024 |\n|---|---|\n| A \\| B |  |\n|  | (1,234) |\n");
    }
}

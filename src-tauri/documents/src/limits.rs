//! What a reader may hold, whatever the file says of itself. A file's declared sizes (a cell's
//! span, a sheet's used range, a page's box, a zip entry's length) are claims, not budgets:
//! every reader allocates by these limits and says in the document's notes what it cut.

/// Files beyond this are refused before reading (a workbook's XML is many times its size).
pub const MAX_FILE_BYTES: u64 = 200 << 20;
/// What a zipped file (.docx, .xlsx, .ods) may inflate to, counted as it inflates: a 1 MB
/// Word file can hold a gigabyte of XML.
pub const MAX_INFLATED_BYTES: u64 = 512 << 20;
/// Text kept of one document (about four million tokens, far past any context): reading stops
/// there, and the note says so.
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// One cell's text (a CSV field, a spreadsheet string): longer ones are cut, and counted.
pub const MAX_CELL_BYTES: usize = 32 << 10;
/// Columns of one table; Word tables have at most 63, a statement a few dozen.
pub const MAX_COLUMNS: usize = 256;
/// Cells of one table's grid (rows times columns), empty ones included.
pub const MAX_TABLE_CELLS: usize = 1 << 20;
/// Characters placed on one PDF page (a dense page has ten thousand).
pub const MAX_GLYPHS_PER_PAGE: usize = 200_000;
/// The widest page PDF allows (14,400 units, 200 inches).
pub const MAX_PAGE_POINTS: f64 = 14_400.0;
/// Tables within tables followed this deep; deeper ones are read as their text.
pub const MAX_NESTING: usize = 4;

/// What one document has taken of the limits so far, and what was cut.
#[derive(Debug, Default)]
pub struct Budget {
    text: usize,
    full: bool,
    cells_cut: usize,
    notes: Vec<String>,
}

impl Budget {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `n` more bytes of text if the document has room; once it has not, reading should
    /// stop (the note is written once).
    pub fn take(&mut self, n: usize) -> bool {
        if self.full {
            return false;
        }
        if self.text.saturating_add(n) > MAX_TEXT_BYTES {
            self.full = true;
            self.notes.push(format!(
                "reading stopped at the limit of {} MB of text (about {} million tokens): the rest of the file is left out",
                MAX_TEXT_BYTES >> 20,
                MAX_TEXT_BYTES / 4_000_000
            ));
            return false;
        }
        self.text += n;
        true
    }

    /// True once the text limit is reached.
    pub fn full(&self) -> bool {
        self.full
    }

    /// A cell's text, cut to `MAX_CELL_BYTES` at a character boundary.
    pub fn cell(&mut self, mut text: String) -> String {
        if text.len() > MAX_CELL_BYTES {
            let mut end = MAX_CELL_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
            self.cells_cut += 1;
        }
        text
    }

    /// Something cut or left out, in the reader's words.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The notes, the cells cut counted in one.
    pub fn into_notes(mut self) -> Vec<String> {
        if self.cells_cut > 0 {
            let cells = if self.cells_cut == 1 { "1 cell".to_owned() } else { format!("{} cells", self.cells_cut) };
            self.notes.push(format!("{cells} longer than {} KB cut to their first {} KB", MAX_CELL_BYTES >> 10, MAX_CELL_BYTES >> 10));
        }
        self.notes
    }
}

/// A table's rows as a grid of at most `MAX_COLUMNS` columns and `MAX_TABLE_CELLS` cells, from
/// cells given by position (in any order, empty ones left out): rows and columns with nothing
/// in them are not content and take no room. `what` names the table in the notes.
pub fn sparse_grid(mut cells: Vec<(u32, u32, String)>, what: &str, budget: &mut Budget) -> Vec<Vec<String>> {
    cells.retain(|c| !c.2.trim().is_empty());
    cells.sort_by_key(|c| (c.0, c.1));
    let mut columns: Vec<u32> = cells.iter().map(|c| c.1).collect();
    columns.sort_unstable();
    columns.dedup();
    if columns.len() > MAX_COLUMNS {
        budget.note(format!("{what}: {} columns with content; those after the {MAX_COLUMNS}th are left out", columns.len()));
        columns.truncate(MAX_COLUMNS);
    }
    cells.retain(|c| columns.binary_search(&c.1).is_ok());
    let width = columns.len().max(1);
    let max_rows = MAX_TABLE_CELLS / width;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut last_row = None;
    let mut rows_left_out = 0usize;
    for (r, c, text) in cells {
        if budget.full() {
            break;
        }
        if last_row != Some(r) {
            last_row = Some(r);
            if rows.len() >= max_rows {
                rows_left_out += 1;
            } else if budget.take(width * 3) {
                // A row's empty cells are text too once it is a Markdown table.
                rows.push(vec![String::new(); width]);
            } else {
                break;
            }
        }
        if rows_left_out > 0 {
            continue;
        }
        let text = budget.cell(text);
        if !budget.take(text.len() + 3) {
            continue;
        }
        if let (Ok(col), Some(row)) = (columns.binary_search(&c), rows.last_mut()) {
            row[col] = text;
        }
    }
    if rows_left_out > 0 {
        budget.note(format!("{what}: {rows_left_out} more rows with content left out (a table is read up to {MAX_TABLE_CELLS} cells)"));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_rows_and_columns_take_no_room() {
        let mut b = Budget::new();
        let rows = sparse_grid(vec![(0, 0, "A1".into()), (1_048_575, 16_383, "far".into()), (5, 3, " ".into())], "Sheet1", &mut b);
        assert_eq!(rows, [vec!["A1".to_owned(), String::new()], vec![String::new(), "far".to_owned()]]);
        assert!(b.into_notes().is_empty());
    }

    #[test]
    fn columns_past_the_limit_are_left_out_and_said() {
        let mut b = Budget::new();
        let cells = (0..1000u32).map(|c| (0, c * 7, format!("c{c}"))).collect();
        let rows = sparse_grid(cells, "Sheet1", &mut b);
        assert_eq!(rows[0].len(), MAX_COLUMNS);
        assert!(b.into_notes()[0].contains("1000 columns"));
    }

    #[test]
    fn a_long_cell_is_cut_at_a_character_and_counted() {
        let mut b = Budget::new();
        let cut = b.cell("元".repeat(MAX_CELL_BYTES));
        assert!(cut.len() <= MAX_CELL_BYTES + 3 && cut.ends_with('…'));
        assert!(b.into_notes()[0].starts_with("1 cell longer than 32 KB"));
    }

    #[test]
    fn text_past_the_limit_stops_reading_once() {
        let mut b = Budget::new();
        assert!(b.take(MAX_TEXT_BYTES));
        assert!(!b.take(1));
        assert!(!b.take(1));
        assert!(b.full());
        assert_eq!(b.into_notes().len(), 1);
    }
}

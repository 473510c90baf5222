//! Documents as the model will see them (issue 18): each corpus file's expected cells in the
//! right row and column, numbers as printed; broken, encrypted and foreign files refused in one
//! clear line. The corpus and how it was made: tests/fixtures/documents/make_corpus.py.

use std::process::Command;

use fin_r1_core::documents::{extract, Block, Document, DocumentKind, DocumentMeta};
use fin_r1_tests::{fin_r1_bin, repo_data, scratch_dir};

fn doc(name: &str) -> Document {
    extract(&repo_data(&format!("documents/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (table index, row, column, text) that must be there; returns (right, expected).
fn score(d: &Document, want: &[(usize, usize, usize, &str)]) -> (usize, usize) {
    let tables: Vec<&Vec<Vec<String>>> = d.tables().map(|(_, rows)| rows).collect();
    let mut wrong = Vec::new();
    for &(t, r, c, text) in want {
        let got = tables.get(t).and_then(|rows| rows.get(r)).and_then(|row| row.get(c)).map(String::as_str);
        if got != Some(text) {
            wrong.push(format!("table {t} row {r} col {c}: want {text:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}:\n{}\n\n{}", d.meta.file_name, wrong.join("\n"), d.to_markdown());
    (want.len() - wrong.len(), want.len())
}

#[test]
fn a_workbook_keeps_its_sheets_saved_values_dates_and_printed_numbers() {
    let d = doc("income.xlsx");
    assert_eq!(d.meta.kind, DocumentKind::Xlsx);
    let labels: Vec<String> = d.tables().filter_map(|(l, _)| l.clone()).collect();
    assert_eq!(labels, ["Sheet: Income statement", "Sheet: Notes"]);
    assert_eq!(d.meta.notes, ["sheet “Workings” is hidden: left out"]);
    assert!(!d.to_markdown().contains("scratch"), "the hidden sheet's content stays out");
    score(
        &d,
        &[
            (0, 0, 1, "2023"),
            (0, 0, 2, "2024"),
            (0, 1, 0, "Revenue"),
            (0, 1, 1, "4,286"),
            (0, 2, 2, "(2,890)"),
            (0, 3, 1, "612"),
            // A formula: the value the file saved, under its percent format.
            (0, 4, 1, "14.3%"),
            (0, 4, 2, "14.7%"),
            // A merged title: its text once, the place it covers empty; a date as a date.
            (1, 0, 0, "Balance sheet date"),
            (1, 0, 1, ""),
            (1, 0, 2, "2024-12-31"),
            (1, 2, 1, "华东"),
            (1, 3, 2, "2992"),
        ],
    );
}

/// Issue 30 item 2: the original view holds every sheet as its file lays it out, the hidden one
/// too (marked), with the cells where the file puts them.
#[test]
fn a_workbook_keeps_its_sheets_as_laid_out_for_the_original_view() {
    let d = doc("income.xlsx");
    let names: Vec<(&str, bool)> = d.originals.iter().map(|g| (g.name.as_str(), g.hidden)).collect();
    assert_eq!(names, [("Income statement", false), ("Notes", false), ("Workings", true)]);
    let income = &d.originals[0];
    assert_eq!((income.top, income.left), (1, 0), "starts at A1");
    let revenue = income.rows.iter().find(|r| r.first().map(String::as_str) == Some("Revenue")).expect("a Revenue row");
    assert_eq!(revenue.get(1).map(String::as_str), Some("4,286"), "{:?}", income.rows);
    assert!(d.originals[2].rows.iter().flatten().any(|c| c.contains("scratch")), "the hidden sheet is shown in the original view");
    assert_eq!((income.rows_past, income.columns_past), (0, 0));
    assert!(d.path.as_deref().is_some_and(|p| p.ends_with("income.xlsx")));
}

/// A sheet with one cell at A1 and one at XFD1048576: the grid is sized by its own bounds, not
/// by where the file puts its cells, and says what lies past them.
#[test]
fn a_sheet_spanning_the_whole_grid_is_held_to_the_original_views_bounds() {
    let dir = scratch_dir().join(format!("spanning-xlsx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("spanning.xlsx");
    workbook(
        &path,
        &[(
            "Far",
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Item</t></is></c><c r="AZ1"><v>7</v></c></row><row r="1048576"><c r="XFD1048576"><v>9</v></c></row></sheetData></worksheet>"#,
        )],
    );
    let d = extract(&path).expect("read");
    assert!(std::fs::metadata(&path).expect("size").len() < 2048, "a small file");
    let g = &d.originals[0];
    assert!(g.rows.len() <= 200 && g.rows.iter().all(|r| r.len() <= 30), "{} rows", g.rows.len());
    assert_eq!(g.rows[0][0], "Item");
    assert_eq!((g.rows_past, g.columns_past), (1, 1), "{g:?}");
}

/// A workbook whose every cell is long text: its grids together stay within the view's budget,
/// each cell cut to its bound, and what did not fit is counted.
#[test]
fn a_workbooks_grids_together_stay_within_their_budget() {
    let dir = scratch_dir().join(format!("wordy-xlsx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("wordy.xlsx");
    let cell = "账".repeat(40);
    let rows: String = (1..=200)
        .map(|r| {
            let cells: String = (0..30u8).map(|c| format!(r#"<c r="{}{r}" t="inlineStr"><is><t>{cell}</t></is></c>"#, char::from(b'A' + c % 26))).collect();
            format!(r#"<row r="{r}">{cells}</row>"#)
        })
        .collect();
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
    );
    let names: Vec<String> = (1..=6).map(|i| format!("S{i}")).collect();
    let sheets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), xml.as_str())).collect();
    workbook(&path, &sheets);
    let d = extract(&path).expect("read");
    let bytes: usize = d.originals.iter().flat_map(|g| g.rows.iter().flatten()).map(String::len).sum();
    assert!(bytes <= 2 << 20, "{bytes} bytes of grids");
    assert!(d.originals.iter().flat_map(|g| g.rows.iter().flatten()).all(|c| c.chars().count() <= 64));
    assert!(d.originals.iter().map(|g| g.cells_cut).sum::<u32>() > 0, "what did not fit is counted");
    assert_eq!(d.originals.len(), 6);
}

/// A workbook of `sheets` (name, worksheet XML) as a script writes it (openpyxl, pandas):
/// no styles, no saved values for formulas unless the XML has them.
fn workbook(path: &std::path::Path, sheets: &[(&str, &str)]) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let o = zip::write::SimpleFileOptions::default();
    let mut put = |name: &str, text: &str| {
        z.start_file(name, o).expect("part");
        z.write_all(text.as_bytes()).expect("write");
    };
    let overrides: String = (1..=sheets.len())
        .map(|i| {
            format!(
                r#"<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
            )
        })
        .collect();
    put(
        "[Content_Types].xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}</Types>"#
        ),
    );
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    let listed: String = sheets.iter().enumerate().map(|(i, (name, _))| format!(r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#, n = i + 1)).collect();
    put(
        "xl/workbook.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{listed}</sheets></workbook>"#
        ),
    );
    let rels: String = (1..=sheets.len())
        .map(|n| format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#))
        .collect();
    put(
        "xl/_rels/workbook.xml.rels",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        ),
    );
    for (i, (_, xml)) in sheets.iter().enumerate() {
        put(&format!("xl/worksheets/sheet{}.xml", i + 1), xml);
    }
    z.finish().expect("finish");
}

/// A workbook as a script writes it: formulas with no saved values, and a sheet whose first
/// row is already data.
fn scripted_xlsx(path: &std::path::Path) {
    workbook(
        path,
        &[
            (
                "Totals",
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Segment</t></is></c><c r="B1" t="inlineStr"><is><t>2024</t></is></c><c r="C1" t="inlineStr"><is><t>2023</t></is></c><c r="D1" t="inlineStr"><is><t>Change</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Retail</t></is></c><c r="B2"><v>120</v></c><c r="C2"><v>100</v></c><c r="D2"><f>B2-C2</f></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>Total</t></is></c><c r="B3"><f>SUM(B2:B2)</f></c><c r="C3"><f>SUM(C2:C2)</f><v>100</v></c></row></sheetData></worksheet>"#,
            ),
            (
                "Raw",
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1"><v>1.5</v></c><c r="B1"><v>2.5</v></c></row><row r="2"><c r="A2"><v>3</v></c><c r="B2"><v>4</v></c></row></sheetData></worksheet>"#,
            ),
        ],
    );
}

#[test]
fn a_scripted_workbook_shows_formulas_it_saved_no_value_for_and_names_columns_of_a_headless_sheet() {
    let dir = scratch_dir().join(format!("scripted-xlsx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("scripted.xlsx");
    scripted_xlsx(&path);
    let d = extract(&path).expect("read");
    let md = d.to_markdown();
    // Never an empty cell where a formula is: its formula, said so; a saved value is used.
    assert!(md.contains("| Retail | 120 | 100 | =B2-C2 |"), "{md}");
    assert!(md.contains("| Total | =SUM(B2:B2) | 100 |"), "{md}");
    assert!(d.meta.notes.iter().any(|n| n.contains("2 formula cells have no saved value")), "{:?}", d.meta.notes);
    // A header of years and words stays the header; a sheet of figures gets its columns named.
    assert!(md.contains("| Segment | 2024 | 2023 | Change |"), "{md}");
    assert!(md.contains("| Column 1 | Column 2 |") && md.contains("| 1.5 | 2.5 |"), "{md}");
    assert!(d.meta.notes.iter().any(|n| n.contains("“Raw”: its first row holds figures")), "{:?}", d.meta.notes);

    // A 2 KB workbook whose shared formula claims index 4,000,000,000 (a reader that sizes its
    // table of shared formulas by it asks for billions of slots): read, not aborted.
    let liar = dir.join("liar.xlsx");
    workbook(
        &liar,
        &[(
            "Lies",
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Total</t></is></c><c r="B1"><f t="shared" si="4000000000" ref="B1:B1048576">A1*2</f></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Next</t></is></c><c r="B2"><f t="shared" si="4000000000"/></c></row></sheetData></worksheet>"#,
        )],
    );
    assert!(std::fs::metadata(&liar).expect("size").len() < 2048);
    let d = extract(&liar).expect("read, not aborted");
    let md = d.to_markdown();
    assert!(md.contains("=A1*2") && md.contains("(a shared formula, not computed)"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gbk_csv_reads_in_chinese_with_numbers_as_printed() {
    let d = doc("loans-gbk.csv");
    assert_eq!(d.meta.notes, ["read as GBK text"]);
    score(
        &d,
        &[
            (0, 0, 0, "借款人"),
            (0, 0, 3, "利率"),
            (0, 1, 0, "华东制造有限公司"),
            (0, 1, 1, "(1,234)"),
            (0, 1, 3, "12.5%"),
            (0, 2, 1, "$ 10.000,00"),
            (0, 2, 4, ""),
            (0, 3, 1, "56,789.10"),
            (0, 3, 4, "关注类"),
        ],
    );
}

#[test]
fn a_word_file_keeps_headings_paragraphs_and_its_table() {
    let d = doc("policy.docx");
    assert_eq!(d.blocks.first(), Some(&Block::Heading { level: 1, text: "Credit policy 2024".into() }));
    assert!(d.blocks.contains(&Block::Heading { level: 2, text: "Limits".into() }));
    assert!(d.blocks.iter().any(|b| matches!(b, Block::Paragraph { text } if text.contains("资本净额的10%"))));
    score(&d, &[(0, 0, 1, "Limit (CNY m)"), (0, 1, 0, "Retail"), (0, 2, 2, "Head office"), (0, 3, 0, "Total"), (0, 3, 1, "550"), (0, 3, 2, "")]);
    let md = d.to_markdown();
    assert!(md.contains("| Segment | Limit (CNY m) | Approver |\n|---|---|---|\n| Retail | 50 | Branch |"), "{md}");
}

#[test]
fn broken_encrypted_and_foreign_files_are_refused_in_one_line() {
    let dir = scratch_dir().join(format!("documents-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let xlsx = std::fs::read(repo_data("documents/income.xlsx")).expect("xlsx");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.xlsx", xlsx[..xlsx.len() / 2].to_vec(), "not a readable spreadsheet"),
        // Office's encryption wraps the workbook in an OLE container.
        ("locked.xlsx", [&[0xD0u8, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..], &[0u8; 504][..]].concat(), "password-protected"),
        ("notes.docx", b"plain text, not a Word file".to_vec(), "not a readable Word file"),
        ("scan.bmp", vec![0x42, 0x4D, 0, 0], "is not read"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let err = extract(&path).expect_err(name).to_string();
        assert!(err.contains(want) && err.contains(name) && !err.contains('\n'), "{name}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The statement every corpus PDF but the Chinese one carries, as (row, column, text).
const STATEMENT_CELLS: [(usize, usize, &str); 14] = [
    (0, 0, "(USD thousands)"),
    (0, 1, "2024"),
    (0, 3, "2022"),
    (1, 0, "Revenue"),
    (1, 1, "482,210"),
    (2, 2, "(257,030)"),
    // A label wrapped over two lines of its cell is one cell.
    (4, 0, "Selling, general and administrative"),
    (4, 3, "(90,020)"),
    (5, 0, "Research and development"),
    (6, 0, "Operating income"),
    (7, 0, "Operating margin"),
    (7, 1, "12.5%"),
    (7, 3, "10.0%"),
    (9, 2, "33,540"),
];

/// Issue 18's PDF corpus, each by another producer (tests/fixtures/documents/make_pdfs.py):
/// every expected cell in its row and column, the page it is on marked.
#[test]
fn pdfs_from_libreoffice_and_tex_keep_their_tables_cell_by_cell() {
    let mut right = 0;
    let mut expected = 0;
    let mut add = |(r, e): (usize, usize)| {
        right += r;
        expected += e;
    };
    // LibreOffice, a table without rules on page 3 of 5, labels wrapped in a narrow column.
    let d = doc("annual-report.pdf");
    assert_eq!((d.meta.kind.as_str(), d.meta.pages), ("pdf", Some(5)));
    let table_at = d.blocks.iter().position(|b| matches!(b, Block::Table { .. })).expect("a table");
    let page = d.blocks[..table_at].iter().rev().find_map(|b| if let Block::Page { number } = b { Some(*number) } else { None });
    assert_eq!(page, Some(3), "the statement is on page 3");
    assert!(d.blocks.contains(&Block::Heading { level: 2, text: "Item 8. Financial statements".into() }), "{}", d.to_markdown());
    let want: Vec<(usize, usize, usize, &str)> = STATEMENT_CELLS.iter().map(|&(r, c, t)| (0, r, c, t)).collect();
    add(score(&d, &want));
    assert!(d.to_markdown().contains("[p. 3]\n"), "page markers");
    // pdfTeX, a ruled tabular.
    let d = doc("statement-tex.pdf");
    add(score(&d, &want));
    // LibreOffice with Noto CJK: a Chinese table with rules, a borrower's name wrapped.
    let d = doc("zh-loans.pdf");
    add(score(
        &d,
        &[
            (0, 0, 0, "借款人"),
            (0, 0, 4, "分类"),
            (0, 1, 0, "华东制造有限公司"),
            (0, 1, 1, "1,234.50"),
            (0, 2, 1, "(56.00)"),
            (0, 2, 3, "5.10%"),
            (0, 3, 2, "120"),
            (0, 3, 4, "次级"),
        ],
    ));
    eprintln!("PDF cells right / expected: {right} / {expected}");
}

#[test]
fn a_two_column_page_is_read_column_by_column() {
    let d = doc("two-column-tex.pdf");
    let md = d.to_markdown();
    assert!(d.tables().next().is_none(), "prose is not a table: {md}");
    let (last_left, first_right) = (md.find("Alpha39").expect("left"), md.find("Omega0").expect("right"));
    assert!(last_left < first_right, "{md}");
    assert!(md.contains("Alpha12 liquidity coverage stays above the floor."), "hyphenation joined: {md}");
}

#[test]
fn scanned_pages_are_said_and_locked_or_broken_pdfs_refused() {
    let d = doc("scanned-mixed.pdf");
    assert_eq!(d.meta.pages, Some(2));
    // With OCR (scripts/setup.sh installs Tesseract) the 60-dpi scan is read and its low
    // confidence said; without, the page is said to be a scan.
    let ocr = fin_r1_core::documents::ocr::Ocr::find().is_some();
    if ocr {
        assert!(d.meta.notes[0].starts_with("1 page scanned, read by OCR (Tesseract; mean confidence"), "{:?}", d.meta.notes);
        assert!(d.meta.notes.iter().any(|n| n.starts_with("OCR confidence under 60%")), "{:?}", d.meta.notes);
        assert!(d.to_markdown().contains("[p. 2: read by OCR, confidence"));
    } else {
        assert_eq!(d.meta.notes, ["1 page scanned with no text layer, not read: 2"]);
        assert!(d.to_markdown().contains("[p. 2: a scanned image with no text layer; not read]"));
    }
    add_cells_of_scanned(&d);

    let dir = scratch_dir().join(format!("documents-bad-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pdf = std::fs::read(repo_data("documents/annual-report.pdf")).expect("pdf");
    for (name, bytes, want) in [
        ("cut.pdf", pdf[..pdf.len() / 2].to_vec(), "damaged or cut short"),
        ("header-only.pdf", pdf[..2000].to_vec(), "damaged or cut short"),
        ("renamed.pdf", b"GIF89a not a pdf".to_vec(), "does not start as a PDF does"),
        ("encrypted.pdf", std::fs::read(repo_data("documents/encrypted.pdf")).expect("locked"), "password-protected"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let err = extract(&path).expect_err(name).to_string();
        assert!(err.contains(want) && err.contains(name) && !err.contains('\n'), "{name}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 29: a statement page scanned at 200 dpi (no text layer) is read by Tesseract, its
/// figures exact, its confidence in the notes and on the page; a Chinese one too. (Tesseract is
/// installed by scripts/setup.sh.)
#[test]
fn a_scanned_page_is_read_by_ocr_with_its_confidence() {
    assert!(
        fin_r1_core::documents::ocr::Ocr::find().is_some(),
        "OCR needs tesseract-ocr (with eng and chi_sim) and poppler-utils: scripts/setup.sh installs them"
    );
    let d = doc("scanned-report.pdf");
    assert!(d.meta.notes[0].starts_with("1 page scanned, read by OCR (Tesseract; mean confidence"), "{:?}", d.meta.notes);
    let md = d.to_markdown();
    assert!(md.contains("[p. 1: read by OCR, confidence"), "{md}");
    for figure in ["Consolidated statements of operations", "482,210", "(289,040)", "43,870", "12.5%"] {
        assert!(md.contains(figure), "{figure} in {md}");
    }
    let zh = doc("scanned-zh.pdf").to_markdown();
    for text in ["贷款五级分类明细", "1,234.50", "上海贸易公司", "8,900.00"] {
        assert!(zh.contains(text), "{text} in {zh}");
    }
    // Without OCR the page is refused with what to install.
    let bare = std::process::Command::new(fin_r1_tests::fin_r1_bin())
        .args(["documents", "extract"])
        .arg(repo_data("documents/scanned-report.pdf"))
        .env("FIN_R1_OCR", "off")
        .output()
        .expect("fin-r1");
    assert!(String::from_utf8_lossy(&bare.stderr).contains("this machine has no OCR (install tesseract-ocr"), "{}", String::from_utf8_lossy(&bare.stderr));
}

/// A 2 KB "scan" that lies: its page box a kilometre square, its image 100,000 pixels a side
/// with a few bytes behind it. OCR draws it at its bounded size and the file is read or refused
/// with a reason, never aborting, in a bounded time.
#[test]
fn a_scan_that_lies_about_its_sizes_is_bounded() {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Count 1 /Kids [3 0 R] >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 2834645 2834645] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 16 >>\nstream\n0123456789abcdef\nendstream".to_owned(),
        "<< /Length 44 >>\nstream\nq 2834645 0 0 2834645 0 0 cm /Im0 Do Q      \nendstream".to_owned(),
    ];
    // A comment pads it to 2 KB (lopdf looks for `startxref` near the end).
    let mut pdf = format!("%PDF-1.4\n%{}\n", "x".repeat(1200)).into_bytes();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in &offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    let dir = scratch_dir().join(format!("documents-lying-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("lying-scan.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let started = std::time::Instant::now();
    match extract(&path) {
        Ok(d) => assert!(d.meta.notes.iter().any(|n| n.contains("OCR") || n.contains("scanned")), "{:?}", d.meta.notes),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("scanned images") && !e.contains('\n'), "{e}");
            // OCR was there: the reason is what it made of the page, not a missing program.
            assert!(!e.contains("has no OCR"), "{e}");
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "{:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The text page before the scan is read as any other.
fn add_cells_of_scanned(d: &Document) {
    let want: Vec<(usize, usize, usize, &str)> = STATEMENT_CELLS.iter().map(|&(r, c, t)| (0, r, c, t)).collect();
    score(d, &want);
}

/// Issue 18's "done when" on the selection: the 10-K-like PDF over the budget gives the page
/// holding the statement, labelled with its file and page, and says which pages of how many.
#[test]
fn the_statement_page_of_a_pdf_is_chosen_and_named_by_its_page() {
    use fin_r1_core::documents::chunks::select;
    let d = doc("annual-report.pdf");
    let chosen = select(&d, "What was the operating margin in 2024?", 500);
    let text = chosen.to_markdown();
    assert!(text.contains("| Operating margin | 12.5% | 11.1% | 10.0% |"), "{}\n{text}", chosen.summary);
    assert!(text.contains("[annual-report.pdf · p. 3"), "{text}");
    assert!(
        chosen.summary.starts_with("page 3 of 5 of annual-report.pdf") || chosen.summary.starts_with("pages ") && chosen.summary.contains("3"),
        "{}",
        chosen.summary
    );
    assert!(chosen.summary.ends_with("of 5 of annual-report.pdf"), "{}", chosen.summary);
}

/// `fin-r1 documents extract` prints what the model sees; `--json` the whole record.
#[test]
fn the_cli_prints_what_the_model_sees() {
    let file = repo_data("documents/income.xlsx");
    let out = Command::new(fin_r1_bin()).args(["documents", "extract"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| Operating margin | 14.3% | 14.7% |"), "{md}");
    let out = Command::new(fin_r1_bin()).args(["documents", "extract", "--json"]).arg(&file).output().expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["blocks"][0]["type"], "table");
    let out = Command::new(fin_r1_bin()).args(["documents", "extract", "/nonexistent/report.pdf"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("fin-r1: "));
}

/// A 10-K-like document: sections of prose and a long statement with one row the question
/// names, far from the start.
fn annual_report(zh: bool) -> Document {
    let mut blocks = Vec::new();
    for s in 0..20 {
        blocks.push(Block::Heading { level: 2, text: format!("Item {s}. Risk factors and business overview") });
        for p in 0..6 {
            blocks.push(Block::Paragraph {
                text: format!("Section {s} paragraph {p}: the company operates retail and wholesale segments in several regions; demand, pricing and supply chain costs may vary from year to year."),
            });
        }
    }
    let mut rows = vec![vec!["Line item".to_owned(), "2023".to_owned(), "2024".to_owned()]];
    for i in 0..300 {
        rows.push(vec![format!("Other expense line {i}"), format!("{}", 100 + i), format!("{}", 110 + i)]);
        if i == 217 {
            let name = if zh { "营业利润率" } else { "Operating margin" };
            rows.push(vec![name.to_owned(), "14.3%".to_owned(), "14.7%".to_owned()]);
        }
    }
    blocks.push(Block::Table { label: Some("Sheet: Income statement".into()), rows });
    Document {
        meta: DocumentMeta { file_name: "10-K.xlsx".into(), kind: DocumentKind::Xlsx, size: 0, pages: None, sha256: String::new(), notes: Vec::new() },
        blocks,
        originals: Vec::new(),
        path: None,
    }
}

/// Issue 18 item 3: a document over the budget is cut at its own boundaries (a table's header
/// in every part, no row cut) and the part holding the named row is chosen, in English and in
/// Chinese, with a line saying what went in.
#[test]
fn the_part_holding_the_named_row_is_chosen_in_english_and_chinese() {
    use fin_r1_core::documents::chunks::{parts, select};
    for (zh, question, row) in [
        (false, "What was the operating margin in 2024?", "| Operating margin | 14.3% | 14.7% |"),
        (true, "2024年的营业利润率是多少？", "| 营业利润率 | 14.3% | 14.7% |"),
    ] {
        let doc = annual_report(zh);
        let all = parts(&doc);
        assert!(all.len() > 20, "{}", all.len());
        for p in all.iter().filter(|p| p.label.contains("Income statement")) {
            assert!(p.text.starts_with("| Line item | 2023 | 2024 |\n|---|---|---|\n"), "a part without its header: {}", p.label);
            assert!(p.text.lines().all(|l| l.starts_with('|') && l.ends_with('|')), "a row cut: {}", p.label);
        }
        let chosen = select(&doc, question, 1200);
        let text = chosen.to_markdown();
        assert!(text.contains(row), "{question}: {}\n{text}", chosen.summary);
        assert!(chosen.parts.iter().map(|p| p.tokens).sum::<usize>() <= 1200);
        assert!(chosen.summary.starts_with("parts ") && chosen.summary.contains(&format!("of {} of 10-K.xlsx", all.len())), "{}", chosen.summary);
        // In document order, each labelled.
        let order: Vec<usize> = chosen.parts.iter().map(|p| all.iter().position(|a| a == p).expect("a part")).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(text.starts_with("[10-K.xlsx · "), "{text}");
    }
    // What fits goes in whole.
    let small = doc_small();
    let all = select(&small, "anything", 10_000);
    assert_eq!(all.summary, "all of income.xlsx");
}

fn doc_small() -> Document {
    doc("income.xlsx")
}

fn chat(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    use fin_r1_tests::{tiny_qwen2, TinySpec, THINKING_SCRIPT};
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    Command::new(fin_r1_bin())
        .env("FIN_R1_CACHE_DIR", data.join("cache"))
        .args(["chat", "--temperature", "0", "--max-tokens", "64", "--data-dir"])
        .arg(data)
        .arg("--model")
        .arg(&model)
        .args(args)
        .output()
        .expect("run")
}

/// Issue 18 items 2 and 3 on the command line: documents go into the prompt (whole when they
/// fit, the best parts when not, the terminal says which), are stored with the question, carried
/// into the next turn, found by search and listed with their hashes in the report; an
/// unreadable file is refused before anything is stored.
#[test]
fn attached_documents_reach_the_prompt_the_store_search_and_the_report() {
    let data = scratch_dir().join(format!("documents-chat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let xlsx = repo_data("documents/income.xlsx");
    let csv = repo_data("documents/loans-gbk.csv");

    let bad = data.join("broken.docx");
    std::fs::write(&bad, b"not a docx").expect("write");
    let out = chat(&data, &["--attach", bad.to_str().expect("path"), "What is in it?"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable Word file"));

    // What the reader left out is printed with the answer (the workbook has a hidden sheet).
    let told = chat(&data, &["--attach", xlsx.to_str().expect("path"), "What was revenue?"]);
    assert!(told.status.success());
    let err = String::from_utf8_lossy(&told.stderr);
    assert!(err.contains("[income.xlsx: ⚠ sheet") && err.contains("hidden"), "{err}");
    let plain = chat(&data, &["What was the operating margin in 2024?"]);
    assert!(plain.status.success());
    let out =
        chat(&data, &["--json", "--attach", xlsx.to_str().expect("path"), "--attach", csv.to_str().expect("path"), "What was the operating margin in 2024?"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let started = &events[0];
    assert_eq!(started["attachments"][0]["file_name"], "income.xlsx");
    assert_eq!(started["attachments"][0]["included_summary"], "all of income.xlsx");
    assert_eq!(started["attachments"][1]["file_name"], "loans-gbk.csv");
    let prompt = |evs: &[serde_json::Value]| evs.iter().find(|e| e["type"] == "usage").and_then(|e| e["prompt_tokens"].as_u64()).expect("usage");
    let with_docs = prompt(&events);
    assert!(with_docs > 300, "the documents are in the prompt: {with_docs} tokens");

    // The next question of the conversation still carries them.
    let out = chat(&data, &["--json", "--conversation", "latest", "And in 2023?"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let next: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert!(prompt(&next) > with_docs, "the history keeps the documents");

    // Found by a word only the CSV holds (GBK-encoded on disk).
    let out = Command::new(fin_r1_bin()).args(["conversations", "search", "华东制造", "--data-dir"]).arg(&data).output().expect("search");
    let hits = String::from_utf8_lossy(&out.stdout);
    assert!(hits.contains("document") && hits.contains("loans-gbk.csv"), "{hits}");

    // The report lists each document with its hash.
    let md = fin_r1_tests::export_latest_markdown(&data);
    let sha = fin_r1_tests::hub::sha256_hex(&std::fs::read(&xlsx).expect("xlsx"));
    assert!(md.contains(&format!("income.xlsx (xlsx, {} bytes) · SHA-256 {sha}", std::fs::metadata(&xlsx).expect("meta").len())), "{md}");
    // What the reader left out, in the report as on the chip.
    assert!(md.contains("Document note") && md.contains("income.xlsx: sheet “Workings” is hidden: left out"), "{md}");

    // The conversation file carries the documents (version 2) and imports with them.
    let file = fin_r1_tests::export_latest(&data, "json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    assert_eq!(v["version"], 2);
    let docs: Vec<&serde_json::Value> =
        v["messages"].as_array().expect("messages").iter().flat_map(|m| m["attachments"].as_array().into_iter().flatten()).collect();
    assert!(docs.iter().any(|d| d["file_name"] == "loans-gbk.csv" && d["text"].as_str().is_some_and(|t| t.contains("华东制造有限公司"))), "{docs:?}");
    let other = data.join("imported");
    let out = Command::new(fin_r1_bin()).arg("import").arg(&file).arg("--data-dir").arg(&other).output().expect("import");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = fin_r1_tests::export_latest_markdown(&other);
    assert!(again.contains(&format!("income.xlsx (xlsx, {} bytes) · SHA-256 {sha}", std::fs::metadata(&xlsx).expect("meta").len())), "{again}");
    let out = Command::new(fin_r1_bin()).args(["conversations", "search", "华东制造", "--data-dir"]).arg(&other).output().expect("search");
    assert!(String::from_utf8_lossy(&out.stdout).contains("loans-gbk.csv"), "found in the imported documents");

    // A document over the context: its best parts go in, and the terminal says which.
    let big = data.join("ledger.csv");
    let mut rows = String::from("Account,2023,2024\n");
    for i in 0..3000 {
        rows.push_str(&format!("Expense account {i},{},{}\n", 100 + i, 110 + i));
        if i == 2400 {
            rows.push_str("Goodwill impairment,0,\"(4,321)\"\n");
        }
    }
    std::fs::write(&big, rows).expect("ledger");
    let out = chat(&data, &["--attach", big.to_str().expect("path"), "What was the goodwill impairment in 2024?"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("[ledger.csv: parts ") && said.contains(" of ledger.csv: "), "{said}");
    let _ = std::fs::remove_dir_all(&data);
}

/// Issue 18 item 5: the compliance preset's document field takes a file: it is attached, the
/// form keeps its name, and the prompt says it is attached below.
#[test]
fn a_presets_file_field_attaches_the_file() {
    let data = scratch_dir().join(format!("documents-field-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let policy = repo_data("documents/policy.docx");
    let field = format!("policy={}", policy.display());
    let out = chat(
        &data,
        &[
            "--json",
            "--scenario",
            "compliance",
            "--field",
            "rule=See the attached policy.",
            "--field",
            "facts=A retail loan of CNY 60m was approved by a branch.",
            "--field",
            &field,
            "Is the approval within the limits?",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().expect("a line")).expect("json");
    assert_eq!(started["attachments"][0]["file_name"], "policy.docx", "{started}");
    let md = fin_r1_tests::export_latest_markdown(&data);
    assert!(md.contains("| 制度或法规文件 / Policy or regulation document | policy.docx |"), "{md}");
    let lib = fin_r1_core::scenario::Library::load(None);
    let compliance = lib.get("compliance").expect("the preset");
    let values = [("rule".to_owned(), "r".to_owned()), ("facts".to_owned(), "f".to_owned()), ("policy".to_owned(), "policy.docx".to_owned())].into();
    let filled = compliance.fill("Q?", &values, fin_r1_core::scenario::Lang::En).expect("fill");
    assert!(filled.contains("【制度文件 / Policy document】policy.docx (attached below)"), "{filled}");
    assert!(md.contains("policy.docx (docx, "), "{md}");
    // A file field naming a file that is not there is refused before anything is stored.
    let out = chat(&data, &["--scenario", "compliance", "--field", "rule=x", "--field", "facts=y", "--field", "policy=/nonexistent/policy.pdf", "Q?"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/policy.pdf"));
    let _ = std::fs::remove_dir_all(&data);
}

/// Reading a PDF tells each page as it goes and stops when told to (the window's progress
/// and the chip's × while a long report is read).
#[test]
fn a_pdf_read_reports_its_pages_and_stops_when_cancelled() {
    use fin_r1_core::documents::{extract_with, DocumentError};
    let path = repo_data("documents/annual-report.pdf");
    let mut seen = Vec::new();
    let d = extract_with(&path, &mut |done, total| {
        seen.push((done, total));
        true
    })
    .expect("read");
    assert_eq!(d.meta.pages, Some(5));
    assert_eq!(seen, [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
    let mut calls = 0;
    let err = extract_with(&path, &mut |done, _| {
        calls += 1;
        done < 2
    })
    .expect_err("cancelled");
    assert!(matches!(err, DocumentError::Cancelled(_)), "{err}");
    assert_eq!(calls, 3, "stopped at the third page");
}

/// Issue 26, item 2: the documents of a later question got the budget of a new chat, as if the
/// earlier questions' documents were not in the prompt — "the prompt is 8510 tokens, the
/// context holds 8192". Their budget is what the context has left after the history as sent.
#[test]
fn a_later_questions_documents_fit_beside_the_earlier_ones() {
    let data = scratch_dir().join(format!("documents-budget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let report = repo_data("documents/annual-report.pdf");
    let report = report.to_str().expect("path");
    let first = chat(&data, &["--json", "--ctx-size", "2048", "--attach", report, "What was the net profit?"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = chat(&data, &["--json", "--ctx-size", "2048", "--conversation", "latest", "--attach", report, "And the total assets?"]);
    assert!(
        second.status.success(),
        "the second question's documents overran the context: {}{}",
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&second.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let prompt = events.iter().find(|e| e["type"] == "usage").and_then(|e| e["prompt_tokens"].as_u64()).expect("usage");
    assert!(prompt <= 2048 - 64, "{prompt} prompt tokens");
}

/// A conversation that leaves no room for a document says so: the summary was "pages  of 5 of
/// annual-report.pdf" over an empty list, and the question went without the file unsaid.
#[test]
fn a_document_with_no_room_left_is_said_to_be_left_out() {
    use fin_r1_core::documents::chunks::select;
    let d = doc("annual-report.pdf");
    let none = select(&d, "operating margin", 0);
    assert!(none.parts.is_empty());
    assert!(none.summary.starts_with("nothing of annual-report.pdf: the conversation so far leaves no room"), "{}", none.summary);
}

//! Files that lie about their sizes (issue 26): a Word cell spanning four billion columns, a
//! workbook whose two cells stand 17 billion cells apart, a PDF page a trillion points wide, a
//! zip that inflates a thousandfold, tables nested a thousand deep, one huge line. Each is a few
//! KB; each reads to a bounded result or a clear error — in this process (the readers' own
//! limits: without them these tests abort) and in the reader child the app uses (its death is
//! an error, this process goes on).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fin_r1_core::documents::child::{extract_in_child, ChildLimits};
use fin_r1_core::documents::{extract, limits, Document, DocumentError};
use fin_r1_tests::hostile::{far_cell_xlsx, nested_docx, pdf, policy_parts, rezip, span_docx, span_docx_with_grid};
use fin_r1_tests::{fin_r1_bin, repo_data, scratch_dir};

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = scratch_dir().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The file through the reader child, as the app reads it.
fn in_child(path: &Path) -> Result<Document, DocumentError> {
    let limits = ChildLimits { memory_bytes: 2 << 30, cpu_seconds: 60, wall: Duration::from_secs(120) };
    extract_in_child(&fin_r1_bin(), path, limits, &mut |_, _| {}, &AtomicBool::new(false))
}

#[test]
fn a_word_cell_spanning_four_billion_columns_is_cut_and_said() {
    let path = write("span.docx", &span_docx());
    assert!(std::fs::metadata(&path).unwrap().len() < 64 << 10);
    let t = Instant::now();
    let d = extract(&path).expect("read");
    assert!(t.elapsed() < Duration::from_secs(20));
    let (_, rows) = d.tables().next().expect("a table");
    assert_eq!(rows[0][0], "Loan");
    // The cell after the lying one keeps its figure (it was pushed out of the table before).
    assert_eq!(rows[0].last().map(String::as_str), Some("1,200"), "{}", rows[0].len());
    assert!(rows.iter().all(|r| r.len() <= limits::MAX_COLUMNS), "{}", rows[0].len());
    assert!(d.meta.notes.iter().any(|n| n.contains("span more columns")), "{:?}", d.meta.notes);
    in_child(&path).expect("read in the child");
}

/// A span in a table that declares its columns is held to them: the row reads as the table is.
#[test]
fn a_lying_span_in_a_declared_grid_keeps_the_table_s_columns() {
    let path = write("span-grid.docx", &span_docx_with_grid());
    let d = extract(&path).expect("read");
    let (_, rows) = d.tables().next().expect("a table");
    assert_eq!(rows[0], ["Loan", "1,200"]);
    assert!(d.meta.notes.iter().any(|n| n.contains("span more columns")), "{:?}", d.meta.notes);
}

#[test]
fn tables_nested_a_thousand_deep_read_to_a_result_or_an_error_in_the_child() {
    let path = write("nested.docx", &nested_docx(1000));
    // docx-rs parses nesting by recursion: whatever it does with this, the child ends it.
    match in_child(&path) {
        Ok(d) => assert!(d.meta.notes.iter().any(|n| n.contains("nested")), "{:?}", d.meta.notes),
        Err(e) => assert!(e.to_string().contains("nested.docx"), "{e}"),
    }
}

#[test]
fn a_zip_that_inflates_a_thousandfold_is_refused_by_what_came_out() {
    let mut parts = policy_parts();
    parts.push(("word/media/padding.bin".to_owned(), vec![0u8; (limits::MAX_INFLATED_BYTES + (1 << 20)) as usize]));
    let bomb = rezip(parts);
    let path = write("bomb.docx", &bomb);
    assert!(std::fs::metadata(&path).unwrap().len() < 2 << 20);
    let e = extract(&path).unwrap_err();
    assert!(matches!(e, DocumentError::Inflates { .. }), "{e}");
    assert!(e.to_string().contains("it unpacks to more than 512 MB"), "{e}");
    assert!(in_child(&path).unwrap_err().to_string().contains("it unpacks to more than 512 MB"));
    // The same bomb behind a few bytes of anything, named as a workbook: zip libraries find an
    // archive from its end, so it is refused for what it starts with, before any inflates it.
    let mut hidden = b"not a zip header".to_vec();
    hidden.extend_from_slice(&bomb);
    for name in ["hidden-bomb.xlsx", "hidden-bomb.docx", "hidden-bomb.ods"] {
        let e = extract(&write(name, &hidden)).unwrap_err();
        assert!(e.to_string().contains("(zip) file"), "{name}: {e}");
    }
}

#[test]
fn a_workbook_with_one_far_cell_is_two_cells_not_seventeen_billion() {
    let path = write("far.xlsx", &far_cell_xlsx());
    assert!(std::fs::metadata(&path).unwrap().len() < 8 << 10);
    let t = Instant::now();
    let d = extract(&path).expect("read");
    assert!(t.elapsed() < Duration::from_secs(20));
    let (_, rows) = d.tables().next().expect("a table");
    assert_eq!(rows, &[vec!["Total loans".to_owned(), "1200".into(), String::new()], vec![String::new(), String::new(), "7".into()]]);
    assert!(d.to_markdown().len() < 4096, "{}", d.to_markdown().len());
    assert_eq!(in_child(&path).expect("in the child").blocks, d.blocks);
}

#[test]
fn a_pdf_page_a_trillion_points_wide_reads_as_its_text() {
    let lines: Vec<String> = (0..12).map(|i| format!("Line {i:02} of the credit memo")).collect();
    for (name, media_box) in [("wide.pdf", "0 0 1000000000000 792"), ("negative.pdf", "0 0 -612 792"), ("normal.pdf", "0 0 612 792")] {
        let path = write(name, &pdf(media_box, &lines));
        assert!(std::fs::metadata(&path).unwrap().len() < 2048);
        let d = extract(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = d.to_markdown();
        assert!(text.contains("Line 00 of the credit memo") && text.contains("Line 11"), "{name}: {text}");
        assert_eq!(in_child(&path).expect(name).blocks, d.blocks, "{name}");
    }
}

#[test]
fn one_huge_csv_line_is_cut_and_said() {
    let mut bytes = b"Borrower,Exposure\nEast China Mfg,".to_vec();
    bytes.extend(std::iter::repeat_n(b'9', 8 << 20));
    bytes.extend(b"\nNorth Trading,350\n");
    let path = write("huge-line.csv", &bytes);
    let d = in_child(&path).expect("read");
    let (_, rows) = d.tables().next().expect("a table");
    assert_eq!(rows[2], ["North Trading", "350"]);
    assert!(rows[1][1].len() <= limits::MAX_CELL_BYTES + 3);
    assert!(d.meta.notes.iter().any(|n| n.contains("cut to their first 32 KB")), "{:?}", d.meta.notes);
}

#[test]
fn a_reader_out_of_memory_or_time_is_an_error_and_this_process_goes_on() {
    // An address space smaller than the file: the child cannot hold it.
    let mut bytes = b"Borrower,Exposure\n".to_vec();
    bytes.extend(std::iter::repeat_n(b"East China Mfg,1200\n".as_slice(), 2 << 20).flatten());
    let big = write("big.csv", &bytes);
    let limits = ChildLimits { memory_bytes: 16 << 20, cpu_seconds: 60, wall: Duration::from_secs(60) };
    let e = extract_in_child(&fin_r1_bin(), &big, limits, &mut |_, _| {}, &AtomicBool::new(false)).unwrap_err();
    // Said by the child (a read that could not get its buffer) or of it (an allocation that
    // aborted it): either way this process goes on.
    let said = e.to_string();
    assert!(said.contains("big.csv") && (said.ends_with("out of memory") || said.contains("it needed more than the 16 MB of memory")), "{said}");
    let path = repo_data("documents/annual-report.pdf");
    // The same file read whole, with page progress, within the usual limits.
    let mut pages = Vec::new();
    let d = extract_in_child(&fin_r1_bin(), &path, ChildLimits::default(), &mut |d, t| pages.push((d, t)), &AtomicBool::new(false)).expect("read");
    assert_eq!(pages.last().map(|p| p.0), d.meta.pages);
}

/// The child says what kind of failure it had: a file that is gone is a file error, not "this
/// file cannot be read" (the UI words the two apart).
#[test]
fn a_child_s_error_keeps_its_kind() {
    let gone = scratch_dir().join("hostile").join("gone.pdf");
    let _ = std::fs::remove_file(&gone);
    let e = in_child(&gone).expect_err("no such file");
    assert_eq!(e.kind(), fin_r1_engine::ErrorKind::Io, "{e}");
    let dir = scratch_dir().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let damaged = write("damaged.pdf", b"%PDF-1.7\nnot a pdf at all");
    let e = in_child(&damaged).expect_err("damaged");
    assert_eq!(e.kind(), fin_r1_engine::ErrorKind::Document, "{e}");
}

//! Files that lie about their sizes, built small (a few KB each) for the hostile-file tests
//! (tests/hostile_documents.rs) and the window's (tests/desktop.rs).

use std::io::{Cursor, Read, Write};

use crate::repo_data;

/// A zip of (name, bytes), deflated.
pub fn zipped(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in parts {
        w.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The corpus's Word file, part by part.
pub fn policy_parts() -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(repo_data("documents/policy.docx")).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut parts = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        parts.push((name, data));
    }
    parts
}

pub fn rezip(parts: Vec<(String, Vec<u8>)>) -> Vec<u8> {
    let parts: Vec<(&str, Vec<u8>)> = parts.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    zipped(&parts)
}

/// The corpus's Word file with its body replaced.
pub fn docx_with_body(body: &str) -> Vec<u8> {
    let mut parts = policy_parts();
    for (name, data) in &mut parts {
        if name == "word/document.xml" {
            *data = format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
            )
            .into_bytes();
        }
    }
    rezip(parts)
}

pub fn cell(text: &str, props: &str) -> String {
    format!("<w:tc><w:tcPr>{props}</w:tcPr><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>")
}

/// An .xlsx of one sheet whose XML is `sheet`.
pub fn xlsx(sheet: &str) -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let book = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Loans" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let book_rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
    let sheet =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{sheet}</worksheet>"#);
    zipped(&[
        ("[Content_Types].xml", types.into()),
        ("_rels/.rels", rels.into()),
        ("xl/workbook.xml", book.into()),
        ("xl/_rels/workbook.xml.rels", book_rels.into()),
        ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
    ])
}

/// A one-page PDF with its text in Helvetica at the given lines.
pub fn pdf(media_box: &str, lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 10 Tf ");
    for (i, l) in lines.iter().enumerate() {
        content.push_str(&format!("1 0 0 1 40 {} Tm ({l}) Tj ", 700 - 14 * i));
    }
    content.push_str("ET");
    pdf_of_pages(media_box, &[content])
}

/// A PDF of one page per content stream, in Helvetica (`/F1`).
pub fn pdf_of_pages(media_box: &str, contents: &[String]) -> Vec<u8> {
    let mut objects = vec!["<< /Type /Catalog /Pages 2 0 R >>".to_owned(), String::new(), "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned()];
    let mut kids = Vec::new();
    for content in contents {
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
        let stream = objects.len();
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [{media_box}] /Resources << /Font << /F1 3 0 R >> >> /Contents {stream} 0 R >>"));
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects[1] = format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), contents.len());
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

/// A Word table whose first cell spans 4,294,967,295 columns.
pub fn span_docx() -> Vec<u8> {
    let row = format!("<w:tr>{}{}</w:tr>", cell("Loan", r#"<w:gridSpan w:val="4294967295"/>"#), cell("1,200", ""));
    docx_with_body(&format!("<w:tbl>{row}{row}</w:tbl>"))
}

/// The same lying span in a table that declares its two columns (`w:tblGrid`).
pub fn span_docx_with_grid() -> Vec<u8> {
    let row = format!("<w:tr>{}{}</w:tr>", cell("Loan", r#"<w:gridSpan w:val="4294967295"/>"#), cell("1,200", ""));
    let grid = r#"<w:tblGrid><w:gridCol w:w="3000"/><w:gridCol w:w="3000"/></w:tblGrid>"#;
    docx_with_body(&format!("<w:tbl>{grid}{row}{row}</w:tbl>"))
}

/// Tables nested `depth` deep.
pub fn nested_docx(depth: usize) -> Vec<u8> {
    let mut body = "<w:p><w:r><w:t>core</w:t></w:r></w:p>".to_owned();
    for _ in 0..depth {
        body = format!("<w:tbl><w:tr><w:tc>{body}</w:tc></w:tr></w:tbl><w:p/>");
    }
    docx_with_body(&body)
}

/// A workbook whose used range is all 17 billion cells of a sheet: A1, B1 and XFD1048576.
pub fn far_cell_xlsx() -> Vec<u8> {
    xlsx(
        r#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Total loans</t></is></c><c r="B1"><v>1200</v></c></row><row r="1048576"><c r="XFD1048576"><v>7</v></c></row></sheetData>"#,
    )
}

//! The report as a Word document (.docx, Office Open XML): the same report the Markdown export
//! writes (one source, so the formats cannot drift), laid out as Word styles — headings,
//! quotes, lists, code, and tables whose header row repeats on every page they run onto. The
//! provenance is in the text and in the document's properties (title, creator, date).

use std::io::Write;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::{to_markdown, Report};

#[derive(Debug, thiserror::Error)]
#[error("writing the Word document: {0}")]
pub struct DocxError(String);

/// The report as a .docx file's bytes.
pub fn to_docx(r: &Report) -> Result<Vec<u8>, DocxError> {
    markdown_docx(&r.title, &r.generated, &to_markdown(r))
}

/// Any Markdown (an evaluation's summary, a report) as a .docx file's bytes.
pub fn markdown_docx(title: &str, date: &str, md: &str) -> Result<Vec<u8>, DocxError> {
    let body = body_xml(md);
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"{W}\"><w:body>{body}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1247\" w:right=\"1247\" w:bottom=\"1247\" w:left=\"1247\" w:header=\"709\" w:footer=\"709\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>"
    );
    let core = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><dc:title>{}</dc:title><dc:creator>Fin-R1 Desktop {}</dc:creator><dc:description>{}</dc:description></cp:coreProperties>",
        escape(title),
        env!("CARGO_PKG_VERSION"),
        escape(&format!("Generated {date}. {}", super::DISCLAIMER_EN)),
    );
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let parts: [(&str, &str); 6] = [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("word/_rels/document.xml.rels", DOCUMENT_RELS),
            ("word/styles.xml", STYLES),
            ("word/document.xml", &document),
            ("docProps/core.xml", &core),
        ];
        for (name, text) in parts {
            zip.start_file(name, opts).map_err(|e| DocxError(e.to_string()))?;
            zip.write_all(text.as_bytes()).map_err(|e| DocxError(e.to_string()))?;
        }
        zip.finish().map_err(|e| DocxError(e.to_string()))?;
    }
    Ok(out.into_inner())
}

const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

/// XML text: escaped, and without the control characters XML 1.0 cannot hold (a model's
/// answer or a file's text may carry them; Word refuses the whole file over one).
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\t' | '\n' | '\r' => o.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

#[derive(Default, Clone, Copy)]
struct Format {
    bold: u32,
    italic: u32,
    strike: u32,
    code: bool,
}

struct Cell {
    paragraphs: Vec<String>,
}

#[derive(Default)]
struct Table {
    rows: Vec<(bool, Vec<Cell>)>,
    head: bool,
}

#[derive(Default)]
struct Writer {
    body: String,
    /// The paragraph being written: its style and its runs.
    para: Option<(String, String)>,
    fmt: Format,
    quote: u32,
    /// Each open list: its next number (None: bullets).
    lists: Vec<Option<u64>>,
    table: Option<Table>,
    link: Vec<String>,
}

impl Writer {
    fn open(&mut self, style: &str) {
        self.close();
        let style = if self.quote > 0 && style == "Normal" { "Quote" } else { style };
        self.para = Some((style.to_owned(), String::new()));
    }

    fn close(&mut self) {
        let Some((style, runs)) = self.para.take() else { return };
        let indent = if style == "ListParagraph" { format!("<w:ind w:left=\"{}\" w:hanging=\"360\"/>", 360 * self.lists.len().max(1)) } else { String::new() };
        let p = format!("<w:p><w:pPr><w:pStyle w:val=\"{style}\"/>{indent}</w:pPr>{runs}</w:p>");
        match self.table.as_mut().and_then(|t| t.rows.last_mut()).and_then(|(_, cells)| cells.last_mut()) {
            Some(cell) => cell.paragraphs.push(p),
            None => self.body.push_str(&p),
        }
    }

    fn run(&mut self, text: &str) {
        if self.para.is_none() {
            self.open("Normal");
        }
        let f = self.fmt;
        let mut props = String::new();
        if f.bold > 0 {
            props.push_str("<w:b/>");
        }
        if f.italic > 0 {
            props.push_str("<w:i/>");
        }
        if f.strike > 0 {
            props.push_str("<w:strike/>");
        }
        if f.code {
            props.push_str("<w:rStyle w:val=\"CodeChar\"/>");
        }
        let run = format!("<w:r><w:rPr>{props}</w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>", escape(text));
        if let Some((_, runs)) = self.para.as_mut() {
            runs.push_str(&run);
        }
    }

    fn line_break(&mut self) {
        if let Some((_, runs)) = self.para.as_mut() {
            runs.push_str("<w:r><w:br/></w:r>");
        }
    }

    fn table_xml(t: Table) -> String {
        let columns = t.rows.iter().map(|(_, c)| c.len()).max().unwrap_or(1).max(1);
        let mut o = String::from(
            "<w:tbl><w:tblPr><w:tblStyle w:val=\"ReportTable\"/><w:tblW w:w=\"5000\" w:type=\"pct\"/><w:tblLook w:val=\"04A0\" w:firstRow=\"1\"/></w:tblPr><w:tblGrid>",
        );
        for _ in 0..columns {
            o.push_str(&format!("<w:gridCol w:w=\"{}\"/>", 9400 / columns));
        }
        o.push_str("</w:tblGrid>");
        for (head, cells) in t.rows {
            // A long table breaks across pages with its header row repeated on each.
            o.push_str(if head { "<w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>" } else { "<w:tr><w:trPr><w:cantSplit/></w:trPr>" });
            let n = cells.len();
            for cell in cells {
                o.push_str("<w:tc><w:tcPr/>");
                if cell.paragraphs.is_empty() {
                    o.push_str("<w:p/>");
                }
                for p in cell.paragraphs {
                    o.push_str(&if head { p.replace("<w:rPr>", "<w:rPr><w:b/>") } else { p });
                }
                o.push_str("</w:tc>");
            }
            for _ in n..columns {
                o.push_str("<w:tc><w:p/></w:tc>");
            }
            o.push_str("</w:tr>");
        }
        o.push_str("</w:tbl><w:p/>");
        o
    }
}

fn body_xml(md: &str) -> String {
    let mut w = Writer::default();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for ev in Parser::new_ext(md, options) {
        match ev {
            Event::Start(tag) => match tag {
                Tag::Heading { level, .. } => {
                    let n = match level {
                        HeadingLevel::H1 => 1,
                        HeadingLevel::H2 => 2,
                        HeadingLevel::H3 => 3,
                        _ => 4,
                    };
                    w.open(&format!("Heading{n}"));
                }
                Tag::Paragraph => {
                    // A list item's first paragraph is the item's own, begun at its marker.
                    let in_fresh_item = w.para.as_ref().is_some_and(|(s, runs)| s == "ListParagraph" && runs.ends_with("<w:tab/></w:r>"));
                    if !in_fresh_item {
                        w.open("Normal");
                    }
                }
                Tag::BlockQuote(_) => {
                    w.close();
                    w.quote += 1;
                }
                Tag::CodeBlock(_) => {
                    w.close();
                    w.fmt.code = true;
                }
                Tag::List(start) => {
                    w.close();
                    w.lists.push(start);
                }
                Tag::Item => {
                    w.open("ListParagraph");
                    let marker = match w.lists.last_mut() {
                        Some(Some(n)) => {
                            let m = format!("{n}.");
                            *n += 1;
                            m
                        }
                        _ => "•".to_owned(),
                    };
                    if let Some((_, runs)) = w.para.as_mut() {
                        runs.push_str(&format!("<w:r><w:t xml:space=\"preserve\">{}</w:t><w:tab/></w:r>", escape(&marker)));
                    }
                }
                Tag::Table(_) => {
                    w.close();
                    w.table = Some(Table::default());
                }
                Tag::TableHead => {
                    if let Some(t) = w.table.as_mut() {
                        t.head = true;
                        t.rows.push((true, Vec::new()));
                    }
                }
                Tag::TableRow => {
                    if let Some(t) = w.table.as_mut() {
                        t.rows.push((false, Vec::new()));
                    }
                }
                Tag::TableCell => {
                    if let Some((_, cells)) = w.table.as_mut().and_then(|t| t.rows.last_mut()) {
                        cells.push(Cell { paragraphs: Vec::new() });
                    }
                    w.para = Some(("TableText".into(), String::new()));
                }
                Tag::Emphasis => w.fmt.italic += 1,
                Tag::Strong => w.fmt.bold += 1,
                Tag::Strikethrough => w.fmt.strike += 1,
                Tag::Link { dest_url, .. } => w.link.push(dest_url.to_string()),
                Tag::Image { dest_url, .. } => w.run(&format!("[image: {dest_url}]")),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::Item => w.close(),
                TagEnd::BlockQuote(_) => {
                    w.close();
                    w.quote = w.quote.saturating_sub(1);
                }
                TagEnd::CodeBlock => {
                    w.close();
                    w.fmt.code = false;
                }
                TagEnd::List(_) => {
                    w.close();
                    w.lists.pop();
                }
                TagEnd::TableCell => w.close(),
                TagEnd::TableHead => {
                    if let Some(t) = w.table.as_mut() {
                        t.head = false;
                    }
                }
                TagEnd::Table => {
                    w.close();
                    if let Some(t) = w.table.take() {
                        w.body.push_str(&Writer::table_xml(t));
                    }
                }
                TagEnd::Emphasis => w.fmt.italic = w.fmt.italic.saturating_sub(1),
                TagEnd::Strong => w.fmt.bold = w.fmt.bold.saturating_sub(1),
                TagEnd::Strikethrough => w.fmt.strike = w.fmt.strike.saturating_sub(1),
                TagEnd::Link => {
                    if let Some(url) = w.link.pop() {
                        if url.starts_with("http") {
                            w.run(&format!(" ({url})"));
                        }
                    }
                }
                _ => {}
            },
            Event::Text(text) => {
                if w.fmt.code && w.table.is_none() && w.para.is_none() {
                    // A code block: one paragraph per line, in the code style.
                    for line in text.trim_end_matches('\n').split('\n') {
                        w.open("Code");
                        w.run(line);
                        w.close();
                    }
                } else {
                    w.run(&text);
                }
            }
            Event::Code(text) => {
                let was = w.fmt.code;
                w.fmt.code = true;
                w.run(&text);
                w.fmt.code = was;
            }
            Event::InlineMath(text) | Event::DisplayMath(text) => w.run(&text),
            Event::SoftBreak => w.run(" "),
            Event::HardBreak => w.line_break(),
            Event::Rule => {
                w.close();
                w.body.push_str("<w:p><w:pPr><w:pBdr><w:bottom w:val=\"single\" w:sz=\"6\" w:space=\"1\" w:color=\"999999\"/></w:pBdr></w:pPr></w:p>");
            }
            Event::TaskListMarker(done) => w.run(if done { "☑ " } else { "☐ " }),
            Event::InlineHtml(html) => match html_tag(&html) {
                // A model's formatting tags: Word has no use for them.
                HtmlTag::Layout => {}
                HtmlTag::Break => w.line_break(),
                // Not a tag Word could show (`<tags>` a model wrote as words): its text.
                HtmlTag::Other => w.run(&html),
            },
            // A block of HTML (the Markdown export's folded reasoning, `<details><summary>…`,
            // or a model's `<div>…</div>`): its text kept, its tags left out, a summary bold.
            Event::Html(html) => {
                for line in html.lines() {
                    let summary = line.to_ascii_lowercase().contains("<summary");
                    let text = strip_tags(line);
                    if text.trim().is_empty() {
                        continue;
                    }
                    w.open("Normal");
                    if summary {
                        w.fmt.bold += 1;
                    }
                    w.run(text.trim());
                    if summary {
                        w.fmt.bold -= 1;
                    }
                    w.close();
                }
            }
            Event::FootnoteReference(name) => w.run(&format!("[{name}]")),
        }
    }
    w.close();
    if let Some(t) = w.table.take() {
        w.body.push_str(&Writer::table_xml(t));
    }
    w.body
}

/// A line of HTML without its tags (entities as written: the report's own HTML has none).
fn strip_tags(line: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in line.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

enum HtmlTag {
    Layout,
    Break,
    Other,
}

fn html_tag(html: &str) -> HtmlTag {
    let t = html.trim().to_ascii_lowercase();
    let name: String = t.trim_start_matches('<').trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    if !(t.starts_with('<') && t.ends_with('>')) {
        return HtmlTag::Other;
    }
    match name.as_str() {
        "br" => HtmlTag::Break,
        "details" | "summary" | "b" | "i" | "em" | "strong" | "u" | "sup" | "sub" | "span" | "div" | "p" | "mark" | "small" | "font" => HtmlTag::Layout,
        _ => HtmlTag::Other,
    }
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

const DOCUMENT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

/// Word's styles for the report: a CJK font for Chinese beside a Latin one, headings that keep
/// with what follows, and a table style with rules.
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri" w:eastAsia="Microsoft YaHei" w:cs="Calibri"/><w:sz w:val="21"/><w:szCs w:val="21"/><w:lang w:val="en-GB" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="276" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="160"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:color w:val="17365D"/><w:sz w:val="36"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120"/><w:outlineLvl w:val="1"/></w:pPr><w:rPr><w:b/><w:color w:val="1F4E79"/><w:sz w:val="28"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading3"><w:name w:val="heading 3"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="200" w:after="80"/><w:outlineLvl w:val="2"/></w:pPr><w:rPr><w:b/><w:sz w:val="24"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading4"><w:name w:val="heading 4"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="160" w:after="60"/><w:outlineLvl w:val="3"/></w:pPr><w:rPr><w:b/><w:i/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Quote"><w:name w:val="Quote"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:pBdr><w:left w:val="single" w:sz="12" w:space="8" w:color="BFBFBF"/></w:pBdr><w:ind w:left="360"/></w:pPr><w:rPr><w:color w:val="595959"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="60"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Code"><w:name w:val="Code"/><w:basedOn w:val="Normal"/><w:pPr><w:shd w:val="clear" w:color="auto" w:fill="F3F3F3"/><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr><w:rPr><w:rFonts w:ascii="Consolas" w:hAnsi="Consolas" w:cs="Consolas"/><w:sz w:val="18"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TableText"><w:name w:val="Table Text"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="0"/></w:pPr><w:rPr><w:sz w:val="19"/></w:rPr></w:style>
<w:style w:type="character" w:styleId="CodeChar"><w:name w:val="Code Char"/><w:rPr><w:rFonts w:ascii="Consolas" w:hAnsi="Consolas" w:cs="Consolas"/><w:sz w:val="19"/></w:rPr></w:style>
<w:style w:type="table" w:styleId="ReportTable"><w:name w:val="Report Table"/><w:tblPr><w:tblBorders><w:top w:val="single" w:sz="4" w:color="A6A6A6"/><w:left w:val="single" w:sz="4" w:color="A6A6A6"/><w:bottom w:val="single" w:sz="4" w:color="A6A6A6"/><w:right w:val="single" w:sz="4" w:color="A6A6A6"/><w:insideH w:val="single" w:sz="4" w:color="A6A6A6"/><w:insideV w:val="single" w:sz="4" w:color="A6A6A6"/></w:tblBorders><w:tblCellMar><w:left w:w="80" w:type="dxa"/><w:right w:w="80" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>
</w:styles>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_word_paragraphs_tables_and_lists() {
        let xml = body_xml("# Title\n\nSome **bold** and `code` & <tags>.\n\n| Field | Value |\n|---|---|\n| Rule | 资本充足率 |\n| Rate | 4.35% |\n\n- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n```\nfn x() {}\nlet y;\n```\n");
        assert!(xml.contains("<w:pStyle w:val=\"Heading1\"/>"), "{xml}");
        assert!(xml.contains("<w:b/></w:rPr><w:t xml:space=\"preserve\">bold</w:t>"), "{xml}");
        assert!(xml.contains("&amp; </w:t></w:r><w:r><w:rPr></w:rPr><w:t xml:space=\"preserve\">&lt;tags&gt;"), "{xml}");
        assert!(xml.contains("<w:tblHeader/>"), "the header row repeats: {xml}");
        assert_eq!(xml.matches("<w:tr>").count(), 3);
        assert!(xml.contains(">资本充足率<"));
        assert!(xml.contains(">•</w:t>") && xml.contains(">2.</w:t>"), "{xml}");
        assert!(xml.contains("<w:pStyle w:val=\"Quote\"/>"), "{xml}");
        assert_eq!(xml.matches("<w:pStyle w:val=\"Code\"/>").count(), 2, "{xml}");
    }

    #[test]
    fn a_table_cell_s_line_break_and_the_folded_reasoning_s_tags() {
        let xml = body_xml("| a |\n|---|\n| one<br>two |\n\n<details><summary>Reasoning</summary>\n\nThought.\n\n</details>\n");
        assert!(xml.contains("one</w:t></w:r><w:r><w:br/></w:r>"), "{xml}");
        assert!(xml.contains(">Thought.<") && !xml.contains("details"), "{xml}");
        assert!(xml.contains("<w:b/></w:rPr><w:t xml:space=\"preserve\">Reasoning</w:t>"), "the fold's label kept: {xml}");
    }

    #[test]
    fn control_characters_a_model_wrote_do_not_break_the_file() {
        let xml = body_xml("bell \u{7} and nul \u{0} and form feed \u{c}");
        assert!(!xml.chars().any(|c| (c as u32) < 0x20), "{xml:?}");
    }
}

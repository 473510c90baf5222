//! The report as PDF, typeset by Typst in-process: A4 pages with a header, a footer carrying the
//! page number and the disclaimer, selectable text, and a CJK font embedded (subset) so Chinese
//! prints as Chinese. Nothing is fetched: the fonts come from the app and the system.

use std::path::PathBuf;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::layout::PagedDocument;
use typst::syntax::{FileId, Source, VirtualPath};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};

use super::typst_markup::{lit, markdown, text};
use super::{calc_overview, provenance, source_lines, status_note, tool_lines, typed_question, CalcNotes, ReasoningMode, Report, DISCLAIMER_EN, DISCLAIMER_ZH};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no font with Chinese characters found: install one (Debian: apt install fonts-noto-cjk) or put one in $FIN_R1_FONTS")]
    NoCjkFont,
    #[error("typesetting the report failed: {0}")]
    Typeset(String),
}

/// Where CJK fonts are looked for, the app's own first.
fn font_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("FIN_R1_FONTS") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(bin) = exe.parent() {
            dirs.push(bin.join("fonts"));
            dirs.push(bin.join("../share/fin-r1-desktop/fonts"));
            dirs.push(bin.join("../lib/fin-r1-desktop/fonts"));
        }
    }
    for d in [
        "/usr/share/fonts/opentype/noto",
        "/usr/share/fonts/noto-cjk",
        "/usr/share/fonts/google-noto-cjk",
        "/usr/share/fonts/truetype/wqy",
        "/usr/share/fonts/truetype/droid",
        "/System/Library/Fonts",
        "C:\\Windows\\Fonts",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Preferred files, best first: Noto Sans CJK (SIL OFL), then common system fallbacks.
const CJK_FILES: &[&str] = &[
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "NotoSansCJK-Bold.ttc",
    "wqy-microhei.ttc",
    "DroidSansFallbackFull.ttf",
    "PingFang.ttc",
    "msyh.ttc",
];

fn cjk_fonts() -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for dir in font_dirs() {
        for name in CJK_FILES {
            let p = dir.join(name);
            if found.iter().any(|(q, _): &(PathBuf, Vec<u8>)| q.file_name() == p.file_name()) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&p) {
                found.push((p, bytes));
            }
        }
    }
    found
}

struct ReportWorld {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: Source,
    today: Option<Datetime>,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    // The report reads no files and fetches nothing.
    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
        self.today
    }
}

/// The page setup every report shares: fonts (`cjk` is the CJK family), header, footer with the
/// page number and the disclaimer, headings and tables.
fn preamble(title: &str, cjk: &str) -> String {
    let mut o = String::new();
    let title_lit = lit(title);
    o.push_str(&format!(
        r##"#set document(title: {title_lit}, author: "Fin-R1 Desktop")
#set text(font: ({cjk}, "Libertinus Serif"), size: 10pt, lang: "zh", region: "cn")
#show raw: set text(font: ("DejaVu Sans Mono", {cjk}), size: 8.5pt)
#show math.equation: set text(font: ("New Computer Modern Math", {cjk}))
#set page(paper: "a4", margin: (x: 2.1cm, top: 2.4cm, bottom: 2.4cm),
  header: context [#set text(size: 8pt, fill: luma(110))
{title_text} #h(1fr) #"Fin-R1 Desktop"
#v(-4pt)
#line(length: 100%, stroke: 0.4pt + luma(180))],
  footer: context [#set text(size: 7.5pt, fill: luma(110))
#"仅供参考，不能替代专业判断 / For reference only" #h(1fr) #counter(page).display("1 / 1", both: true)])
#set par(justify: false, leading: 0.7em)
#set heading(numbering: none)
#show heading.where(level: 1): set text(size: 17pt)
#show heading.where(level: 2): it => {{ v(8pt); block(below: 6pt, text(size: 13pt, it.body)); line(length: 100%, stroke: 0.4pt + luma(190)) }}
#show heading: set text(size: 11.5pt)
#set table(stroke: 0.5pt + luma(170))
// A table longer than what is left of a page runs on to the next with its header row repeated
// (a preset's long form table once moved whole to page 2 and left page 1 mostly blank).
#show table: set block(breakable: true)
#show raw.where(block: true): it => block(fill: luma(245), inset: 7pt, radius: 3pt, width: 100%, breakable: false, it)
#show quote: set text(fill: luma(70))
"##,
        cjk = lit(cjk),
        title_text = text(title),
    ));
    o
}

/// The Typst document for a report; `cjk` is the family of the CJK font.
fn document(r: &Report, cjk: &str) -> String {
    let mut o = preamble(&r.title, cjk);
    o.push_str(&format!("#heading(level: 1, outlined: false)[{}]\n", text(&r.title)));
    let mut meta = vec![format!("日期 / Date: {}", r.generated), format!("时区 / Time zone: {}", r.time_zone)];
    if let Some(s) = r.scenario_name() {
        meta.push(format!("场景 / Scenario: {s}"));
    }
    if let Some(m) = &r.conversation.model {
        meta.push(format!("模型 / Model: {m}"));
    }
    meta.push(format!("Fin-R1 Desktop {}", r.app_version));
    o.push_str("#text(size: 8.5pt, fill: luma(90))[");
    for m in &meta {
        o.push_str(&format!("{} #linebreak()", text(m)));
    }
    o.push_str("]\n");
    o.push_str(&format!(
        "#block(fill: rgb(\"#fbf7ec\"), stroke: (left: 2pt + rgb(\"#b8860b\")), inset: 8pt, width: 100%)[#text(size: 9pt)[{} #linebreak() {}]]\n",
        text(DISCLAIMER_ZH),
        text(DISCLAIMER_EN)
    ));
    if let Some(line) = calc_overview(r) {
        o.push_str(&format!("#text(size: 9pt)[{}]\n", text(&line)));
    }
    let lead = r.lead_sections();
    if !lead.is_empty() {
        o.push_str("#block(fill: rgb(\"#f5f8fc\"), stroke: 0.5pt + rgb(\"#c9d3e0\"), radius: 4pt, inset: 10pt, width: 100%)[\n");
        o.push_str(&format!("#heading(level: 2, outlined: false)[{}]\n", text("摘要 / Summary")));
        for (heading, body) in &lead {
            o.push_str(&format!("#heading(level: 3, outlined: false)[{}]\n{}\n", text(heading), markdown(body, 4)));
        }
        o.push_str("]\n");
    }
    for t in &r.turns {
        let (typed, fields) = typed_question(&t.question, r.scenario.as_ref());
        o.push_str(&format!("#heading(level: 2, outlined: false)[{}]\n", text(&t.heading())));
        o.push_str(&format!("#block(fill: luma(244), inset: 8pt, radius: 3pt, width: 100%)[{}]\n", text(typed.trim())));
        if !fields.is_empty() {
            o.push_str("#table(columns: 2, inset: 5pt, table.header([#strong[字段 / Field]], [#strong[值 / Value]]), ");
            for (k, v) in &fields {
                o.push_str(&format!("[{}], [{}], ", text(k), text(v)));
            }
            o.push_str(")\n");
        }
        let Some(a) = &t.answer else {
            o.push_str(&format!("#emph[{}]\n", text("没有回答 / no answer")));
            continue;
        };
        if !a.reasoning.trim().is_empty() && r.reasoning != ReasoningMode::None {
            // Paper cannot fold: "collapsed" prints the reasoning small and grey.
            let size = if r.reasoning == ReasoningMode::Collapsed { "7.5pt" } else { "8.5pt" };
            o.push_str(&format!(
                "#heading(level: 3, outlined: false)[{}]\n#block(stroke: (left: 1.5pt + rgb(\"#b8860b\")), inset: (left: 8pt, y: 4pt))[#text(size: {size}, fill: luma(80))[{}]]\n",
                text("推理过程 / Reasoning"),
                text(a.reasoning.trim())
            ));
        }
        let tools = tool_lines(t);
        if !tools.is_empty() {
            o.push_str(&format!("#heading(level: 3, outlined: false)[{}]\n#text(size: 8pt)[", text("工具调用 / Tool calls")));
            for l in &tools {
                o.push_str(&format!("{} #linebreak() ", text(l)));
            }
            o.push_str("]\n");
        }
        o.push_str(&format!("#heading(level: 3, outlined: false)[{}]\n", text("回答 / Answer")));
        o.push_str(&markdown(&a.answer, 4));
        o.push('\n');
        let sources = source_lines(t);
        if !sources.is_empty() {
            o.push_str(&format!("#heading(level: 4, outlined: false)[{}]\n#text(size: 8pt)[", text("来源 / Sources")));
            for l in &sources {
                o.push_str(&format!("{} #linebreak() ", text(l)));
            }
            o.push_str("]\n");
        }
        if let Some(note) = status_note(a) {
            o.push_str(&format!("#text(fill: rgb(\"#9a6700\"), size: 9pt)[{}]\n", text(note)));
        }
        let calc = CalcNotes::of(a);
        if let Some(line) = calc.line() {
            o.push_str(&format!("#block(stroke: (left: 1.5pt + luma(140)), inset: (left: 8pt, y: 3pt))[#text(size: 8.5pt)[#strong[{}]", text(&line)));
            for (part, statement, recomputed) in &calc.differing {
                o.push_str(&format!(" #linebreak() #text(fill: rgb(\"#cf222e\"))[{}]", text(&format!("≠ {part}: {statement} → {recomputed}"))));
            }
            o.push_str("]]\n");
        }
        o.push_str("#text(size: 7pt, fill: luma(90))[#table(columns: (auto, 1fr), inset: 3pt, stroke: 0.3pt + luma(200), ");
        for (k, v) in provenance(a, &t.attachments) {
            o.push_str(&format!("[{}], [{}], ", text(k), text(&v)));
        }
        o.push_str(")]\n");
    }
    o.push_str(&format!(
        "#v(12pt)#line(length: 100%, stroke: 0.4pt + luma(190))#text(size: 8.5pt, fill: luma(90))[{} #linebreak() {}]\n",
        text(DISCLAIMER_ZH),
        text(DISCLAIMER_EN)
    ));
    o
}

/// Typesets the report.
pub fn to_pdf(r: &Report) -> Result<Vec<u8>, PdfError> {
    typeset(|cjk| document(r, cjk))
}

/// A Markdown document (an evaluation run's report) typeset with the reports' page setup.
pub fn markdown_pdf(title: &str, md: &str) -> Result<Vec<u8>, PdfError> {
    typeset(|cjk| format!("{}{}\n", preamble(title, cjk), markdown(md, 1)))
}

/// Loads the fonts, writes the document for the CJK family found, and typesets it.
fn typeset(source: impl FnOnce(&str) -> String) -> Result<Vec<u8>, PdfError> {
    let mut fonts: Vec<Font> = typst_assets::fonts().flat_map(|d| Font::iter(Bytes::new(d))).collect();
    let cjk_files = cjk_fonts();
    let first_cjk = fonts.len();
    for (_, bytes) in cjk_files {
        fonts.extend(Font::iter(Bytes::new(bytes)));
    }
    // The family to set: a Simplified Chinese face where the collection has one.
    let cjk = fonts[first_cjk..]
        .iter()
        .map(|f| f.info().family.clone())
        .find(|f| f.ends_with(" SC"))
        .or_else(|| fonts.get(first_cjk).map(|f| f.info().family.clone()))
        .ok_or(PdfError::NoCjkFont)?;
    let book = FontBook::from_fonts(&fonts);
    let main = Source::new(FileId::new(None, VirtualPath::new("/report.typ")), source(&cjk));
    let today = jiff::Zoned::now();
    let world = ReportWorld {
        library: LazyHash::new(Library::builder().build()),
        book: LazyHash::new(book),
        fonts,
        main,
        today: Datetime::from_ymd(today.year() as i32, today.month() as u8, today.day() as u8),
    };
    let doc: PagedDocument =
        typst::compile(&world).output.map_err(|errs| PdfError::Typeset(errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; ")))?;
    typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
        .map_err(|errs| PdfError::Typeset(errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; ")))
}

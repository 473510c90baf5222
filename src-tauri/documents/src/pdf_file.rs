//! PDFs through pdf-extract (lopdf underneath): every character with its place on the page,
//! laid out by `pdf_layout`; each page opens with a page marker; a page with an image and no
//! text is a scanned page, read by OCR where this machine has it (`ocr`), said to be one
//! otherwise.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

use super::limits::{Budget, MAX_GLYPHS_PER_PAGE, MAX_PAGE_POINTS};
use super::pdf_layout::{page_blocks, Glyph};
use super::{Block, DocumentError};

pub struct Read {
    pub pages: u32,
    pub notes: Vec<String>,
    pub blocks: Vec<Block>,
}

pub fn read(bytes: &[u8], path: &str, budget: &mut Budget, on_page: &mut dyn FnMut(u32, u32) -> bool) -> Result<Read, DocumentError> {
    let unreadable = |reason: String| DocumentError::Unreadable { path: path.to_owned(), kind: "PDF", reason };
    if !bytes.starts_with(b"%PDF-") && !bytes.get(..1024).is_some_and(|head| head.windows(5).any(|w| w == b"%PDF-")) {
        return Err(unreadable("it does not start as a PDF does".into()));
    }
    quiet_library_panics();
    let loaded = catch_unwind(|| pdf_extract::Document::load_mem(bytes));
    let mut doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) if is_password_error(&e) => return Err(DocumentError::Encrypted(path.to_owned())),
        Ok(Err(e)) => return Err(unreadable(format!("it is damaged or cut short ({e})"))),
        Err(_) => return Err(unreadable("its structure is damaged".into())),
    };
    if doc.is_encrypted() {
        // A file locked only against editing opens with the empty password, as in any viewer.
        if doc.decrypt("").is_err() {
            return Err(DocumentError::Encrypted(path.to_owned()));
        }
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(unreadable("it has no pages".into()));
    }
    let mut blocks = Vec::new();
    let mut scanned = Vec::new();
    // Found once a file, at its first scanned page.
    let mut ocr: Option<Option<super::ocr::Ocr>> = None;
    let mut read_by_ocr: Vec<(u32, f32)> = Vec::new();
    let mut ocr_failed: Vec<(u32, String)> = Vec::new();
    let mut failed = Vec::new();
    let mut crowded = Vec::new();
    let total = pages.len() as u32;
    for (done, (&number, &id)) in pages.iter().enumerate() {
        if !on_page(done as u32, total) {
            return Err(DocumentError::Cancelled(path.to_owned()));
        }
        if budget.full() {
            budget.note(format!("pages {number}–{} left out", pages.keys().last().copied().unwrap_or(number)));
            break;
        }
        blocks.push(Block::Page { number });
        let mut page = PageGlyphs::default();
        let drawn = catch_unwind(AssertUnwindSafe(|| pdf_extract::output_doc_page(&doc, &mut page, number)));
        match drawn {
            Ok(Ok(())) => {}
            // A page with more characters than any page prints is cut where the limit came.
            Ok(Err(_)) if page.glyphs.len() >= MAX_GLYPHS_PER_PAGE => crowded.push(number),
            // What was read before the error is kept; the page is named in the notes.
            Ok(Err(_)) | Err(_) => failed.push(number),
        }
        if page.glyphs.iter().all(|g| g.text.trim().is_empty()) {
            let images = catch_unwind(AssertUnwindSafe(|| doc.get_page_images(id).map(|v| v.len()).unwrap_or(0))).unwrap_or(0);
            if images > 0 {
                let engine = ocr.get_or_insert_with(super::ocr::Ocr::find);
                let within = (read_by_ocr.len() as u32) < super::ocr::MAX_OCR_PAGES;
                if let (Some(engine), true) = (engine.as_ref(), within) {
                    match engine.page(std::path::Path::new(path), number) {
                        Ok(p) if p.words > 0 && budget.take(p.text.len()) => {
                            read_by_ocr.push((number, p.confidence));
                            blocks.push(Block::Paragraph { text: format!("[p. {number}: read by OCR, confidence {:.0}%]", p.confidence) });
                            blocks.extend(p.text.split("\n\n").map(|t| Block::Paragraph { text: t.to_owned() }));
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => ocr_failed.push((number, e)),
                    }
                }
                scanned.push(number);
                blocks.push(Block::Paragraph { text: format!("[p. {number}: a scanned image with no text layer; not read]") });
            }
            continue;
        }
        let width = page.width();
        // The layout is ours, but a page the library drew oddly must not end the document.
        match catch_unwind(AssertUnwindSafe(|| page_blocks(page.glyphs, width))) {
            Ok(laid) => {
                let text: usize = laid.iter().map(block_len).sum();
                if budget.take(text) {
                    blocks.extend(laid);
                }
            }
            Err(_) => failed.push(number),
        }
    }
    on_page(total, total);
    let mut notes = Vec::new();
    if !read_by_ocr.is_empty() {
        let pages: Vec<u32> = read_by_ocr.iter().map(|(n, _)| *n).collect();
        let mean = read_by_ocr.iter().map(|(_, c)| c).sum::<f32>() / read_by_ocr.len() as f32;
        let low: Vec<u32> = read_by_ocr.iter().filter(|(_, c)| *c < 60.0).map(|(n, _)| *n).collect();
        notes.push(format!("{} scanned, read by OCR (Tesseract; mean confidence {mean:.0}%): {}", plural_pages(pages.len()), page_list(&pages)));
        if !low.is_empty() {
            notes.push(format!("OCR confidence under 60% (check the figures against the page): {}", page_list(&low)));
        }
    }
    if let Some((n, why)) = ocr_failed.first() {
        notes.push(format!("OCR failed on {} (p. {n}: {why})", plural_pages(ocr_failed.len())));
    }
    if !scanned.is_empty() {
        if scanned.len() as u32 == total {
            let pages = if total == 1 { "its page is".to_owned() } else { format!("all {total} pages are") };
            let why = match (&ocr, ocr_failed.first()) {
                (Some(Some(_)), Some((n, e))) => format!("OCR could not read them (p. {n}: {e})"),
                (Some(Some(_)), None) => "OCR found no text in them".to_owned(),
                _ => "this machine has no OCR (install tesseract-ocr and poppler-utils, or run it through ocrmypdf and attach the result)".to_owned(),
            };
            return Err(unreadable(format!("{pages} scanned images with no text layer and {why}")));
        }
        notes.push(format!("{} scanned with no text layer, not read: {}", plural_pages(scanned.len()), page_list(&scanned)));
    }
    if !crowded.is_empty() {
        notes.push(format!("{} with more than {MAX_GLYPHS_PER_PAGE} characters read up to there: {}", plural_pages(crowded.len()), page_list(&crowded)));
    }
    if !failed.is_empty() {
        notes.push(format!("{} could not be read in full: {}", plural_pages(failed.len()), page_list(&failed)));
    }
    Ok(Read { pages: total, notes, blocks })
}

fn block_len(b: &Block) -> usize {
    match b {
        Block::Page { .. } => 8,
        Block::Heading { text, .. } | Block::Paragraph { text } => text.len() + 1,
        Block::Table { rows, .. } => rows.iter().flatten().map(|c| c.len() + 3).sum(),
    }
}

fn plural_pages(n: usize) -> String {
    if n == 1 {
        "1 page".into()
    } else {
        format!("{n} pages")
    }
}

/// "3–5, 9" from sorted page numbers.
pub fn page_list(pages: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pages.len() {
        let mut j = i;
        while j + 1 < pages.len() && pages[j + 1] == pages[j] + 1 {
            j += 1;
        }
        out.push(if i == j { pages[i].to_string() } else { format!("{}–{}", pages[i], pages[j]) });
        i = j + 1;
    }
    out.join(", ")
}

fn is_password_error(e: &pdf_extract::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("password") || text.contains("decrypt") || text.contains("encrypt")
}

/// pdf-extract panics on some malformed files; each page is read under `catch_unwind` and the
/// failure reported as a note. Its panic messages would go to stderr mid-answer: they are
/// silenced, every other panic still reaches the hook it had.
fn quiet_library_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let from_reader = info.location().is_some_and(|l| {
                let f = l.file();
                f.contains("pdf-extract")
                    || f.contains("lopdf")
                    || f.contains("adobe-cmap-parser")
                    || f.contains("cff-parser")
                    || f.contains("type1-encoding-parser")
            });
            if !from_reader {
                previous(info);
            }
        }));
    });
}

/// Every character pdf-extract draws on a page, placed in points from the page's top left.
#[derive(Default)]
struct PageGlyphs {
    left: f64,
    top: f64,
    width: f64,
    glyphs: Vec<Glyph>,
}

impl PageGlyphs {
    /// The page's width for the layout: its box as the file declares it when that is a page
    /// PDF allows, else as far right as its text goes (a box can be any number, or none).
    fn width(&self) -> f64 {
        if self.width.is_finite() && self.width > 0.0 && self.width <= MAX_PAGE_POINTS {
            return self.width;
        }
        self.glyphs.iter().map(|g| g.x + g.width).filter(|x| x.is_finite()).fold(0.0, f64::max).clamp(0.0, MAX_PAGE_POINTS)
    }
}

impl OutputDev for PageGlyphs {
    fn begin_page(&mut self, _page: u32, media_box: &MediaBox, _art_box: Option<(f64, f64, f64, f64)>) -> Result<(), OutputError> {
        self.left = media_box.llx;
        self.top = media_box.ury;
        self.width = media_box.urx - media_box.llx;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(&mut self, trm: &Transform, width: f64, _spacing: f64, font_size: f64, char: &str) -> Result<(), OutputError> {
        // The text rendering matrix places the glyph's origin; its font size is scaled as a
        // square of the same area (as pdf-extract's own text output does).
        let (x, y) = (trm.m31 - self.left, self.top - trm.m32);
        let (vx, vy) = (font_size * (trm.m11 + trm.m21), font_size * (trm.m12 + trm.m22));
        let size = (vx * vy).abs().sqrt();
        if !size.is_finite() || size <= 0.0 || !x.is_finite() || !y.is_finite() || !width.is_finite() {
            return Ok(());
        }
        if self.glyphs.len() >= MAX_GLYPHS_PER_PAGE {
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        self.glyphs.push(Glyph { x, y, width: width * size, size, text: char.to_owned() });
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

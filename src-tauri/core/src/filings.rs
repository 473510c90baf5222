//! The library of filings: folders the analyst adds, read once (each file by the reader child,
//! cut into parts at its own boundaries, `documents::chunks`) and re-read only when a file
//! changes (size and time, then its SHA-256); the parts that best match a question, within the
//! prompt's budget, numbered `[n]` for the model to cite; and the citations an answer makes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::documents::{Document, DocumentError};
use crate::store::{AnswerSource, LibraryFolder, LibraryHit, LibraryScope, NewLibraryFile, NewPart, Store, StoreError};

/// The kinds the readers take, by extension.
pub const EXTENSIONS: &[&str] = &["pdf", "csv", "xlsx", "xlsm", "xls", "ods", "docx"];
/// Files listed from one folder, at most (the rest are named as left out).
pub const MAX_FILES: usize = 10_000;
/// Folders below the one added, at most.
pub const MAX_DEPTH: usize = 8;
/// Parts given to one answer, at most.
pub const MAX_SOURCES: usize = 12;
/// Candidates ranked before the budget is filled.
const CANDIDATES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum FilingsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} is not a folder")]
    NotAFolder(String),
    #[error("no library folder has id {0}")]
    NoFolder(i64),
    #[error("stopped")]
    Stopped,
    #[error("{new} is inside or holds {existing}, already in the library: add one of them")]
    Nested { new: String, existing: String },
    #[error("{0} is not in the library: add its folder first (Settings → Library, or `fin-r1 library add FOLDER`)")]
    NotInLibrary(String),
    #[error("no collection is named {0:?}")]
    NoCollection(String),
    #[error("the collection {name:?} does not hold {paths}")]
    NotInCollection { name: String, paths: String },
    #[error("a collection needs a name")]
    Unnamed,
}

impl FilingsError {
    pub fn kind(&self) -> fin_r1_engine::ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::NotAFolder(_) => fin_r1_engine::ErrorKind::NotFound,
            Self::NoFolder(_) => fin_r1_engine::ErrorKind::NotFound,
            Self::Stopped => fin_r1_engine::ErrorKind::Cancelled,
            Self::Nested { .. } | Self::Unnamed => fin_r1_engine::ErrorKind::InvalidRequest,
            Self::NotInLibrary(_) | Self::NoCollection(_) | Self::NotInCollection { .. } => fin_r1_engine::ErrorKind::NotFound,
        }
    }
}

/// How a file is read: the reader child in the app and the CLI; the flag, set, stops it.
pub type Reader = Arc<dyn Fn(&Path, &AtomicBool) -> Result<Document, DocumentError> + Send + Sync>;

/// The reader child of this program (`documents::child`), as the app and the CLI read.
pub fn child_reader() -> Reader {
    Arc::new(|path, stop| {
        use crate::documents::child::{extract_in_child, reader_program, ChildLimits};
        extract_in_child(&reader_program(), path, ChildLimits::default(), &mut |_, _| {}, stop)
    })
}

/// Where a scan is, for a progress line: files done of total, pages read, time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScanProgress {
    pub folder_id: i64,
    pub done: u32,
    pub total: u32,
    /// The file being read.
    pub file: String,
    /// Pages read in this scan (a PDF's; other kinds count one).
    pub pages: u32,
    pub ms: u64,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScanReport {
    pub folder_id: i64,
    pub added: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Files the reader refused (each with its reason in the folder's file list).
    pub refused: u32,
    /// Files gone since the last scan.
    pub missing: u32,
    pub pages: u32,
    pub ms: u64,
    /// What the scan left out (files past the limit, folders too deep, links).
    pub notes: Vec<String>,
    /// The folder itself is gone: nothing was read, its parts are kept.
    pub folder_missing: bool,
}

/// Adds a folder to the library (not yet read: `scan` reads it).
pub async fn add_folder(store: &Store, path: &Path) -> Result<LibraryFolder, FilingsError> {
    let path = std::fs::canonicalize(path).map_err(|_| FilingsError::NotAFolder(path.display().to_string()))?;
    if !path.is_dir() {
        return Err(FilingsError::NotAFolder(path.display().to_string()));
    }
    // A file belongs to one folder: a folder inside another (or holding one) would read it twice
    // and each scan would take the other's files for gone.
    for f in store.library_folders().await? {
        let existing = Path::new(&f.path);
        if existing != path && (path.starts_with(existing) || existing.starts_with(&path)) {
            return Err(FilingsError::Nested { new: path.display().to_string(), existing: f.path });
        }
    }
    Ok(store.add_library_folder(&path.to_string_lossy()).await?)
}

/// What a folder holds that a reader takes.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted.
    pub files: Vec<PathBuf>,
    pub notes: Vec<String>,
    /// Folders that could not be listed: their files are not taken for gone.
    pub unlisted: Vec<PathBuf>,
}

/// The files a folder holds that a reader takes; links are not followed.
pub fn list_files(root: &Path) -> Listing {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut unlisted = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut over = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            notes.push(format!("{}: could not be listed (what was read from it is kept)", dir.display()));
            unlisted.push(dir);
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with("~$") {
                continue;
            }
            let Ok(kind) = e.file_type() else { continue };
            let path = e.path();
            if kind.is_symlink() {
                notes.push(format!("{}: a link, not followed", path.display()));
            } else if kind.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    notes.push(format!("{}: deeper than {MAX_DEPTH} folders, not read", path.display()));
                } else {
                    stack.push((path, depth + 1));
                }
            } else if kind.is_file() {
                let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("").to_ascii_lowercase();
                if EXTENSIONS.contains(&ext.as_str()) {
                    if files.len() < MAX_FILES {
                        files.push(path);
                    } else {
                        over += 1;
                    }
                }
            }
        }
    }
    if over > 0 {
        notes.push(format!("{over} more files past the first {MAX_FILES} were not read"));
    }
    files.sort();
    Listing { files, notes, unlisted }
}

fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Reads what changed in a folder since its last scan: new and changed files read, gone ones
/// marked, the rest left as they are. `stop` ends it, the file being read too (what was read
/// before stays).
pub async fn scan(
    store: &Store,
    folder_id: i64,
    read: Reader,
    progress: &mut (dyn FnMut(&ScanProgress) + Send),
    stop: &Arc<AtomicBool>,
) -> Result<ScanReport, FilingsError> {
    let started = Instant::now();
    let folder = store.library_folder(folder_id).await?.ok_or(FilingsError::NoFolder(folder_id))?;
    let root = PathBuf::from(&folder.path);
    let mut report = ScanReport { folder_id, ..ScanReport::default() };
    if !root.is_dir() {
        store.set_library_folder_scanned(folder_id, "missing").await?;
        report.folder_missing = true;
        return Ok(report);
    }
    let listing = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || list_files(&root)).await.unwrap_or_default()
    };
    let Listing { files, notes, unlisted } = listing;
    report.notes = notes;
    let known: HashMap<String, crate::store::LibraryFile> = store.library_files(folder_id).await?.into_iter().map(|f| (f.path.clone(), f)).collect();
    let total = u32::try_from(files.len()).unwrap_or(u32::MAX);
    let mut seen = std::collections::HashSet::new();
    for (i, path) in files.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Err(FilingsError::Stopped);
        }
        let shown = path.to_string_lossy().into_owned();
        seen.insert(shown.clone());
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        progress(&ScanProgress { folder_id, done: u32::try_from(i).unwrap_or(u32::MAX), total, file: file_name.clone(), pages: report.pages, ms: ms(started) });
        let Ok(meta) = std::fs::metadata(path) else { continue };
        let (size, mtime) = (meta.len(), mtime_of(&meta));
        let before = known.get(&shown);
        if let Some(b) = before {
            // A refused file is tried again: the reason may have passed (a copy in progress, a
            // reader that timed out).
            if b.status == "indexed" && b.size == i64::try_from(size).unwrap_or(i64::MAX) && b.mtime == mtime {
                report.unchanged += 1;
                continue;
            }
        }
        // Same bytes under a new time (a copy, a touch): nothing to read again.
        let hash = {
            let p = path.clone();
            tokio::task::spawn_blocking(move || fin_r1_engine::digest::sha256_file(&p).ok()).await.ok().flatten()
        };
        if let (Some(b), Some(h)) = (before, &hash) {
            if b.status == "indexed" && &b.sha256 == h {
                store.touch_library_file(b.id, mtime).await?;
                report.unchanged += 1;
                continue;
            }
        }
        let read_one = read.clone();
        let p = path.clone();
        let stop_one = stop.clone();
        let doc = tokio::task::spawn_blocking(move || read_one(&p, &stop_one))
            .await
            .unwrap_or_else(|e| Err(DocumentError::reader(format!("the reader failed: {e}"))));
        if stop.load(Ordering::Relaxed) {
            // Stopped mid-file: the file is not refused, only not read this time.
            return Err(FilingsError::Stopped);
        }
        let kind = path.extension().and_then(|x| x.to_str()).unwrap_or("").to_ascii_lowercase();
        // As refused: what is known without reading it.
        let refused = NewLibraryFile {
            folder_id,
            path: &shown,
            file_name: &file_name,
            kind: &kind,
            size,
            mtime,
            sha256: hash.as_deref().unwrap_or(""),
            pages: None,
            error: None,
            notes: &[],
        };
        match doc {
            Ok(doc) => {
                let parts: Vec<NewPart> = crate::documents::chunks::parts(&doc)
                    .into_iter()
                    .map(|p| NewPart { page: p.page, label: p.label, text: p.text, tokens: p.tokens })
                    .collect();
                report.pages += doc.meta.pages.unwrap_or(1);
                let read = NewLibraryFile { kind: doc.meta.kind.as_str(), sha256: &doc.meta.sha256, pages: doc.meta.pages, notes: &doc.meta.notes, ..refused };
                store.put_library_file(&read, &parts).await?;
            }
            Err(e) => {
                report.refused += 1;
                let reason = e.to_string();
                store.put_library_file(&NewLibraryFile { error: Some(&reason), ..refused }, &[]).await?;
                continue;
            }
        }
        if before.is_some() {
            report.updated += 1;
        } else {
            report.added += 1;
        }
    }
    for (path, f) in &known {
        let under_unlisted = unlisted.iter().any(|d| Path::new(path).starts_with(d));
        if !seen.contains(path) && f.status != "missing" && !under_unlisted {
            store.mark_library_file_missing(f.id).await?;
            report.missing += 1;
        }
    }
    store.set_library_folder_scanned(folder_id, "ok").await?;
    report.ms = ms(started);
    progress(&ScanProgress { folder_id, done: total, total, file: String::new(), pages: report.pages, ms: report.ms });
    Ok(report)
}

fn ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The parts that best match `question`, as many as fit `budget` tokens (at most
/// `MAX_SOURCES`), best first: bm25 over the trigram index and, for Chinese, the count of the
/// question's two-character words a part holds, fused by rank (reciprocal rank fusion).
pub async fn retrieve(store: &Store, scope: LibraryScope, question: &str, budget: usize) -> Result<Vec<LibraryHit>, StoreError> {
    let ranked = store.search_library(scope, question, CANDIDATES).await?;
    let words = store.search_library_words(scope, &crate::store::library::chinese_bigrams(question), CANDIDATES).await?;
    let mut fused: HashMap<i64, (f64, LibraryHit)> = HashMap::new();
    for list in [ranked, words] {
        for (i, h) in list.into_iter().enumerate() {
            let score = 1.0 / (60.0 + i as f64);
            fused.entry(h.part_id).and_modify(|e| e.0 += score).or_insert((score, h));
        }
    }
    let mut hits: Vec<(f64, LibraryHit)> = fused.into_values().collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.part_id.cmp(&b.1.part_id)));
    let hits = hits.into_iter().map(|(_, h)| h);
    let mut used = 0usize;
    let mut out = Vec::new();
    for h in hits {
        let t = usize::try_from(h.tokens).unwrap_or(usize::MAX);
        if used + t > budget {
            continue;
        }
        used += t;
        out.push(h);
        if out.len() >= MAX_SOURCES {
            break;
        }
    }
    Ok(out)
}

/// The sources as an answer keeps them, numbered from 1 as the prompt shows them.
pub fn sources(message_id: i64, hits: &[LibraryHit]) -> Vec<AnswerSource> {
    hits.iter()
        .enumerate()
        .map(|(i, h)| AnswerSource {
            message_id,
            n: i64::try_from(i + 1).unwrap_or(i64::MAX),
            part_id: Some(h.part_id),
            path: h.path.clone(),
            file_name: h.file_name.clone(),
            page: h.page,
            label: h.label.clone(),
            sha256: h.sha256.clone(),
            text: h.text.clone(),
        })
        .collect()
}

/// Adds files to the collection `name` (made if new): each must be a file the library holds,
/// named as it was found or by any path that leads to it.
pub async fn add_to_collection(store: &Store, name: &str, files: &[PathBuf]) -> Result<crate::store::LibraryCollection, FilingsError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FilingsError::Unnamed);
    }
    let mut paths = Vec::with_capacity(files.len());
    for f in files {
        paths.push(library_path(store, f).await?);
    }
    Ok(store.add_to_collection(name, &paths).await?)
}

/// The path the library holds `file` under: as given, or as the folder's listing names it.
pub async fn library_path(store: &Store, file: &Path) -> Result<String, FilingsError> {
    let given = file.to_string_lossy().into_owned();
    if store.library_file_at(&given).await?.is_some() {
        return Ok(given);
    }
    if let Ok(real) = std::fs::canonicalize(file) {
        let real = real.to_string_lossy().into_owned();
        if store.library_file_at(&real).await?.is_some() {
            return Ok(real);
        }
    }
    Err(FilingsError::NotInLibrary(given))
}

/// The collection named `name`.
pub async fn collection_named(store: &Store, name: &str) -> Result<crate::store::LibraryCollection, FilingsError> {
    store.library_collections().await?.into_iter().find(|c| c.name == name.trim()).ok_or_else(|| FilingsError::NoCollection(name.to_owned()))
}

/// A cited file shown in the window, at most (a larger one is opened with the system's viewer).
pub const MAX_VIEW_BYTES: u64 = 256 << 20;

/// Whether a cited file is still the one the answer read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// The same bytes (its SHA-256 matches).
    Same,
    /// Changed since the answer: the page shown may not be the page read.
    Changed,
    /// Gone from where it was.
    Missing,
    /// Over `MAX_VIEW_BYTES`: not shown in the window.
    TooBig,
    /// There, but not readable (permissions, not a plain file): `why` says.
    Unreadable,
}

/// What the window needs to show a cited source at its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SourceCheck {
    pub state: SourceState,
    /// Drawn as its pages (a PDF), or shown as the passage read (a sheet, a document).
    pub paged: bool,
    /// The page was a scan read by OCR: its image has no text to mark.
    pub ocr: bool,
    /// Why an `Unreadable` file could not be read.
    pub why: Option<String>,
}

/// Checks that a cited file is still the one read: its size first, then its SHA-256.
pub fn check_source(source: &AnswerSource) -> SourceCheck {
    check_file(Path::new(&source.path), &source.sha256, source.text.contains(": read by OCR, confidence"))
}

/// Whether the file at `path` is still the one whose SHA-256 was `sha256` (a cited source, an
/// attachment's original): its size first, then its hash.
pub fn check_file(path: &Path, sha256: &str, ocr: bool) -> SourceCheck {
    let paged = path.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("pdf"));
    let mut why = None;
    let state = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SourceState::Missing,
        Err(e) => {
            why = Some(e.to_string());
            SourceState::Unreadable
        }
        // A folder, a pipe or a device where the file was: never opened.
        Ok(m) if !m.is_file() => {
            why = Some("not a plain file".into());
            SourceState::Unreadable
        }
        Ok(m) if m.len() > MAX_VIEW_BYTES => SourceState::TooBig,
        Ok(_) => match fin_r1_engine::digest::sha256_file(path) {
            Ok(h) if h.eq_ignore_ascii_case(sha256) => SourceState::Same,
            Ok(_) => SourceState::Changed,
            Err(e) => {
                why = Some(e.to_string());
                SourceState::Unreadable
            }
        },
    };
    SourceCheck { state, paged, ocr, why }
}

/// A cited PDF's bytes for the window's page view: read up to `MAX_VIEW_BYTES`, whatever the
/// file grows to meanwhile.
pub fn read_source(source: &AnswerSource) -> std::io::Result<Vec<u8>> {
    read_pdf(Path::new(&source.path), &source.file_name)
}

/// A PDF's bytes for a page view (a cited source, an attachment's original), up to
/// `MAX_VIEW_BYTES`; only a plain file named .pdf is opened.
pub fn read_pdf(path: &Path, file_name: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    if !path.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("pdf")) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{file_name} is not a PDF: its passage is shown as read")));
    }
    // Never opened unless a plain file (a pipe named like the PDF would block the read).
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} is not a plain file", file_name)));
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_VIEW_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_VIEW_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is over {} MB: open it with the system's viewer", file_name, MAX_VIEW_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

/// A question followed by the library's excerpts, each numbered, and how to cite them.
pub fn with_excerpts(question: &str, hits: &[LibraryHit]) -> String {
    if hits.is_empty() {
        return format!("{question}\n\n---\nThe library has no passage that matches this question: say so if the answer needs one.");
    }
    let mut s = format!("{question}\n\n---\nExcerpts from the analyst's library. Answer from them, and after each fact taken from one cite it as [n] (its number below); say so when they do not hold the answer.\n");
    for (i, h) in hits.iter().enumerate() {
        s.push_str(&format!("\n[{}] {}\n{}\n", i + 1, h.label, h.text.trim()));
    }
    s
}

/// A citation in an answer: `[n]` or `【n】`, `[n, m]`, and a range `[n–m]` read as each
/// number in it (at most 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Citation {
    pub n: u32,
    /// Byte span of the bracket in the answer.
    pub start: u32,
    pub end: u32,
    /// The answer was given a source with this number.
    pub known: bool,
}

/// The citations in `answer`, given that it had `sources` numbered from 1.
pub fn citations(answer: &str, sources: usize) -> Vec<Citation> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < answer.len() {
        let rest = &answer[i..];
        let (open_len, close) = if rest.starts_with('[') {
            (1, ']')
        } else if rest.starts_with('【') {
            ('【'.len_utf8(), '】')
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let Some(end) = rest[open_len..].find(close).map(|j| open_len + j) else { break };
        let inner = &rest[open_len..end];
        let after = end + close.len_utf8();
        // A markdown link's text is not a citation.
        let is_link = close == ']' && rest[after..].starts_with('(');
        let numbers = if inner.is_empty() || inner.len() > 32 || is_link { None } else { numbers_in(inner) };
        match numbers {
            Some(ns) => {
                let (start, stop) = (u32::try_from(i).unwrap_or(u32::MAX), u32::try_from(i + after).unwrap_or(u32::MAX));
                for n in ns {
                    out.push(Citation { n, start, end: stop, known: (n as usize) <= sources });
                }
                i += after;
            }
            None => i += open_len,
        }
    }
    out
}

/// `1`, `1, 3`, `2–4`: the numbers, or none when the text is anything else.
fn numbers_in(inner: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in inner.split([',', '，', ';', '、']) {
        let part = part.trim();
        let num = |s: &str| s.trim().parse::<u32>().ok().filter(|n| *n > 0 && *n < 1000);
        match part.split_once(['-', '–', '—', '~']) {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a || b - a > 20 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read_as_numbers_and_checked_against_the_sources() {
        let c = citations("Revenue rose 12% [1]. Margin fell [2, 3]; see [9]. A [link](x) and [note] and [1](y).", 3);
        let got: Vec<(u32, bool)> = c.iter().map(|c| (c.n, c.known)).collect();
        assert_eq!(got, vec![(1, true), (2, true), (3, true), (9, false)]);
        assert_eq!(&"Revenue rose 12% [1]."[c[0].start as usize..c[0].end as usize], "[1]");
        assert!(citations("[", 1).is_empty());
        assert!(citations("净利润增长[1]。", 1)[0].known);
        let zh = citations("营收增长【2】，见[1–3]与[5-4]。", 3);
        assert_eq!(zh.iter().map(|c| c.n).collect::<Vec<_>>(), vec![2, 1, 2, 3]);
        assert_eq!(&"营收增长【2】"[zh[0].start as usize..zh[0].end as usize], "【2】");
    }
}

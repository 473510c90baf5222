//! Scanned PDF pages read by OCR: poppler's `pdftoppm` draws the page in grey (its long side at
//! 3,508 pixels, A4 at 300 dpi),
//! Tesseract reads it (English, and simplified Chinese where installed: the language that reads
//! with the higher confidence wins), its words kept with their mean confidence. Both are
//! programs run with a time limit; without them a scanned page is said to be one, as before.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pages of one file read by OCR, at most (a few seconds each).
pub const MAX_OCR_PAGES: u32 = 60;
/// Text of one page, at most.
const MAX_PAGE_TEXT: usize = 64 * 1024;
/// One program's run, at most.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// Below this mean confidence, the other language is tried too.
const TRY_OTHER_BELOW: f32 = 70.0;

#[derive(Debug, Clone)]
pub struct Ocr {
    pdftoppm: PathBuf,
    tesseract: PathBuf,
    chinese: bool,
}

/// A page as read.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrPage {
    /// Lines, paragraphs apart by a blank line.
    pub text: String,
    /// Tesseract's mean word confidence, 0–100.
    pub confidence: f32,
    pub words: usize,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

impl Ocr {
    /// The programs, if this machine has them (`FIN_R1_OCR=off` turns OCR off).
    pub fn find() -> Option<Self> {
        if std::env::var("FIN_R1_OCR").is_ok_and(|v| v == "off" || v == "0") {
            return None;
        }
        let pdftoppm = on_path("pdftoppm")?;
        let tesseract = on_path("tesseract")?;
        let langs = run(Command::new(&tesseract).arg("--list-langs")).ok()?;
        let has = |l: &str| langs.lines().any(|x| x.trim() == l);
        if !has("eng") {
            return None;
        }
        Some(Self { pdftoppm, tesseract, chinese: has("chi_sim") })
    }

    /// Reads page `number` of the PDF at `pdf`.
    pub fn page(&self, pdf: &Path, number: u32) -> Result<OcrPage, String> {
        let dir = std::env::temp_dir().join(format!("fin-r1-ocr-{}-{number}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("a folder for the page's image: {e}"))?;
        let result = self.page_in(pdf, number, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn page_in(&self, pdf: &Path, number: u32, dir: &Path) -> Result<OcrPage, String> {
        let image = dir.join("page");
        let n = number.to_string();
        // The long side at A4's 300 dpi whatever page box the file declares: a page that claims
        // to be a kilometre wide still draws as 3,508 pixels.
        run(Command::new(&self.pdftoppm).args(["-scale-to", "3508", "-gray", "-png", "-singlefile", "-f", &n, "-l", &n]).arg(pdf).arg(&image))
            .map_err(|e| format!("pdftoppm: {e}"))?;
        let png = image.with_extension("png");
        let english = self.read(&png, "eng")?;
        if self.chinese && english.confidence < TRY_OTHER_BELOW {
            let chinese = self.read(&png, "chi_sim+eng")?;
            if chinese.confidence > english.confidence {
                return Ok(chinese);
            }
        }
        Ok(english)
    }

    fn read(&self, png: &Path, langs: &str) -> Result<OcrPage, String> {
        let tsv = run(Command::new(&self.tesseract).arg(png).arg("stdout").args(["-l", langs, "tsv"])).map_err(|e| format!("tesseract: {e}"))?;
        Ok(from_tsv(&tsv, langs.starts_with("chi")))
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Runs a program to its end within `RUN_LIMIT` (killed past it), its output as text.
fn run(cmd: &mut Command) -> Result<String, String> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
    let mut out = child.stdout.take().ok_or("no output")?;
    // Read beside the wait: a full pipe would stop the program.
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = (&mut out).take(4 << 20).read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let buf = reader.join().unwrap_or_default();
                if !status.success() {
                    return Err(format!("ended with {status}"));
                }
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("gave no answer within {} s", RUN_LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Tesseract's TSV (one row a word: level 5) as lines and paragraphs, with the mean confidence.
fn from_tsv(tsv: &str, chinese: bool) -> OcrPage {
    let mut text = String::new();
    let mut at: Option<(u32, u32, u32)> = None;
    let (mut sum, mut words) = (0f32, 0usize);
    for row in tsv.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue;
        }
        let word = f[11].trim();
        let conf: f32 = f[10].parse().unwrap_or(-1.0);
        if word.is_empty() || conf < 0.0 {
            continue;
        }
        let key = (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0), f[4].parse().unwrap_or(0));
        match at {
            Some((b, p, _)) if (b, p) != (key.0, key.1) => text.push_str("\n\n"),
            Some(prev) if prev != key => text.push('\n'),
            Some(_) => {
                // Chinese is written without spaces between words.
                let cjk = |c: Option<char>| c.is_some_and(super::chunks::is_cjk);
                if !(chinese && cjk(text.chars().last()) && cjk(word.chars().next())) {
                    text.push(' ');
                }
            }
            None => {}
        }
        at = Some(key);
        if text.len() + word.len() > MAX_PAGE_TEXT {
            break;
        }
        text.push_str(word);
        sum += conf;
        words += 1;
    }
    OcrPage { text, confidence: if words > 0 { sum / words as f32 } else { 0.0 }, words }
}

#[cfg(test)]
mod tests {
    use super::from_tsv;

    #[test]
    fn words_become_lines_and_paragraphs_with_their_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tRevenue\n\
                   5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\t482,210\n\
                   5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tCost\n\
                   4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t\n\
                   5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t60\tNotes\n";
        let p = from_tsv(tsv, false);
        assert_eq!(p.text, "Revenue 482,210\nCost\n\nNotes");
        assert_eq!(p.words, 4);
        assert!((p.confidence - 75.0).abs() < 0.01);
        let zh = "h\n5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\t贷款\n5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t90\t余额\n";
        assert_eq!(from_tsv(zh, true).text, "贷款余额");
    }
}

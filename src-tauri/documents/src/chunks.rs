//! A document too long for the context, cut into parts at its own boundaries — a heading's
//! section, a table's rows (never mid-row, its header repeated in every part) — and the parts
//! that best match the question chosen to fill a budget, kept in document order and each
//! labelled with where it comes from, with a line saying what was left out.

use std::collections::{HashMap, HashSet};

use super::{markdown_table, Block, Document};

/// About this many tokens a part (a table part may run over by one row).
pub const PART_TOKENS: usize = 400;

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Where it is: file, page, sheet or section, and rows for a table.
    pub label: String,
    /// The PDF page it starts on.
    pub page: Option<u32>,
    pub text: String,
    pub tokens: usize,
}

/// What of a document goes into the prompt.
#[derive(Debug, Clone)]
pub struct Selection {
    pub parts: Vec<Part>,
    /// Every part, chosen or not.
    pub of: usize,
    /// "parts 2, 5 and 7 of 12 of report.xlsx: Sheet: Income statement rows 14–26, …", or
    /// "all of report.xlsx".
    pub summary: String,
}

/// A count for budgeting, on the high side: Qwen's tokenizer gives every digit a token of its
/// own (a ledger is mostly digits), a CJK character or a table's `|` about one, other text
/// about four characters a token.
pub fn estimate_tokens(text: &str) -> usize {
    let (mut single, mut other) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) || c.is_ascii_digit() || matches!(c, '|' | '\n') {
            single += 1;
        } else {
            other += 1;
        }
    }
    single + other.div_ceil(4)
}

/// Chinese and Japanese text, with its full-width punctuation: one token a character, and
/// written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

pub fn parts(doc: &Document) -> Vec<Part> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut text = String::new();
    let mut page: Option<u32> = None;
    let place = |page: Option<u32>, section: &str| -> String {
        let mut l = doc.meta.file_name.clone();
        if let Some(p) = page {
            l.push_str(&format!(" · p. {p}"));
        }
        if !section.is_empty() {
            l.push_str(&format!(" · {section}"));
        }
        l
    };
    let flush = |out: &mut Vec<Part>, page: Option<u32>, section: &str, text: &mut String| {
        if !text.trim().is_empty() {
            out.push(Part { label: place(page, section), page, tokens: estimate_tokens(text), text: std::mem::take(text) });
        }
        text.clear();
    };
    for b in &doc.blocks {
        match b {
            // A part keeps to its page, so its label says where all of it is.
            Block::Page { number } => {
                flush(&mut out, page, &section, &mut text);
                page = Some(*number);
            }
            Block::Heading { text: h, .. } => {
                flush(&mut out, page, &section, &mut text);
                section = h.clone();
                text.push_str(&format!("{h}\n\n"));
            }
            Block::Paragraph { text: p } => {
                if estimate_tokens(&text) + estimate_tokens(p) > PART_TOKENS {
                    flush(&mut out, page, &section, &mut text);
                }
                text.push_str(p);
                text.push_str("\n\n");
            }
            Block::Table { label, rows } => {
                flush(&mut out, page, &section, &mut text);
                let place = match (label, page) {
                    (Some(l), _) => format!("{} · {l}", doc.meta.file_name),
                    (None, Some(_)) => place(page, &section),
                    (None, None) => format!("{} · {}", doc.meta.file_name, if section.is_empty() { "table" } else { section.as_str() }),
                };
                let Some((header, body)) = rows.split_first() else { continue };
                let header_tokens = estimate_tokens(&markdown_table(std::slice::from_ref(header)));
                let mut start = 0;
                while start < body.len() || (start == 0 && body.is_empty()) {
                    let mut end = start;
                    let mut tokens = header_tokens;
                    while end < body.len() && (end == start || tokens + estimate_tokens(&body[end].join(" | ")) + 4 <= PART_TOKENS) {
                        tokens += estimate_tokens(&body[end].join(" | ")) + 4;
                        end += 1;
                    }
                    let mut rows_here = vec![header.clone()];
                    rows_here.extend_from_slice(&body[start..end]);
                    let table = markdown_table(&rows_here);
                    let rows_label = if body.is_empty() { String::new() } else { format!(" rows {}–{}", start + 1, end) };
                    out.push(Part { label: format!("{place}{rows_label}"), page, tokens: estimate_tokens(&table), text: table });
                    if body.is_empty() {
                        break;
                    }
                    start = end;
                }
            }
        }
    }
    flush(&mut out, page, &section, &mut text);
    out
}

/// Words (letters and digits, lower case) and, in Chinese, every two-character run: what a
/// question and a part are compared by.
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if is_cjk(c) && c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if let Some(p) = prev_cjk {
                out.push(format!("{p}{c}"));
            }
            prev_cjk = Some(c);
            continue;
        }
        prev_cjk = None;
        // A figure keeps its separators: "120.5" and "1,120" are one term each, so a question
        // naming line 120.5 does not match every page that prints a 120.
        let inside_number =
            matches!(c, '.' | ',') && word.chars().last().is_some_and(|l| l.is_ascii_digit()) && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || inside_number {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.retain(|t| t.chars().count() >= 2 || t.chars().all(|c| c.is_ascii_digit()));
    out
}

/// The parts that fit `budget` tokens: all of them when they fit, else the best matches for
/// the question (BM25 over words and Chinese two-character terms), in document order.
pub fn select(doc: &Document, question: &str, budget: usize) -> Selection {
    let all = parts(doc);
    let total: usize = all.iter().map(|p| p.tokens).sum();
    if total <= budget {
        return Selection { of: all.len(), parts: all, summary: format!("all of {}", doc.meta.file_name) };
    }
    let docs: Vec<Vec<String>> = all.iter().map(|p| terms(&format!("{} {}", p.label, p.text))).collect();
    let n = docs.len() as f64;
    let avg = docs.iter().map(Vec::len).sum::<usize>() as f64 / n.max(1.0);
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        for t in d.iter().map(String::as_str).collect::<HashSet<_>>() {
            *df.entry(t).or_default() += 1;
        }
    }
    let query: HashSet<String> = terms(question).into_iter().collect();
    let score = |d: &Vec<String>| -> f64 {
        let len = d.len() as f64;
        query
            .iter()
            .map(|q| {
                let tf = d.iter().filter(|t| *t == q).count() as f64;
                if tf == 0.0 {
                    return 0.0;
                }
                let dfq = *df.get(q.as_str()).unwrap_or(&0) as f64;
                let idf = ((n - dfq + 0.5) / (dfq + 0.5) + 1.0).ln();
                idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg.max(1.0)))
            })
            .sum()
    };
    let mut ranked: Vec<(usize, f64)> = docs.iter().enumerate().map(|(i, d)| (i, score(d))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen = Vec::new();
    let mut used = 0;
    for (i, _) in ranked {
        if used + all[i].tokens <= budget {
            used += all[i].tokens;
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    if chosen.is_empty() {
        // Said, not sent as an empty list: the conversation so far leaves no room.
        let summary = format!(
            "nothing of {}: the conversation so far leaves no room for it (about {budget} tokens); ask in a new conversation, or raise the context length",
            doc.meta.file_name
        );
        return Selection { of: all.len(), parts: Vec::new(), summary };
    }
    if let Some(pages) = doc.meta.pages {
        // A PDF is spoken of by its pages: "pages 3–5 and 41 of 120 of report.pdf".
        let mut on: Vec<u32> = chosen.iter().filter_map(|&i| all[i].page).collect();
        on.dedup();
        let list = super::page_list(&on);
        let list = match list.rfind(", ") {
            Some(at) => format!("{} and {}", &list[..at], &list[at + 2..]),
            None => list,
        };
        let word = if on.len() == 1 && !list.contains('–') { "page" } else { "pages" };
        let summary = format!("{word} {list} of {pages} of {}", doc.meta.file_name);
        return Selection { of: all.len(), parts: chosen.into_iter().map(|i| all[i].clone()).collect(), summary };
    }
    let numbers: Vec<String> = chosen.iter().map(|i| (i + 1).to_string()).collect();
    let labels: Vec<&str> = chosen.iter().map(|&i| all[i].label.as_str()).collect();
    let summary = format!("parts {} of {} of {}: {}", numbers.join(", "), all.len(), doc.meta.file_name, labels.join("; "));
    Selection { of: all.len(), parts: chosen.into_iter().map(|i| all[i].clone()).collect(), summary }
}

impl Selection {
    /// The chosen parts as the prompt carries them, each under its label.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            out.push_str(&format!("[{}]\n\n{}\n", p.label, p.text.trim_end()));
        }
        out
    }
}

//! Answers out of model outputs, and verdicts, by rule: what Fin-R1's authors' evaluation does
//! before any judge. Only what follows the reasoning is read; then `<answer>…</answer>`, the last
//! `\boxed{}`, "the answer is" / 答案是, and for numbers the last number. Each verdict says why.

use serde::{Deserialize, Serialize};

use super::item::{Item, Kind};

/// What a model wrote for one item, as the scorer needs it.
#[derive(Debug, Clone, Default)]
pub struct Output<'a> {
    /// Everything the model wrote (with `<think>` tags when the engine left them in).
    pub text: &'a str,
    /// The answer channel, where the engine split the reasoning off itself.
    pub answer: Option<&'a str>,
    /// The generation stopped at the token limit.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub extracted: Option<String>,
    pub correct: bool,
    pub reason: String,
}

/// Numeric scoring: Program-of-Thoughts' tolerant rule, or FinQA's `round(x, 5)` equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rules {
    pub strict: bool,
}

pub fn score(item: &Item, out: &Output<'_>, rules: Rules) -> Verdict {
    let Some(final_text) = after_reasoning(out) else {
        return Verdict { extracted: None, correct: false, reason: "cut off at the token limit inside the reasoning: no answer".into() };
    };
    let (candidate, from) = candidate(final_text);
    match item.kind {
        Kind::Numeric => numeric(item, final_text, &candidate, from, rules),
        Kind::Choice => choice(item, &candidate, from),
        Kind::Yesno => yes_no(item, &candidate, from),
        Kind::Label => label(item, &candidate, from),
        Kind::Span => span(item, &candidate, from),
    }
}

/// The text after the reasoning: the engine's answer channel, else what follows the last
/// `</think>`; `None` when the output ended inside the reasoning.
pub fn after_reasoning<'a>(out: &Output<'a>) -> Option<&'a str> {
    if let Some(a) = out.answer.filter(|a| !a.trim().is_empty()) {
        return Some(a);
    }
    if let Some(i) = out.text.rfind("</think>") {
        return Some(&out.text[i + "</think>".len()..]);
    }
    if out.text.contains("<think>") {
        // Opened and never closed: the reasoning never ended.
        return if out.truncated { None } else { Some("") };
    }
    if out.answer.is_some() && out.truncated {
        // The engine's channel had reasoning only.
        return None;
    }
    Some(out.text)
}

/// The most specific place an answer is written, and which one it was.
fn candidate(text: &str) -> (String, &'static str) {
    if let Some(a) = last_tag(text, "<answer>", "</answer>") {
        if let Some(b) = last_boxed(&a) {
            return (b, "\\boxed{} in <answer>");
        }
        return (a, "<answer>");
    }
    if let Some(b) = last_boxed(text) {
        return (b, "\\boxed{}");
    }
    if let Some(p) = after_phrase(text) {
        return (p, "\"the answer is\"");
    }
    (text.trim().to_owned(), "the text after the reasoning")
}

fn last_tag(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.rfind(open)? + open.len();
    let rest = &text[start..];
    Some(rest[..rest.find(close).unwrap_or(rest.len())].trim().to_owned())
}

/// The content of the last `\boxed{…}`, braces balanced.
fn last_boxed(text: &str) -> Option<String> {
    fin_r1_engine::splitter::boxed_answer(text).map(|s| s.trim().to_owned())
}

const PHRASES: [&str; 8] = ["the final answer is", "the answer is", "final answer:", "answer:", "答案是", "答案为", "答案：", "答案:"];

fn after_phrase(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let (at, len) = PHRASES.iter().filter_map(|p| lower.rfind(p).map(|i| (i, p.len()))).max_by_key(|(i, _)| *i)?;
    // `to_lowercase` keeps byte offsets for the ASCII phrases and the Chinese ones alike.
    let rest = text.get(at + len..)?.trim_start_matches([':', '：', ' ', '*']);
    let end = rest.find(['\n']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

/// A number as written, with what it says about itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    pub value: f64,
    /// Digits after the decimal point, as written.
    pub decimals: i32,
    pub percent: bool,
    /// Thousand, million, billion, 万, 亿 written after it.
    pub scale: Option<f64>,
}

/// Every number in `text`, in order: `1,234.5`, `1{,}234`, `$-3`, `(120)` as −120, `12%`,
/// `3.5 million`, `2亿`.
pub fn numbers(text: &str) -> Vec<Number> {
    let t = text.replace("{,}", ",").replace('−', "-").replace("\\%", "%");
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts_number = b[i].is_ascii_digit() || (b[i] == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_digit());
        if !starts_number {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || (b[j] == b',' && b.get(j + 1).is_some_and(u8::is_ascii_digit))) {
            j += 1;
        }
        let raw = t[start..j].trim_end_matches('.').replace(',', "");
        i = j.max(start + 1);
        let Ok(mut value) = raw.parse::<f64>() else { continue };
        let decimals = raw.split_once('.').map_or(0, |(_, d)| d.len() as i32);
        let before = t[..start].trim_end_matches(['$', '¥', '€', '£', ' ']);
        let negative = before.ends_with('-') || (before.ends_with('(') && t[i..].trim_start().starts_with(')'));
        if negative {
            value = -value;
        }
        let after = t[i..].trim_start_matches(' ').trim_start_matches(')');
        let after_l = after.trim_start().to_lowercase();
        let percent = after.starts_with('%') || after_l.starts_with("percent") || after.starts_with('％');
        let scale = [("thousand", 1e3), ("million", 1e6), ("billion", 1e9), ("trillion", 1e12), ("万", 1e4), ("亿", 1e8), ("千", 1e3)]
            .iter()
            .find(|(w, _)| after_l.starts_with(w))
            .map(|(_, s)| *s);
        out.push(Number { value, decimals, percent, scale });
    }
    out
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals.clamp(0, 12));
    (x * p).round() / p
}

/// Whether a predicted value matches the gold: equal after rounding both to the lesser
/// precision, or within a relative 1e-3.
fn close(pred: f64, pred_decimals: i32, gold: f64, gold_decimals: i32) -> bool {
    let d = pred_decimals.min(gold_decimals);
    if round_to(pred, d) == round_to(gold, d) {
        return true;
    }
    let scale = gold.abs().max(1e-12);
    ((pred - gold) / scale).abs() <= 1e-3
}

fn numeric(item: &Item, whole: &str, candidate: &str, from: &'static str, rules: Rules) -> Verdict {
    if matches!(item.answer.trim().to_lowercase().as_str(), "yes" | "no") {
        return yes_no(item, candidate, from);
    }
    let Some(gold) = numbers(&item.answer).first().copied() else {
        return Verdict { extracted: None, correct: false, reason: format!("the reference {:?} is not a number", item.answer) };
    };
    // The number the candidate gives: the last one in an <answer> or after the text, the first
    // after "the answer is" or in \boxed{}.
    let found = numbers(candidate);
    let (pred, where_) = match from {
        "\"the answer is\"" | "\\boxed{}" | "\\boxed{} in <answer>" => (found.first().copied(), from),
        _ => (found.last().copied(), from),
    };
    let (pred, where_) = match pred {
        Some(p) => (p, where_),
        None => match numbers(whole).last().copied() {
            Some(p) => (p, "the last number"),
            None => return Verdict { extracted: None, correct: false, reason: "no number in the answer".into() },
        },
    };
    let extracted = format!("{}{}", trim_float(pred.value), if pred.percent { "%" } else { "" });
    if rules.strict {
        let ok = round_to(pred.value, 5) == round_to(gold.value, 5);
        let why = if ok { "equal at 5 decimals (strict)" } else { "differs at 5 decimals (strict)" };
        return Verdict { extracted: Some(extracted), correct: ok, reason: format!("{why}; taken from {where_}") };
    }
    // As written, and scaled by a unit word; the gold as given, ×100 and ÷100 (percent either way).
    let mut tries = vec![(pred.value, pred.decimals, "as written")];
    if let Some(s) = pred.scale {
        tries.push((pred.value * s, (pred.decimals - s.log10() as i32).max(0), "with its unit"));
    }
    let golds = [
        (gold.value, gold.decimals, ""),
        (gold.value * 100.0, (gold.decimals - 2).max(0), " (reference ×100)"),
        (gold.value / 100.0, gold.decimals + 2, " (reference ÷100)"),
    ];
    for (p, pd, how) in &tries {
        for (g, gd, gwhy) in &golds {
            if close(*p, *pd, *g, *gd) {
                return Verdict { extracted: Some(extracted), correct: true, reason: format!("matches {how}{gwhy}; taken from {where_}") };
            }
        }
    }
    Verdict { extracted: Some(extracted), correct: false, reason: format!("{} is not {}; taken from {where_}", trim_float(pred.value), item.answer) }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The letters chosen: `\boxed{C}`, "答案是C", "选B", "(D)", a lone "A" or "A、B".
pub fn letters(candidate: &str) -> Option<String> {
    let up = candidate.trim();
    // A reply that is only letters (and separators): "C", "A、B", "A,C".
    let bare: String = up.chars().filter(|c| !matches!(c, ',' | '，' | '、' | ' ' | '.' | '。' | '(' | ')' | '（' | '）' | '*')).collect();
    if !bare.is_empty() && bare.chars().all(|c| ('A'..='E').contains(&c)) {
        return Some(sorted(&bare));
    }
    for key in ["正确选项", "答案是", "答案为", "答案", "选项", "选择", "选", "answer is", "option", "choice"] {
        if let Some(i) = up.rfind(key) {
            let rest: String = up[i + key.len()..]
                .chars()
                .skip_while(|c| !c.is_ascii_alphabetic())
                .take_while(|c| c.is_ascii_uppercase() || matches!(c, ',' | '、' | ' '))
                .collect();
            let found: String = rest.chars().filter(|c| ('A'..='E').contains(c)).collect();
            if !found.is_empty() {
                return Some(sorted(&found));
            }
        }
    }
    // A letter standing alone: not part of a word ("A股" is not a choice of A).
    let chars: Vec<char> = up.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if ('A'..='E').contains(c) {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let free = |x: Option<char>| x.is_none_or(|x| !x.is_alphanumeric() || x == '选');
            if free(prev) && next.is_none_or(|x| !x.is_ascii_alphanumeric() && !('\u{4e00}'..='\u{9fff}').contains(&x) || matches!(x, '项' | '选')) {
                return Some(c.to_string());
            }
        }
    }
    None
}

fn sorted(s: &str) -> String {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

fn choice(item: &Item, candidate: &str, from: &'static str) -> Verdict {
    match letters(candidate) {
        None => Verdict { extracted: None, correct: false, reason: format!("no choice letter in {from}") },
        Some(l) => {
            let ok = l == sorted(item.answer.trim());
            Verdict { extracted: Some(l.clone()), correct: ok, reason: format!("chose {l}, the reference is {}; from {from}", item.answer.trim()) }
        }
    }
}

/// Yes or no: yes/no/true/false, 是/否/对/错/正确/错误 — the first said.
pub fn yes_no_of(candidate: &str) -> Option<bool> {
    let t = candidate.trim().trim_start_matches(['*', '"', '“', '(', '（']).to_lowercase();
    const NO: [&str; 8] = ["否", "不是", "不", "错", "no", "false", "incorrect", "不正确"];
    const YES: [&str; 6] = ["是", "对", "正确", "yes", "true", "correct"];
    if NO.iter().any(|w| t.starts_with(w)) {
        return Some(false);
    }
    if YES.iter().any(|w| t.starts_with(w)) {
        return Some(true);
    }
    // Otherwise the first word of either kind in the text.
    let first = |ws: &[&str]| ws.iter().filter_map(|w| find_word(&t, w)).min();
    match (first(&["no", "false", "否", "不是", "错误", "不正确"]), first(&["yes", "true", "是", "正确"])) {
        (Some(n), Some(y)) => Some(n <= y),
        (Some(_), None) => Some(false),
        (None, Some(_)) => Some(true),
        (None, None) => None,
    }
}

fn find_word(t: &str, w: &str) -> Option<usize> {
    let ascii = w.is_ascii();
    t.match_indices(w).map(|(i, _)| i).find(|&i| {
        !ascii || {
            let before = t[..i].chars().next_back();
            let after = t[i + w.len()..].chars().next();
            before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
        }
    })
}

fn yes_no(item: &Item, candidate: &str, from: &'static str) -> Verdict {
    let gold = matches!(item.answer.trim().to_lowercase().as_str(), "yes" | "是" | "true" | "对");
    match yes_no_of(candidate) {
        None => Verdict { extracted: None, correct: false, reason: format!("neither yes nor no in {from}") },
        Some(p) => {
            let said = if p { "yes" } else { "no" };
            Verdict { extracted: Some(said.into()), correct: p == gold, reason: format!("said {said}, the reference is {}; from {from}", item.answer.trim()) }
        }
    }
}

/// A sentiment label and its synonyms; the first one said.
pub fn label_of(candidate: &str) -> Option<&'static str> {
    let t = candidate.to_lowercase();
    let groups: [(&str, &[&str]); 3] = [
        ("bearish", &["bearish", "negative", "看跌", "利空", "负面", "消极"]),
        ("bullish", &["bullish", "positive", "看涨", "利好", "正面", "积极"]),
        ("neutral", &["neutral", "中性", "中立"]),
    ];
    groups.iter().filter_map(|(label, words)| words.iter().filter_map(|w| find_word(&t, w)).min().map(|i| (i, *label))).min_by_key(|(i, _)| *i).map(|(_, l)| l)
}

fn label(item: &Item, candidate: &str, from: &'static str) -> Verdict {
    match label_of(candidate) {
        None => Verdict { extracted: None, correct: false, reason: format!("no label in {from}") },
        Some(l) => Verdict {
            extracted: Some(l.into()),
            correct: l == item.answer.trim().to_lowercase(),
            reason: format!("said {l}, the reference is {}; from {from}", item.answer),
        },
    }
}

fn normalise(s: &str) -> String {
    let lower = s.to_lowercase();
    let kept: String = lower.chars().map(|c| if c.is_alphanumeric() || c == '.' || c == '-' { c } else { ' ' }).collect();
    kept.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

fn span(item: &Item, candidate: &str, from: &'static str) -> Verdict {
    let pred = normalise(candidate);
    if pred.is_empty() {
        return Verdict { extracted: None, correct: false, reason: format!("nothing in {from}") };
    }
    // Every part of a multi-span reference must be there.
    let parts: Vec<String> = item.answer.split("; ").map(normalise).filter(|p| !p.is_empty()).collect();
    let missing: Vec<&String> = parts.iter().filter(|p| !pred.contains(p.as_str())).collect();
    let ok = missing.is_empty() || (parts.len() == 1 && parts[0].contains(&pred) && pred.len() * 2 >= parts[0].len());
    let extracted: String = candidate.trim().chars().take(300).collect();
    Verdict {
        extracted: Some(extracted),
        correct: ok,
        reason: if ok {
            format!("contains the reference; from {from}")
        } else {
            format!("{} of {} reference part(s) missing; from {from}", missing.len(), parts.len())
        },
    }
}

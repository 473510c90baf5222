//! Text as the tokens of arithmetic, each with its byte span in the text. Everything that cannot
//! be part of a calculation (words, sentence punctuation, dates, ranges, section numbers, code)
//! is one `Break`, so a calculation never reaches across it.

use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bracket {
    Paren,
    Brace,
    Square,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num {
        value: Decimal,
        /// Digits written after the decimal point: the precision it was stated at.
        decimals: u32,
        /// Zeros at the end of a whole number (`900`: 2), for `≈ 900`.
        trailing_zeros: u32,
        /// Written with thousands separators (`4,822`).
        grouped: bool,
    },
    Percent,
    /// A multiplier written after a number: 万, 亿, million, bn, ‰.
    Scale(Decimal),
    Op(Op),
    Open(Bracket),
    Close(Bracket),
    Frac,
    Sqrt,
    Ln,
    /// `=` (false) or an approximation: `≈`, `\approx`, `约` (true).
    Rel {
        approx: bool,
    },
    Break,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
    /// Whitespace right before it (`1000(1.05)` multiplies; `536 (12.5%)` does not).
    pub space_before: bool,
}

/// Full-width forms as their ASCII twins (Chinese input methods write `４８２２－４２８６`).
fn narrow(c: char) -> char {
    match c {
        '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
        '＋' => '+',
        '－' | '−' => '-',
        '（' => '(',
        '）' => ')',
        '％' => '%',
        '＝' => '=',
        '．' => '.',
        '／' => '/',
        '＊' => '*',
        '＾' => '^',
        c => c,
    }
}

const UNITS_EN: &[&str] = &["yuan", "rmb", "cny", "usd", "hkd", "eur", "gbp", "jpy", "dollar", "dollars", "us", "shares", "share", "times", "units", "unit"];
const UNITS_ZH: &[&str] = &["人民币", "美元", "港元", "港币", "欧元", "日元", "英镑", "元", "股", "倍"];

fn scale_word(w: &str) -> Option<Decimal> {
    Some(match w.to_ascii_lowercase().as_str() {
        "thousand" | "thousands" | "k" => Decimal::from(1_000),
        "million" | "millions" | "mn" | "m" => Decimal::from(1_000_000),
        "billion" | "billions" | "bn" | "b" => Decimal::from(1_000_000_000u64),
        "trillion" | "trillions" | "tn" => Decimal::from(1_000_000_000_000u64),
        _ => return None,
    })
}

fn zh_scale(c: char) -> Option<Decimal> {
    Some(match c {
        '百' => Decimal::from(100),
        '千' => Decimal::from(1_000),
        '万' | '萬' => Decimal::from(10_000),
        '亿' | '億' => Decimal::from(100_000_000),
        _ => return None,
    })
}

struct Lexer<'a> {
    text: &'a str,
    /// (byte offset, the character narrowed)
    cs: Vec<(usize, char)>,
    i: usize,
    out: Vec<Token>,
    space: bool,
    /// Inside `$$…$$` or `\[…\]`, where a line break is only a space.
    display_math: bool,
}

pub(crate) fn lex(text: &str) -> Vec<Token> {
    let mut l = Lexer { text, cs: text.char_indices().map(|(i, c)| (i, narrow(c))).collect(), i: 0, out: Vec::new(), space: false, display_math: false };
    l.run();
    l.out
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.cs.get(i).map(|&(_, c)| c)
    }
    fn off(&self, i: usize) -> usize {
        self.cs.get(i).map_or(self.text.len(), |&(o, _)| o)
    }
    fn starts(&self, i: usize, s: &str) -> bool {
        (i..).zip(s.chars()).all(|(j, want)| self.at(j) == Some(want))
    }
    /// Only blanks between the line's start and here.
    fn line_start(&self) -> bool {
        let mut j = self.i;
        while j > 0 {
            j -= 1;
            match self.at(j) {
                Some('\n') => return true,
                Some(' ' | '\t') => {}
                _ => return false,
            }
        }
        true
    }
    fn next_non_space(&self, mut i: usize) -> Option<char> {
        while let Some(c) = self.at(i) {
            if c != ' ' && c != '\t' {
                return Some(c);
            }
            i += 1;
        }
        None
    }
    fn push(&mut self, tok: Tok, from: usize, to: usize) {
        let span = self.off(from)..self.off(to);
        let space_before = std::mem::take(&mut self.space);
        if tok == Tok::Break && matches!(self.out.last(), Some(Token { tok: Tok::Break, .. })) {
            if let Some(last) = self.out.last_mut() {
                last.span.end = span.end;
            }
            return;
        }
        self.out.push(Token { tok, span, space_before });
    }
    fn last_tok(&self) -> Option<&Tok> {
        self.out.last().map(|t| &t.tok)
    }
    /// Right after a quantity: where a scale or a unit may follow.
    fn after_quantity(&self) -> bool {
        matches!(self.last_tok(), Some(Tok::Num { .. } | Tok::Scale(_) | Tok::Percent)) && !self.space
    }

    fn run(&mut self) {
        while let Some(c) = self.at(self.i) {
            let start = self.i;
            match c {
                '\n' => {
                    self.i += 1;
                    if self.display_math {
                        self.space = true;
                    } else {
                        self.push(Tok::Break, start, self.i);
                    }
                }
                c if c.is_whitespace() => {
                    self.i += 1;
                    self.space = true;
                }
                '`' => self.code(),
                '~' if self.line_start() && self.starts(self.i, "~~~") => self.tilde_fence(),
                '0'..='9' => self.number(),
                '.' if self.at(self.i + 1).is_some_and(|d| d.is_ascii_digit()) && !self.last_tok().is_some_and(|t| matches!(t, Tok::Num { .. })) => {
                    self.number()
                }
                'a'..='z' | 'A'..='Z' => self.word(),
                '\\' => self.command(),
                '$' => {
                    self.i += 1;
                    if self.at(self.i) == Some('$') {
                        self.i += 1;
                        self.display_math = !self.display_math;
                    }
                    self.space = true;
                }
                // A list item's marker, not a sign.
                '-' | '+' | '*' if self.line_start() && self.at(self.i + 1) == Some(' ') => {
                    self.i += 1;
                    self.push(Tok::Break, start, self.i);
                }
                '+' => self.one(Tok::Op(Op::Add)),
                '-' => self.one(Tok::Op(Op::Sub)),
                '*' => {
                    if self.at(self.i + 1) == Some('*') {
                        // Markdown bold around a number.
                        self.i += 2;
                    } else {
                        self.one(Tok::Op(Op::Mul));
                    }
                }
                '×' | '✕' | '·' | '⋅' | '∙' => self.one(Tok::Op(Op::Mul)),
                '÷' | '/' => self.one(Tok::Op(Op::Div)),
                '^' => self.one(Tok::Op(Op::Pow)),
                // A power only after a number or a bracket: `m²` is a unit.
                '²' | '³' if matches!(self.last_tok(), Some(Tok::Num { .. } | Tok::Close(_))) && !self.space => {
                    self.i += 1;
                    self.push(Tok::Op(Op::Pow), start, self.i);
                    let n = if c == '²' { 2 } else { 3 };
                    self.out.push(Token {
                        tok: Tok::Num { value: Decimal::from(n), decimals: 0, trailing_zeros: 0, grouped: false },
                        span: self.off(start)..self.off(self.i),
                        space_before: false,
                    });
                }
                '(' => self.one(Tok::Open(Bracket::Paren)),
                ')' => self.one(Tok::Close(Bracket::Paren)),
                '[' => self.one(Tok::Open(Bracket::Square)),
                ']' => self.one(Tok::Close(Bracket::Square)),
                '{' => self.one(Tok::Open(Bracket::Brace)),
                '}' => self.one(Tok::Close(Bracket::Brace)),
                '%' => self.one(Tok::Percent),
                '‰' => self.one(Tok::Scale(Decimal::new(1, 3))),
                '=' => {
                    if self.at(self.i + 1) == Some('=') {
                        self.i += 2;
                        self.push(Tok::Break, start, self.i);
                    } else {
                        self.one(Tok::Rel { approx: false });
                    }
                }
                '≈' | '≒' | '≃' => self.one(Tok::Rel { approx: true }),
                '&' => {
                    self.i += 1;
                    self.space = true;
                }
                '约' => {
                    self.i += 1;
                    for tail in ["等于", "为"] {
                        if self.starts(self.i, tail) {
                            self.i += tail.chars().count();
                            break;
                        }
                    }
                    // `= 约 12.5%`: the relation is an approximation.
                    let end = self.off(self.i);
                    if let Some(Token { tok: Tok::Rel { approx }, span, .. }) = self.out.last_mut() {
                        *approx = true;
                        span.end = end;
                        self.space = false;
                    } else {
                        self.push(Tok::Rel { approx: true }, start, self.i);
                    }
                }
                '等' if self.starts(self.i, "等于") => {
                    self.i += 2;
                    self.push(Tok::Rel { approx: false }, start, self.i);
                }
                '为' if self.after_quantity() || matches!(self.last_tok(), Some(Tok::Close(_))) => self.one(Tok::Rel { approx: false }),
                '个' if self.after_quantity() && self.starts(self.i, "个百分点") => {
                    self.i += 4;
                    self.push(Tok::Percent, start, self.i);
                }
                '百' if self.after_quantity() && self.starts(self.i, "百分点") => {
                    self.i += 3;
                    self.push(Tok::Percent, start, self.i);
                }
                c if matches!(self.last_tok(), Some(Tok::Num { .. } | Tok::Scale(_))) && zh_scale(c).is_some() => {
                    let s = zh_scale(c).unwrap_or(Decimal::ONE);
                    self.one(Tok::Scale(s));
                }
                _ => {
                    if let Some(unit) = UNITS_ZH.iter().find(|u| self.starts(self.i, u)) {
                        // A currency or unit is no part of the arithmetic.
                        self.i += unit.chars().count();
                        self.space = true;
                        continue;
                    }
                    self.i += 1;
                    self.push(Tok::Break, start, self.i);
                }
            }
        }
    }

    fn one(&mut self, tok: Tok) {
        let start = self.i;
        self.i += 1;
        self.push(tok, start, self.i);
    }

    /// Code is not arithmetic stated in prose: a fence up to its close, a span up to its tick.
    fn code(&mut self) {
        let start = self.i;
        let fence = self.starts(self.i, "```");
        self.i += if fence { 3 } else { 1 };
        while let Some(c) = self.at(self.i) {
            if fence && self.starts(self.i, "```") {
                self.i += 3;
                break;
            }
            if !fence && (c == '`' || c == '\n') {
                self.i += 1;
                break;
            }
            self.i += 1;
        }
        self.push(Tok::Break, start, self.i);
    }

    /// A `~~~` fence up to its close: code, like a backtick fence.
    fn tilde_fence(&mut self) {
        let start = self.i;
        self.i += 3;
        while self.at(self.i).is_some() {
            if self.at(self.i) == Some('\n') && self.starts(self.i + 1, "~~~") {
                self.i += 4;
                break;
            }
            self.i += 1;
        }
        self.push(Tok::Break, start, self.i);
    }

    fn digits(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    fn number(&mut self) {
        let start = self.i;
        let mut raw = String::new();
        let mut grouped = false;
        let mut i = self.digits(self.i);
        raw.extend(self.cs[start..i].iter().map(|&(_, c)| c));
        // Thousands separators: `,` or LaTeX's `{,}` before exactly three digits.
        if i - start <= 3 && i > start {
            loop {
                let at = if self.at(i) == Some(',') {
                    i + 1
                } else if self.starts(i, "{,}") {
                    i + 3
                } else {
                    break;
                };
                let end = self.digits(at);
                if end - at != 3 {
                    break;
                }
                raw.extend(self.cs[at..end].iter().map(|&(_, c)| c));
                grouped = true;
                i = end;
            }
        }
        let mut decimals = 0;
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            let end = self.digits(i + 1);
            raw.push('.');
            raw.extend(self.cs[i + 1..end].iter().map(|&(_, c)| c));
            decimals = (end - i - 1) as u32;
            i = end;
        }
        // `3.2.1`, `1.2.3.4`: a section or a version, not a number.
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            while self.at(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            self.i = i;
            self.push(Tok::Break, start, i);
            return;
        }
        // Dates, phone numbers, ranges: `2024-01-15`, `010-8888-1234`, `2019-2023`, `12/31/2024`.
        if let Some(sep @ ('-' | '/')) = self.at(i) {
            if decimals == 0 && !grouped && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                let mut j = i;
                let mut parts = vec![(start, i)];
                while self.at(j) == Some(sep) && self.at(j + 1).is_some_and(|c| c.is_ascii_digit()) {
                    let end = self.digits(j + 1);
                    if self.at(end) == Some('.') && self.at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
                        break;
                    }
                    parts.push((j + 1, end));
                    j = end;
                }
                let year = |&(a, b): &(usize, usize)| {
                    b - a == 4 && {
                        let s: String = self.cs[a..b].iter().map(|&(_, c)| c).collect();
                        s.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
                    }
                };
                let range = sep == '-' && parts.len() == 2 && parts.iter().all(year);
                if parts.len() >= 3 || range {
                    self.i = j;
                    self.push(Tok::Break, start, j);
                    return;
                }
            }
        }
        // A number run into letters (`3rd`, `10x`, `2024Q3`) is a word, unless they are a scale.
        if self.at(i).is_some_and(|c| c.is_ascii_alphabetic()) {
            let mut j = i;
            while self.at(j).is_some_and(|c| c.is_ascii_alphanumeric()) {
                j += 1;
            }
            let word: String = self.cs[i..j].iter().map(|&(_, c)| c).collect();
            if !word.chars().all(|c| c.is_ascii_alphabetic()) || (scale_word(&word).is_none() && !word.eq_ignore_ascii_case("pct")) {
                self.i = j;
                self.push(Tok::Break, start, j);
                return;
            }
        }
        let trailing_zeros = if decimals == 0 { raw.chars().rev().take_while(|&c| c == '0').count().min(raw.len().saturating_sub(1)) as u32 } else { 0 };
        self.i = i;
        match Decimal::from_str(&raw) {
            Ok(value) => self.push(Tok::Num { value, decimals, trailing_zeros, grouped }, start, i),
            // More digits than a decimal holds: not a quantity anyone computes with.
            Err(_) => self.push(Tok::Break, start, i),
        }
    }

    fn word(&mut self) {
        let start = self.i;
        let mut j = self.i;
        while self.at(j).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            j += 1;
        }
        let word: String = self.cs[start..j].iter().map(|&(_, c)| c).collect();
        let lower = word.to_ascii_lowercase();
        self.i = j;
        let quantity_before = matches!(self.last_tok(), Some(Tok::Num { .. } | Tok::Scale(_) | Tok::Percent | Tok::Close(_)));
        if (lower == "x") && quantity_before && self.next_non_space(j).is_some_and(|c| c.is_ascii_digit() || c == '(' || c == '$') {
            self.push(Tok::Op(Op::Mul), start, j);
        } else if lower == "ln" && self.next_non_space(j) == Some('(') {
            self.push(Tok::Ln, start, j);
        } else if lower == "sqrt" && self.next_non_space(j) == Some('(') {
            self.push(Tok::Sqrt, start, j);
        } else if quantity_before && scale_word(&lower).is_some() && lower.len() > 1 {
            let s = scale_word(&lower).unwrap_or(Decimal::ONE);
            self.push(Tok::Scale(s), start, j);
        } else if matches!(self.last_tok(), Some(Tok::Num { .. })) && (lower == "pct" || lower == "percent") {
            self.push(Tok::Percent, start, j);
        } else if UNITS_EN.contains(&lower.as_str()) {
            self.space = true;
        } else {
            self.push(Tok::Break, start, j);
        }
    }

    fn command(&mut self) {
        let start = self.i;
        let mut j = self.i + 1;
        while self.at(j).is_some_and(|c| c.is_ascii_alphabetic()) {
            j += 1;
        }
        if j == self.i + 1 {
            // A one-character command: `\%`, `\$`, `\,`, `\(`, `\[`, `\\`.
            let c = self.at(j);
            self.i = j + usize::from(c.is_some());
            match c {
                Some('%') => self.push(Tok::Percent, start, self.i),
                Some('[') => {
                    self.display_math = true;
                    self.space = true;
                }
                Some(']') => {
                    self.display_math = false;
                    self.space = true;
                }
                Some('{') => self.push(Tok::Open(Bracket::Paren), start, self.i),
                Some('}') => self.push(Tok::Close(Bracket::Paren), start, self.i),
                // An aligned line that goes on (`\\ &= …`) continues the chain.
                Some('\\') if self.next_non_space(self.i).is_some_and(|c| c == '&' || c == '\n') && self.display_math => self.space = true,
                Some('\\') => self.push(Tok::Break, start, self.i),
                _ => self.space = true,
            }
            return;
        }
        let name: String = self.cs[self.i + 1..j].iter().map(|&(_, c)| c).collect();
        self.i = j;
        match name.as_str() {
            "frac" | "dfrac" | "tfrac" | "cfrac" => self.push(Tok::Frac, start, j),
            "sqrt" => self.push(Tok::Sqrt, start, j),
            "ln" => self.push(Tok::Ln, start, j),
            "times" | "cdot" | "ast" => self.push(Tok::Op(Op::Mul), start, j),
            "div" => self.push(Tok::Op(Op::Div), start, j),
            "approx" | "simeq" | "thickapprox" | "doteq" | "fallingdotseq" => self.push(Tok::Rel { approx: true }, start, j),
            "left" | "right" | "big" | "Big" | "bigl" | "bigr" | "Bigl" | "Bigr" | "bigg" | "Bigg" => {
                if self.at(self.i) == Some('.') {
                    self.i += 1;
                }
                if self.at(self.i) == Some('\\') && matches!(self.at(self.i + 1), Some('{' | '}')) {
                    // `\left\{`: a brace that groups.
                    let open = self.at(self.i + 1) == Some('{');
                    let s = self.i;
                    self.i += 2;
                    self.push(if open { Tok::Open(Bracket::Paren) } else { Tok::Close(Bracket::Paren) }, s, self.i);
                }
            }
            "quad" | "qquad" | "boxed" | "mathbf" | "boldsymbol" | "bf" | "displaystyle" | "textstyle" | "hline" | "underline" | "color" => {
                self.space = true;
            }
            "text" | "mathrm" | "textrm" | "textbf" | "operatorname" | "mbox" | "textit" | "mathit" => self.text_group(start),
            "begin" | "end" => {
                // `\begin{aligned}`: the environment's name is not arithmetic.
                if self.at(self.i) == Some('{') {
                    while let Some(c) = self.at(self.i) {
                        self.i += 1;
                        if c == '}' {
                            break;
                        }
                    }
                }
                self.push(Tok::Break, start, self.i);
            }
            _ => self.push(Tok::Break, start, j),
        }
    }

    /// `\text{万元}`, `\text{ million}`: a scale or a unit; any other text breaks.
    fn text_group(&mut self, start: usize) {
        if self.at(self.i) != Some('{') {
            self.push(Tok::Break, start, self.i);
            return;
        }
        let mut j = self.i + 1;
        while self.at(j).is_some_and(|c| c != '}' && c != '\n') {
            j += 1;
        }
        let inner: String = self.cs[self.i + 1..j].iter().map(|&(_, c)| c).collect();
        self.i = (j + 1).min(self.cs.len());
        let inner = inner.trim();
        let lower = inner.to_ascii_lowercase();
        if inner.is_empty() || UNITS_EN.contains(&lower.as_str()) || UNITS_ZH.contains(&inner) {
            self.space = true;
        } else if inner == "%" || lower == "percent" {
            self.push(Tok::Percent, start, self.i);
        } else if let Some(s) = scale_word(&lower).filter(|_| lower.len() > 1) {
            self.push(Tok::Scale(s), start, self.i);
        } else if let Some(s) = inner
            .chars()
            .next()
            .and_then(zh_scale)
            .filter(|_| UNITS_ZH.contains(&&inner[inner.chars().next().map_or(0, char::len_utf8)..]) || inner.chars().count() == 1)
        {
            self.push(Tok::Scale(s), start, self.i);
        } else {
            self.push(Tok::Break, start, self.i);
        }
    }
}

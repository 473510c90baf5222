//! Model output (markdown with LaTeX math) as Typst markup for the PDF report. Text goes in as
//! Typst string literals, so nothing a model writes can run as Typst code; math is translated
//! from the LaTeX subset financial answers use, and shown as its source where it cannot be.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};

/// A Typst string literal.
pub fn lit(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => {}
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Text as markup content.
pub fn text(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("#{}", lit(s))
    }
}

fn heading_level(l: HeadingLevel) -> usize {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Markdown to Typst content; the answer's headings start at `base_level`.
pub fn markdown(md: &str, base_level: usize) -> String {
    let (md, opts) = crate::render::prepare(md);
    let mut o = String::new();
    let mut in_head = false;
    let mut code: Option<(String, String)> = None;
    let mut list_stack: Vec<bool> = Vec::new();
    for ev in Parser::new_ext(&md, opts) {
        if let Some((lang, buf)) = code.as_mut() {
            match ev {
                Event::Text(t) => buf.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let lang_arg = if lang.is_empty() { String::new() } else { format!("lang: {}, ", lit(lang)) };
                    o.push_str(&format!("\n#raw(block: true, {lang_arg}{})\n", lit(buf.trim_end_matches('\n'))));
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Start(tag) => match tag {
                Tag::Paragraph => {}
                Tag::Heading { level, .. } => o.push_str(&format!("\n#heading(level: {}, outlined: false)[", (heading_level(level) + base_level - 1).min(6))),
                Tag::BlockQuote(_) => o.push_str("\n#quote(block: true)["),
                Tag::CodeBlock(kind) => {
                    let lang = match kind {
                        CodeBlockKind::Fenced(l) => l.split_whitespace().next().unwrap_or("").to_owned(),
                        CodeBlockKind::Indented => String::new(),
                    };
                    code = Some((lang, String::new()));
                }
                Tag::List(start) => {
                    list_stack.push(start.is_some());
                    match start {
                        Some(n) => o.push_str(&format!("\n#enum(start: {n}, ")),
                        None => o.push_str("\n#list("),
                    }
                }
                Tag::Item => o.push('['),
                Tag::Table(aligns) => o.push_str(&format!("\n#table(columns: {}, inset: 5pt, ", aligns.len().max(1))),
                Tag::TableHead => {
                    in_head = true;
                    o.push_str("table.header(");
                }
                Tag::TableRow => {}
                Tag::TableCell => o.push_str(if in_head { "[#strong[" } else { "[" }),
                Tag::Emphasis => o.push_str("#emph["),
                Tag::Strong => o.push_str("#strong["),
                Tag::Strikethrough => o.push_str("#strike["),
                Tag::Link { dest_url, .. } => {
                    let lower = dest_url.to_ascii_lowercase();
                    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:") {
                        o.push_str(&format!("#link({})[", lit(&dest_url)));
                    } else {
                        o.push_str("#[");
                    }
                }
                Tag::Image { dest_url, .. } => o.push_str(&format!("#[{} (", text(&dest_url))),
                Tag::FootnoteDefinition(label) => o.push_str(&format!("\n#text(size: 0.85em)[{} ", text(&format!("[{label}]")))),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => o.push_str("\n\n"),
                TagEnd::Heading(_) => o.push_str("]\n"),
                TagEnd::BlockQuote(_) => o.push_str("]\n"),
                TagEnd::List(_) => {
                    list_stack.pop();
                    o.push_str(")\n");
                }
                TagEnd::Item => o.push_str("], "),
                TagEnd::Table => o.push_str(")\n"),
                TagEnd::TableHead => {
                    in_head = false;
                    o.push_str("), ");
                }
                TagEnd::TableRow => {}
                TagEnd::TableCell => o.push_str(if in_head { "]], " } else { "], " }),
                TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link => o.push(']'),
                TagEnd::Image => o.push_str(")]"),
                TagEnd::FootnoteDefinition => o.push_str("]\n"),
                _ => {}
            },
            Event::Text(t) => o.push_str(&text(&t)),
            Event::Code(t) => o.push_str(&format!("#raw({})", lit(&t))),
            Event::InlineMath(m) => o.push_str(&math(&m, false)),
            Event::DisplayMath(m) => o.push_str(&format!("\n{}\n", math(&m, true))),
            Event::SoftBreak => o.push(' '),
            Event::HardBreak => o.push_str("#linebreak()"),
            Event::Rule => o.push_str("\n#line(length: 100%, stroke: 0.5pt + gray)\n"),
            Event::TaskListMarker(done) => o.push_str(if done { "☑ " } else { "☐ " }),
            Event::FootnoteReference(label) => o.push_str(&format!("#super[{}]", text(&label))),
            // Raw HTML in model output is dropped, as the HTML renderer drops it.
            Event::Html(_) | Event::InlineHtml(_) => {}
        }
    }
    o
}

/// LaTeX math as Typst math (`$…$`), or its source in monospace where it cannot be translated.
pub fn math(latex: &str, display: bool) -> String {
    match latex_to_typst(latex) {
        Some(m) if display => format!("$ {m} $"),
        Some(m) => format!("${m}$"),
        None => format!("#raw({})", lit(latex)),
    }
}

fn symbol(name: &str) -> Option<&'static str> {
    Some(match name {
        "alpha" => "alpha",
        "beta" => "beta",
        "gamma" => "gamma",
        "Gamma" => "Gamma",
        "delta" => "delta",
        "Delta" => "Delta",
        "epsilon" | "varepsilon" => "epsilon",
        "zeta" => "zeta",
        "eta" => "eta",
        "theta" => "theta",
        "Theta" => "Theta",
        "kappa" => "kappa",
        "lambda" => "lambda",
        "Lambda" => "Lambda",
        "mu" => "mu",
        "nu" => "nu",
        "xi" => "xi",
        "pi" => "pi",
        "Pi" => "Pi",
        "rho" => "rho",
        "sigma" => "sigma",
        "Sigma" => "Sigma",
        "tau" => "tau",
        "phi" | "varphi" => "phi",
        "Phi" => "Phi",
        "chi" => "chi",
        "psi" => "psi",
        "Psi" => "Psi",
        "omega" => "omega",
        "Omega" => "Omega",
        "times" => "times",
        "cdot" => "dot.op",
        "div" => "div",
        "pm" => "plus.minus",
        "mp" => "minus.plus",
        "le" | "leq" => "<=",
        "ge" | "geq" => ">=",
        "neq" | "ne" => "!=",
        "approx" => "approx",
        "equiv" => "equiv",
        "sim" => "tilde.op",
        "infty" => "infinity",
        "sum" => "sum",
        "prod" => "product",
        "int" => "integral",
        "partial" => "diff",
        "nabla" => "nabla",
        "to" | "rightarrow" => "->",
        "leftarrow" => "<-",
        "Rightarrow" | "implies" => "=>",
        "Leftrightarrow" | "iff" => "<=>",
        "ldots" | "dots" => "dots.h",
        "cdots" => "dots.h.c",
        "quad" => "quad",
        "qquad" => "wide",
        "ln" => "ln",
        "log" => "log",
        "exp" => "exp",
        "max" => "max",
        "min" => "min",
        "lim" => "lim",
        "sin" => "sin",
        "cos" => "cos",
        "in" => "in",
        "forall" => "forall",
        "exists" => "exists",
        "%" => "%",
        "$" => "\\$",
        "," | ";" | ":" | " " | "!" => "thin",
        "{" => "{",
        "}" => "}",
        "_" => "\\_",
        "&" => "&",
        "#" => "\\#",
        _ => return None,
    })
}

struct Tex<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl<'a> Tex<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ' || c == b'\n' || c == b'\t') {
            self.i += 1;
        }
    }
    fn command(&mut self) -> &'a str {
        let start = self.i;
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.i += 1;
            }
        } else if self.peek().is_some() {
            // A one-character command: \%, \$, \,, \{ …
            let ch = self.src[self.i..].chars().next().map(char::len_utf8).unwrap_or(1);
            self.i += ch;
        }
        &self.src[start..self.i]
    }
    /// One argument: a `{…}` group or a single token.
    fn arg(&mut self) -> Option<String> {
        self.skip_ws();
        match self.peek()? {
            b'{' => {
                self.i += 1;
                let inner = self.seq(Some(b'}'))?;
                self.i += 1;
                Some(inner)
            }
            b'\\' => {
                self.i += 1;
                self.cmd()
            }
            _ => self.atom(),
        }
    }
    /// A raw `{…}` group's text (for \text).
    fn raw_group(&mut self) -> Option<&'a str> {
        self.skip_ws();
        if self.peek()? != b'{' {
            return None;
        }
        let start = self.i + 1;
        let mut depth = 0;
        while let Some(c) = self.peek() {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Some(&self.src[start..self.i - 1]);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        None
    }
    fn atom(&mut self) -> Option<String> {
        let c = self.src[self.i..].chars().next()?;
        self.i += c.len_utf8();
        Some(match c {
            // Letters stand apart: "PV" in Typst math would be one (unknown) name.
            c if c.is_ascii_alphabetic() => format!("{c} "),
            '/' => "\\/".into(),
            '"' => "\\\"".into(),
            '#' => "\\#".into(),
            '$' => "\\$".into(),
            '_' | '^' => return None,
            c => c.to_string(),
        })
    }
    fn cmd(&mut self) -> Option<String> {
        let name = self.command();
        Some(match name {
            "frac" | "dfrac" | "tfrac" => {
                let a = self.arg()?;
                let b = self.arg()?;
                format!("frac({a}, {b})")
            }
            "sqrt" => {
                self.skip_ws();
                if self.peek() == Some(b'[') {
                    let end = self.src[self.i..].find(']')? + self.i;
                    let n = latex_to_typst(&self.src[self.i + 1..end])?;
                    self.i = end + 1;
                    let a = self.arg()?;
                    format!("root({n}, {a})")
                } else {
                    format!("sqrt({})", self.arg()?)
                }
            }
            "boxed" => format!("#box(stroke: 0.6pt, inset: 3pt, ${}$)", self.arg()?),
            "text" | "mathrm" | "textrm" | "operatorname" | "mathit" | "textbf" | "mathbf" => format!("{} ", lit(self.raw_group()?)),
            "left" | "right" | "big" | "Big" | "bigg" | "Bigg" | "displaystyle" | "limits" => String::new(),
            "begin" | "end" => {
                self.raw_group()?;
                String::new()
            }
            "\\" => "\\ ".into(),
            other => format!("{} ", symbol(other)?),
        })
    }
    /// A sequence up to `end` (not consumed) or the end of input.
    fn seq(&mut self, end: Option<u8>) -> Option<String> {
        let mut o = String::new();
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else { return end.is_none().then_some(o) };
            if Some(c) == end {
                return Some(o);
            }
            match c {
                b'{' => {
                    self.i += 1;
                    let inner = self.seq(Some(b'}'))?;
                    self.i += 1;
                    o.push_str(&inner);
                }
                b'}' => return None,
                b'^' | b'_' => {
                    self.i += 1;
                    let a = self.arg()?;
                    o.push_str(&format!("{}({})", c as char, a.trim()));
                }
                b'\\' => {
                    self.i += 1;
                    o.push_str(&self.cmd()?);
                }
                _ => o.push_str(&self.atom()?),
            }
        }
    }
}

/// The LaTeX subset answers use, as Typst math; `None` if anything is not understood.
pub fn latex_to_typst(latex: &str) -> Option<String> {
    let mut t = Tex { s: latex.as_bytes(), src: latex, i: 0 };
    let out = t.seq(None)?;
    Some(out.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finance_formulas_translate() {
        let squeeze = |s: Option<String>| s.map(|s| s.split_whitespace().collect::<String>());
        assert_eq!(squeeze(latex_to_typst("PV = \\frac{1000}{(1+0.05)^2}")).as_deref(), Some("PV=frac(1000,(1+0.05)^(2))"));
        assert_eq!(squeeze(latex_to_typst("\\boxed{907.03}")).as_deref(), Some("#box(stroke:0.6pt,inset:3pt,$907.03$)"));
        assert_eq!(squeeze(latex_to_typst("\\sigma\\sqrt{T}")).as_deref(), Some("sigmasqrt(T)"));
        assert!(latex_to_typst("\\text{NPV} \\approx 12\\%").is_some_and(|s| s.contains("\"NPV\"") && s.contains('%')));
        assert_eq!(latex_to_typst("\\unknowncommand{x}"), None);
        assert_eq!(latex_to_typst("\\frac{1}{"), None);
    }

    #[test]
    fn text_cannot_become_code() {
        let t = markdown("#import \"x\" $5 and `code` [link](javascript:alert(1)) // not a comment", 1);
        assert!(t.contains("#\"#import \\\"x\\\""), "{t}");
        assert!(!t.contains("javascript"), "{t}");
    }
}

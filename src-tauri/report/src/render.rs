//! The one markdown renderer of the chat view, the reports and `fin-r1 render`: model output in,
//! safe HTML out.
//!
//! pulldown-cmark (tables, footnotes, strikethrough, task lists, math) → raw HTML in the
//! markdown dropped → LaTeX (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`, a bare `\boxed{…}`) as MathML,
//! `\boxed{}` as `<menclose notation="box">` → fenced code highlighted by syntect (CSS classes,
//! the language shown) → images turned into links (nothing remote is ever loaded) → ammonia with
//! an allow-list: links only http(s)/mailto, opening outside (`target="_blank"`,
//! `rel="noopener noreferrer nofollow"`).
//!
//! Cost, measured by `examples/render_cost.rs` (`cargo run --release -p fin-r1-report --example
//! render_cost`) on the 2-core CI machine: re-rendering a 10,000-character answer (headings, tables, inline math, forty code
//! blocks) takes 5.5 ms in a release build and 7.5 ms in the dev profile, once its code blocks
//! have been highlighted (they are cached by content; highlighting all forty afresh costs 15 ms).
//! So the chat view can re-render the whole growing answer on each ~30 ms batch of tokens.

use std::sync::OnceLock;

use fin_r1_calc::{Finding, Verdict};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Splits `src` into (text, boxed) parts at each `\boxed{…}` (braces balanced).
fn split_boxed(src: &str) -> Vec<(String, bool)> {
    let mut parts = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("\\boxed{") {
        let (before, after) = rest.split_at(i);
        let body = &after["\\boxed{".len()..];
        let mut depth = 1;
        let mut end = None;
        for (j, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if !before.is_empty() {
            parts.push((before.to_owned(), false));
        }
        parts.push((body[..end].to_owned(), true));
        rest = &body[end + 1..];
    }
    if !rest.is_empty() {
        parts.push((rest.to_owned(), false));
    }
    parts
}

/// LaTeX as MathML; what latex2mathml cannot read is shown as the source in a code span. Not
/// safe alone (latex2mathml writes `a<b` as `<mo><</mo>`): `render` sanitises it with the rest.
fn math(src: &str, display: bool) -> String {
    let style = if display { latex2mathml::DisplayStyle::Block } else { latex2mathml::DisplayStyle::Inline };
    let mut inner = String::new();
    for (part, boxed) in split_boxed(src.trim()) {
        let (latex, texts) = protect_text(&part);
        let m = match latex2mathml::latex_to_mathml(&latex, style) {
            // It reports some errors inside its output rather than as an error.
            Ok(m) if !m.contains("[PARSE ERROR") => restore_text(&m, &texts),
            _ => return format!("<code class=\"math-source\">{}</code>", escape(src)),
        };
        // Keep what is inside <math …>…</math>: the parts share one <math> element.
        let body = m.find('>').map(|i| &m[i + 1..]).unwrap_or(&m);
        let body = body.rfind("</math>").map(|i| &body[..i]).unwrap_or(body);
        if boxed {
            inner.push_str(&format!("<menclose notation=\"box\"><mrow>{body}</mrow></menclose>"));
        } else {
            inner.push_str(body);
        }
    }
    let display_attr = if display { "block" } else { "inline" };
    format!("<math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=\"{display_attr}\">{inner}</math>")
}

/// Takes each `\text{…}` out of the LaTeX for a letters-only stand-in, returning the texts:
/// latex2mathml 0.2 reads only letters there (`\text{约 907 元}`, a result with its unit as a
/// model writes it, came out as a parse error), so the text goes back in after conversion.
fn protect_text(latex: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(latex.len());
    let mut texts = Vec::new();
    let mut rest = latex;
    while let Some(i) = rest.find("\\text{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "\\text{".len()..];
        let mut depth = 1;
        let Some(end) = after.char_indices().find_map(|(j, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(j)
        }) else {
            // Unbalanced: left for the converter to refuse.
            out.push_str(&rest[i..]);
            return (out, texts);
        };
        out.push_str(&format!("\\text{{{}}}", stand_in(texts.len())));
        texts.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    (out, texts)
}

fn stand_in(i: usize) -> String {
    let letters: String = i.to_string().chars().map(|d| (b'a' + d as u8 - b'0') as char).collect();
    format!("finrtext{letters}z")
}

/// Puts the texts `protect_text` took out back into the MathML.
fn restore_text(mathml: &str, texts: &[String]) -> String {
    let mut out = mathml.to_owned();
    for (i, t) in texts.iter().enumerate() {
        // Spaces at the ends would be dropped by MathML: no-break ones keep the gap.
        let shown = escape(t).replace(' ', "\u{a0}");
        out = out.replace(&stand_in(i), &shown);
    }
    out
}

/// Rewrites `\(…\)` and `\[…\]` (how Qwen-family models write math) and a bare `\boxed{…}` into
/// the `$` delimiters pulldown-cmark reads, leaving code alone.
fn normalise_math(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 16);
    let mut in_fence = false;
    for line in md.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            out.push_str(line);
            continue;
        }
        if in_fence {
            out.push_str(line);
            continue;
        }
        // Outside inline code spans only.
        for (k, seg) in line.split('`').enumerate() {
            if k > 0 {
                out.push('`');
            }
            if k % 2 == 1 {
                out.push_str(seg);
                continue;
            }
            let s = escape_currency(seg);
            let s = s.replace("\\[", "$$").replace("\\]", "$$").replace("\\(", "$").replace("\\)", "$");
            out.push_str(&wrap_bare_boxed(&s));
        }
    }
    out
}

/// A single `$` before a digit is money, not math: "between $5-$10" must not become a formula.
/// Escaped here, before `\(…\)` becomes `$…$`, so model-written math keeps its delimiters.
fn escape_currency(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.char_indices() {
        if c == '$' {
            let prev = if i > 0 { b[i - 1] } else { b' ' };
            // A calculation's mark between `$` and the digits does not make it math.
            let next = s[i + 1..].chars().find(|c| !is_mark(*c)).map_or(b' ', |c| if c.is_ascii() { c as u8 } else { b'x' });
            if next.is_ascii_digit() && prev != b'$' && prev != b'\\' {
                out.push('\\');
            }
        }
        out.push(c);
    }
    out
}

/// `\boxed{…}` outside `$…$` gets wrapped in `$`.
fn wrap_bare_boxed(s: &str) -> String {
    if !s.contains("\\boxed{") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 4);
    // Open math spans: `$$` is one delimiter, not two (`$$\boxed{x}$$` is already math);
    // an escaped `\$` is money.
    let (mut inline, mut display) = (false, false);
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'$') {
            out.push_str("\\$");
            i += 2;
            continue;
        }
        if bytes[i] == b'$' {
            if bytes.get(i + 1) == Some(&b'$') && !inline {
                display = !display;
                out.push_str("$$");
                i += 2;
            } else {
                inline = !inline;
                out.push('$');
                i += 1;
            }
            continue;
        }
        if !inline && !display && s[i..].starts_with("\\boxed{") {
            let parts = split_boxed(&s[i..]);
            if let Some((inner, true)) = parts.first() {
                out.push_str(&format!("$\\boxed{{{inner}}}$"));
                i += "\\boxed{".len() + inner.len() + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A streaming answer is re-rendered on every batch of tokens, and its finished code blocks do
/// not change: highlighting them again each time was most of the cost of a re-render.
fn highlight(code: &str, lang: &str) -> String {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::Mutex;
    type Highlighted = Mutex<HashMap<u64, (String, String)>>;
    static CACHE: OnceLock<(RandomState, Highlighted)> = OnceLock::new();
    let (hasher, cache) = CACHE.get_or_init(|| (RandomState::new(), Mutex::new(HashMap::new())));
    let key = hasher.hash_one((code, lang));
    let hit = cache.lock().ok().and_then(|c| c.get(&key).filter(|(src, _)| src == code).map(|(_, html)| html.clone()));
    if let Some(html) = hit {
        return html;
    }
    let html = highlight_uncached(code, lang);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 512 {
            c.clear();
        }
        c.insert(key, (code.to_owned(), html.clone()));
    }
    html
}

fn highlight_uncached(code: &str, lang: &str) -> String {
    let set = syntaxes();
    let syntax = set.find_syntax_by_token(lang).or_else(|| set.find_syntax_by_extension(lang)).unwrap_or_else(|| set.find_syntax_plain_text());
    let mut gen = ClassedHTMLGenerator::new_with_class_style(syntax, set, ClassStyle::SpacedPrefixed { prefix: "hl-" });
    for line in LinesWithEndings::from(code) {
        if gen.parse_html_for_line_which_includes_newline(line).is_err() {
            return escape(code);
        }
    }
    gen.finalize()
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        let math_tags = [
            "math",
            "mrow",
            "mi",
            "mn",
            "mo",
            "ms",
            "mtext",
            "mspace",
            "msup",
            "msub",
            "msubsup",
            "mfrac",
            "msqrt",
            "mroot",
            "mover",
            "munder",
            "munderover",
            "mtable",
            "mtr",
            "mtd",
            "mstyle",
            "menclose",
            "mpadded",
            "mphantom",
            "semantics",
            "annotation",
        ];
        b.add_tags(math_tags)
            .add_tags(["input", "div", "span", "section", "sup", "del", "details", "summary"])
            .add_tag_attributes("math", ["display", "xmlns"])
            .add_tag_attributes("menclose", ["notation"])
            .add_tag_attributes("mo", ["stretchy", "fence", "separator", "lspace", "rspace", "form"])
            .add_tag_attributes("mstyle", ["displaystyle", "scriptlevel"])
            .add_tag_attributes("mspace", ["width"])
            .add_tag_attributes("mfrac", ["linethickness"])
            .add_tag_attributes("mtd", ["columnalign"])
            .add_tag_attributes("annotation", ["encoding"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            // No `id`: model-chosen ids (footnote names) could clobber the app's globals.
            .add_generic_attributes(["class"])
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer nofollow"))
            .set_tag_attribute_value("a", "target", "_blank")
            .filter_style_properties(["text-align"].into_iter().collect());
        b
    })
}

/// Model output as the renderer reads it: math delimiters normalised, money escaped. Shared
/// with the PDF writer so both see the same document.
pub(crate) fn prepare(markdown: &str) -> (String, Options) {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_MATH;
    (normalise_math(markdown), opts)
}

/// Where a differing calculation's result starts and ends in the text handed to the renderer;
/// in a formula, where its note goes after it. Each is followed by its finding's index as one
/// character of plane 15 (U+F0000 + i), so a mark the renderer drops cannot shift the notes.
/// Private-use characters: a model's own are removed first (`strip_marks`), and marks are kept
/// out of attributes (links, titles, code languages) before the HTML is written.
const MARK_START: char = '\u{E000}';
const MARK_END: char = '\u{E001}';
const MARK_BADGE: char = '\u{E002}';
const INDEX_BASE: u32 = 0xF0000;

fn is_mark(c: char) -> bool {
    matches!(c, MARK_START | MARK_END | MARK_BADGE) || ('\u{F0000}'..='\u{FFFFD}').contains(&c)
}

/// The text without the characters marks are made of.
pub fn strip_marks(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(is_mark) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_mark(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn strip_cow(s: CowStr<'_>) -> CowStr<'_> {
    if s.contains(is_mark) {
        CowStr::from(s.chars().filter(|c| !is_mark(*c)).collect::<String>())
    } else {
        s
    }
}

fn index_char(i: usize) -> char {
    u32::try_from(i).ok().and_then(|i| char::from_u32(INDEX_BASE + i.min(0xFFFD))).unwrap_or(MARK_BADGE)
}

/// A formula cannot hold a mark: its marks leave it, and each differing result's note follows it.
fn unmark(m: &str) -> (String, String) {
    let mut badges = String::new();
    let mut chars = m.chars().peekable();
    while let Some(c) = chars.next() {
        if c == MARK_END {
            if let Some(&i) = chars.peek() {
                badges.push(MARK_BADGE);
                badges.push(i);
            }
        }
    }
    (m.chars().filter(|c| !is_mark(*c)).collect(), badges)
}

/// Text with a mark around each differing result (findings of `fin_r1_calc::check` on the same
/// text, in order).
fn place_marks(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len() + 8 * findings.len());
    let mut at = 0;
    for (i, f) in findings.iter().enumerate().filter(|(_, f)| f.verdict == Verdict::Differs) {
        if f.stated.start < at || f.stated.end > text.len() || !text.is_char_boundary(f.stated.start) || !text.is_char_boundary(f.stated.end) {
            continue;
        }
        out.push_str(&text[at..f.stated.start]);
        out.push(MARK_START);
        out.push(index_char(i));
        out.push_str(&text[f.stated.clone()]);
        out.push(MARK_END);
        out.push(index_char(i));
        at = f.stated.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The marks as HTML, after sanitising (so this markup is the renderer's own, never the
/// model's): `<mark>` around the result as written, then the recomputed value.
fn marks_to_html(html: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(html.len() + 96 * findings.len());
    let mut open = false;
    let note = |i: Option<char>| match i.and_then(|c| findings.get((c as u32).wrapping_sub(INDEX_BASE) as usize)) {
        Some(f) => format!("<span class=\"calc-recomputed\" title=\"{}\">≠ {}</span>", escape(&f.exact.normalize().to_string()), escape(&f.recomputed)),
        None => String::new(),
    };
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        match c {
            MARK_START => {
                let _ = chars.next();
                if !open {
                    out.push_str("<mark class=\"calc-differs\">");
                    open = true;
                }
            }
            MARK_END => {
                if open {
                    out.push_str("</mark>");
                    open = false;
                }
                out.push_str(&note(chars.next()));
            }
            MARK_BADGE => out.push_str(&note(chars.next())),
            c if is_mark(c) => {}
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// Marks out of everything that becomes an attribute or code: only text nodes and formulas
/// carry them into the HTML.
fn unmark_event(ev: Event<'_>) -> Event<'_> {
    match ev {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: strip_cow(dest_url), title: strip_cow(title), id: strip_cow(id) })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: strip_cow(dest_url), title: strip_cow(title), id: strip_cow(id) })
        }
        Event::Start(Tag::Heading { level, id, classes, attrs }) => Event::Start(Tag::Heading {
            level,
            id: id.map(strip_cow),
            classes: classes.into_iter().map(strip_cow).collect(),
            attrs: attrs.into_iter().map(|(k, v)| (strip_cow(k), v.map(strip_cow))).collect(),
        }),
        Event::Start(Tag::FootnoteDefinition(label)) => Event::Start(Tag::FootnoteDefinition(strip_cow(label))),
        Event::FootnoteReference(label) => Event::FootnoteReference(strip_cow(label)),
        Event::Code(c) => Event::Code(strip_cow(c)),
        other => other,
    }
}

/// An answer rendered with its calculations checked: each differing result marked where it
/// stands, with the recomputed value after it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub html: String,
    pub findings: Vec<Finding>,
}

/// `render`, with the calculation check's marks.
pub fn render_checked(markdown: &str) -> Checked {
    let text = strip_marks(markdown);
    let findings = fin_r1_calc::check(&text);
    if !findings.iter().any(|f| f.verdict == Verdict::Differs) {
        return Checked { html: render(&text), findings };
    }
    let html = render_inner(&place_marks(&text, &findings));
    Checked { html: marks_to_html(&html, &findings), findings }
}

/// Plain text (a reasoning chain) as escaped HTML with the same marks.
pub fn plain_checked(text: &str) -> Checked {
    let text = strip_marks(text);
    let findings = fin_r1_calc::check(&text);
    let html = escape(&place_marks(&text, &findings));
    Checked { html: marks_to_html(&html, &findings), findings }
}

/// Renders model output (markdown) as sanitised HTML.
pub fn render(markdown: &str) -> String {
    render_inner(&strip_marks(markdown))
}

fn render_inner(markdown: &str) -> String {
    let (md, opts) = prepare(markdown);
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut code: Option<(String, String)> = None;
    for ev in Parser::new_ext(&md, opts).map(unmark_event) {
        if let Some((lang, buf)) = code.as_mut() {
            match ev {
                Event::Text(t) => buf.push_str(&strip_marks(&t)),
                Event::End(TagEnd::CodeBlock) => {
                    let label = if lang.is_empty() { "text".to_owned() } else { lang.clone() };
                    let html = format!(
                        "<div class=\"code-block\"><div class=\"code-lang\">{}</div><pre><code class=\"language-{}\">{}</code></pre></div>",
                        escape(&label),
                        escape(&label),
                        highlight(buf, lang)
                    );
                    events.push(Event::Html(CowStr::from(html)));
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => strip_marks(l.split_whitespace().next().unwrap_or("")).into_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((lang, String::new()));
            }
            // Raw HTML written by the model is dropped, never passed through.
            Event::Html(_) | Event::InlineHtml(_) => {}
            Event::InlineMath(m) => {
                let (m, badges) = unmark(&m);
                events.push(Event::Html(CowStr::from(math(&m, false) + &badges)));
            }
            Event::DisplayMath(m) => {
                let (m, badges) = unmark(&m);
                events.push(Event::Html(CowStr::from(format!("<div class=\"math-display\">{}{badges}</div>", math(&m, true)))));
            }
            // Images are never loaded: shown as a link to the address, labelled with the alt text.
            Event::Start(Tag::Image { dest_url, .. }) => {
                events.push(Event::Html(CowStr::from(format!("<a class=\"image-link\" href=\"{}\">[image: ", escape(&dest_url)))));
            }
            Event::End(TagEnd::Image) => {
                events.push(Event::Html(CowStr::from("]</a>")));
            }
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(md.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    // A display formula alone in a paragraph leaves an empty <p></p> on either side.
    sanitizer().clean(&html).to_string().replace("<p></p>", "")
}

/// CSS for the highlighted code classes (`hl-*`), math and the calculation marks, light theme; the UI and the HTML
/// reports embed it.
pub fn highlight_css() -> &'static str {
    ".code-block{margin:.6em 0;border:1px solid #d0d7de;border-radius:6px;overflow:hidden}\
     .code-lang{font:12px sans-serif;color:#57606a;background:#f6f8fa;padding:2px 8px;border-bottom:1px solid #d0d7de}\
     .code-block pre{margin:0;padding:8px;overflow-x:auto}\
     .hl-comment{color:#6a737d;font-style:italic}.hl-string{color:#032f62}.hl-keyword,.hl-storage{color:#d73a49}\
     .hl-constant{color:#005cc5}.hl-entity.hl-name{color:#6f42c1}.hl-support{color:#005cc5}.hl-variable{color:#24292e}\
     .math-display{overflow-x:auto;margin:.5em 0}\
     mark.calc-differs{background:#fde2e1;color:inherit;border-bottom:2px solid #cf222e;padding:0 1px}\
     .calc-recomputed{color:#cf222e;font-size:.85em;margin-left:4px;white-space:nowrap}"
}

#[cfg(test)]
mod calc_marks {
    use super::*;

    #[test]
    fn a_differing_result_is_marked_where_it_stands_and_nothing_else_is() {
        let c = render_checked("Revenue grew $4,822 - $4,286 = $563, and 1000 / 1.05^2 = 907.03.");
        assert_eq!(c.findings.len(), 2);
        assert!(c.html.contains("<mark class=\"calc-differs\">563</mark><span class=\"calc-recomputed\" title=\"536\">≠ 536</span>"), "{}", c.html);
        assert_eq!(c.html.matches("<mark").count(), 1);
        assert!(c.html.contains("907.03"));
    }

    #[test]
    fn in_a_formula_the_note_follows_the_formula() {
        let c = render_checked("$$PV = \\frac{1000}{1.05^2} \\approx 907.02$$");
        assert!(c.html.contains("<math"), "{}", c.html);
        assert!(!c.html.contains(is_mark));
        assert!(c.html.contains("≠ 907.0295</span></div>"), "{}", c.html);
    }

    #[test]
    fn marks_stay_out_of_attributes_and_notes_stay_with_their_results() {
        // A link title and a fence's language holding a differing calculation.
        let c = render_checked("[see](https://x.example \"1+1=3\") and 2+2=5\n\n~~~1+1=3\ncode\n~~~\n\nthen 3+3=7");
        assert!(c.html.contains("rel=\"noopener noreferrer nofollow\""), "the link keeps what the sanitiser gave it: {}", c.html);
        assert!(!c.html.contains("title=\"1+1=<"), "{}", c.html);
        assert!(c.html.contains("<mark class=\"calc-differs\">5</mark><span class=\"calc-recomputed\" title=\"4\">≠ 4</span>"), "{}", c.html);
        assert!(c.html.contains("<mark class=\"calc-differs\">7</mark><span class=\"calc-recomputed\" title=\"6\">≠ 6</span>"), "{}", c.html);
        // A boxed final answer that differs still renders as math.
        let c = render_checked("\\boxed{1000 / 1.05^2 = 907.02}");
        assert!(c.html.contains("menclose") && c.html.contains("≠ 907.0295"), "{}", c.html);
    }

    #[test]
    fn the_models_own_private_use_characters_cannot_forge_a_mark() {
        let c = render_checked("so \u{E000}<script>x</script>\u{E001} and 1 + 1 = 3");
        assert_eq!(c.html.matches("<mark").count(), 1, "{}", c.html);
        assert!(!c.html.contains("<script"));
        let p = plain_checked("2 + 2 = 5 <b>\u{E001}");
        assert!(p.html.contains("<mark class=\"calc-differs\">5</mark>"), "{}", p.html);
        assert!(p.html.contains("&lt;b&gt;"));
    }
}

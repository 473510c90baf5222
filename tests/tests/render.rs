//! The markdown renderer: model output is untrusted input. Every payload of the XSS corpus comes
//! out inert (checked by scanning every tag and attribute of the output against what the app
//! allows, not by looking for a few strings); tables, math, boxed results and code render.

use std::io::Write;
use std::process::{Command, Stdio};

use fin_r1_report::render::render;
use fin_r1_tests::fin_r1_bin;

const ALLOWED_TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "input",
    "div",
    "span",
    "sup",
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

/// Every tag in the output, as (name, [(attribute, value)]). Sanitised output escapes every `<`
/// in text, so each `<` starts a tag.
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').unwrap_or_else(|| panic!("unclosed tag in {html}"));
        let inner = &after[..end];
        rest = &after[end + 1..];
        if inner.starts_with('/') {
            continue;
        }
        let inner = inner.trim_end_matches('/');
        let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let mut attrs = Vec::new();
        let mut s = inner[name_end..].trim_start();
        while !s.is_empty() {
            let eq = s.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(s.len());
            let key = s[..eq].to_ascii_lowercase();
            s = &s[eq..];
            let mut value = String::new();
            if let Some(v) = s.strip_prefix('=') {
                let v = v.strip_prefix('"').unwrap_or_else(|| panic!("unquoted attribute in {html}"));
                let close = v.find('"').expect("closing quote");
                value = v[..close].to_owned();
                s = &v[close + 1..];
            }
            attrs.push((key, value));
            s = s.trim_start();
        }
        out.push((name, attrs));
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
}

fn assert_inert(payload: &str) {
    let html = render(payload);
    for (name, attrs) in tags(&html) {
        assert!(ALLOWED_TAGS.contains(&name.as_str()), "tag <{name}> from {payload:?}:\n{html}");
        for (key, value) in attrs {
            assert!(!key.starts_with("on"), "event handler {key} from {payload:?}:\n{html}");
            assert!(
                !["src", "srcset", "action", "formaction", "xlink:href", "background", "poster", "data"].contains(&key.as_str()),
                "{key} from {payload:?}:\n{html}"
            );
            match key.as_str() {
                "href" => {
                    let v = decode_entities(&value).trim().to_ascii_lowercase();
                    assert!(v.starts_with("https://") || v.starts_with("http://") || v.starts_with("mailto:"), "href {value:?} from {payload:?}:\n{html}");
                    assert!(name == "a", "href on <{name}> from {payload:?}");
                }
                "style" => {
                    assert!(["th", "td"].contains(&name.as_str()) && value.starts_with("text-align:") && !value.contains("url"), "style {value:?}");
                }
                "class" | "title" | "target" | "rel" | "type" | "checked" | "disabled" | "display" | "xmlns" | "notation" | "stretchy" | "fence"
                | "separator" | "lspace" | "rspace" | "form" | "displaystyle" | "scriptlevel" | "width" | "linethickness" | "columnalign" | "encoding" => {
                    let v = value.to_ascii_lowercase();
                    assert!(!v.contains("javascript") && !v.contains("url("), "{key}={value:?} from {payload:?}");
                }
                other => panic!("attribute {other}={value:?} from {payload:?}:\n{html}"),
            }
            if name == "input" {
                // Task-list checkboxes only, never a live form control.
            }
        }
    }
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
}

#[test]
fn xss_corpus_comes_out_inert() {
    let corpus = [
        "<script>alert(1)</script>",
        "before <script>alert(1)</script> after",
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
        "[x](java&#x09;script:alert(1))",
        "[x](%6Aavascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
        "[x](file:///etc/passwd)",
        "[x](//evil.example/path)",
        "<javascript:alert(1)>",
        "[ref]\n\n[ref]: javascript:alert(1)",
        "[x](https://ok.example/\"onmouseover=\"alert(1))",
        "[x](https://ok.example \"t\\\" onmouseover=\\\"alert(1)\")",
        "<a href=\"https://ok.example\" onclick=\"alert(1)\">ok</a>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<svg onload=alert(1)><circle r=1/></svg>",
        "<svg><script>alert(1)</script></svg>",
        "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
        "<math href=\"javascript:alert(1)\"><mi>x</mi></math>",
        "<style>body{display:none}</style>",
        "<div style=\"background:url(https://evil.example/x)\">x</div>",
        "<details open ontoggle=alert(1)>",
        "<form action=\"https://evil.example\"><input type=submit></form>",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
        "<link rel=stylesheet href=https://evil.example/x.css>",
        "<object data=\"https://evil.example/x.swf\"></object><embed src=\"https://evil.example/x\">",
        "<base href=\"https://evil.example/\">",
        "![x](https://evil.example/track.png)",
        "![x](javascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "<!-- <script>alert(1)</script> -->",
        "`<script>alert(1)</script>`",
        "```html\n<script>alert(1)</script>\n```",
        "```\"><script>alert(1)</script>\nx\n```",
        "$<img src=x onerror=alert(1)>$",
        "$$\\href{javascript:alert(1)}{x}$$",
        "\\(\\text{<script>alert(1)</script>}\\)",
        "\\boxed{<script>alert(1)</script>}",
        "$\\boxed{\\unknowncommand{</math><img src=x onerror=alert(1)>}}$",
        "footnote[^x]\n\n[^x]: <img src=x onerror=alert(1)>",
        "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
        "- [x] <input type=text onfocus=alert(1) autofocus>",
        "<textarea><script>alert(1)</script></textarea>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    ];
    for payload in corpus {
        assert_inert(payload);
    }
}

#[test]
fn remote_images_become_links_and_links_open_outside() {
    let html = render("![Q3 revenue chart](https://cdn.example.com/q3.png) and [SEC](https://www.sec.gov/)");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("href=\"https://cdn.example.com/q3.png\""), "{html}");
    assert!(html.contains("[image: Q3 revenue chart]"), "{html}");
    let sec = html.split("<a ").find(|a| a.contains("sec.gov")).expect("link kept");
    assert!(sec.contains("target=\"_blank\"") && sec.contains("noopener"), "{html}");
}

#[test]
fn table_renders_with_alignment() {
    let html = render("| Year | Cash flow | Discounted |\n|:--|--:|--:|\n| 1 | $500 | $476.19 |\n| 2 | $500 | $453.51 |\n");
    assert!(html.contains("<table>") && html.contains("<th style=\"text-align:right\">Cash flow</th>"), "{html}");
    assert_eq!(html.matches("<tr>").count(), 3, "{html}");
    assert!(html.contains("$476.19"), "{html}");
}

#[test]
fn dollar_amounts_stay_text() {
    for md in ["Costs $1,000 and $907 today.", "Between $5-$10 per share.", "A range of $5 to $10."] {
        let html = render(md);
        assert!(!html.contains("<math"), "money read as math: {md:?} -> {html}");
        assert!(html.contains("$5") || html.contains("$1,000"), "{html}");
    }
}

#[test]
fn inline_display_and_boxed_math_become_mathml() {
    let html =
        render("The rule is \\(PV = \\frac{C}{(1+r)^n}\\), summed:\n\n\\[ PV = \\sum_{t=1}^{n} \\frac{CF_t}{(1+r)^t} \\]\n\nSo the value is \\boxed{907.03}.");
    assert!(html.contains("<math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=\"inline\">"), "{html}");
    assert!(html.contains("<mfrac>"), "{html}");
    assert!(html.contains("<div class=\"math-display\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=\"block\">"), "{html}");
    assert!(html.contains("<munderover><mo>∑</mo>"), "{html}");
    assert!(html.contains("<menclose notation=\"box\"><mrow><mn>907.03</mn></mrow></menclose>"), "{html}");
    assert!(!html.contains("<p></p>"), "{html}");
    // Dollar-delimited math, as the model also writes it.
    let html = render("$x^2$ and $$\\boxed{r = 5\\%}$$");
    assert!(html.contains("<msup><mi>x</mi><mn>2</mn></msup>"), "{html}");
    assert!(html.contains("<menclose notation=\"box\">"), "{html}");
    // Regression: a boxed result already inside `$$…$$` was wrapped in `$` again, leaving stray
    // dollar signs around the formula.
    for md in ["$$\\boxed{x=1}$$", "$x^2$ and $$\\boxed{r = 5\\%}$$", "Total: $$\\boxed{907}$$ at \\$5 each"] {
        let html = render(md);
        assert!(html.contains("<menclose notation=\"box\">"), "{md}: {html}");
        assert_eq!(html.matches('$').count(), usize::from(md.contains("\\$5")), "{md}: {html}");
    }
}

#[test]
fn unreadable_latex_is_shown_as_source() {
    let html = render("$\\frac{1}{$");
    assert!(!html.contains("<math") || html.contains("math-source"), "{html}");
}

#[test]
fn fenced_code_is_highlighted_with_its_language() {
    let html = render("```python\ndef pv(c, r, n):\n    return c / (1 + r) ** n  # discount once per period\n```\n");
    assert!(html.contains("<div class=\"code-lang\">python</div>"), "{html}");
    assert!(html.contains("<code class=\"language-python\">"), "{html}");
    assert!(html.contains("<span class=\"hl-storage hl-type hl-function hl-python\">def</span>"), "{html}");
    assert!(html.contains("hl-comment"), "{html}");
    let plain = render("```\nno language <b>\n```");
    assert!(plain.contains("<div class=\"code-lang\">text</div>") && plain.contains("&lt;b&gt;"), "{plain}");
}

#[test]
fn strikethrough_footnotes_and_task_lists() {
    let html = render("~~old~~ new[^1]\n\n- [x] checked\n- [ ] open\n\n[^1]: the source");
    assert!(html.contains("<del>old</del>"), "{html}");
    assert!(html.contains("footnote-definition"), "{html}");
    assert!(html.contains("type=\"checkbox\"") && html.contains("disabled"), "{html}");
    assert!(!html.contains(" id="), "{html}");
}

#[test]
fn cli_render_reads_stdin() {
    let mut child = Command::new(fin_r1_bin()).args(["render"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn fin-r1 render");
    child.stdin.take().expect("stdin").write_all(b"**NPV** is \\boxed{12.5} <script>alert(1)</script>").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).expect("utf-8");
    assert!(html.contains("<strong>NPV</strong>") && html.contains("menclose") && !html.contains("script"), "{html}");
}

/// Issue 17 item 9: a result with its unit in `\text{}` (spaces inside) renders boxed, not as a
/// parse error; what the converter cannot read is shown as source, never as "[PARSE ERROR".
#[test]
fn boxed_results_with_words_render_as_math() {
    for src in ["\\boxed{\\text{约 907 元}}", "现值 = \\boxed{907.03 \\text{ 元}}", "\\(\\boxed{\\$907.03}\\)", "$$\\boxed{PV = 1000/(1.05)^2 = 907.03}$$"]
    {
        let html = render(src);
        assert!(html.contains("<menclose notation=\"box\">"), "{src} → {html}");
        assert!(!html.contains("PARSE ERROR") && !html.contains("math-source"), "{src} → {html}");
    }
    let html = render("\\boxed{\\text{约 907 元}}");
    assert!(html.contains("<mtext>约&nbsp;907&nbsp;元</mtext>"), "{html}");
}

use std::fmt::Write;

use super::{calc_overview, provenance, source_lines, status_note, tool_lines, typed_question, CalcNotes, ReasoningMode, Report, DISCLAIMER_EN, DISCLAIMER_ZH};
use crate::render::{highlight_css, plain_checked, render, render_checked};

/// Text for HTML: everything not from the renderer goes through here.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const CSS: &str = "\
body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\",\"Microsoft YaHei\",system-ui,sans-serif;\
color:#1d2430;max-width:860px;margin:32px auto;padding:0 24px;line-height:1.6;font-size:14.5px}\
h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;border-bottom:1px solid #d9dee6;padding-bottom:4px;margin-top:28px}\
h3{font-size:15px;margin:18px 0 6px}.meta{color:#5b6575;font-size:13px;margin:0 0 16px;padding:0;list-style:none}\
.disclaimer{border-left:4px solid #b8860b;background:#fbf7ec;padding:8px 12px;font-size:13px;margin:12px 0}\
.summary{border:1px solid #c9d3e0;border-radius:8px;padding:4px 16px 8px;background:#f5f8fc}\
.question{background:#f3f5f8;border-radius:8px;padding:10px 14px;white-space:pre-wrap}\
.reasoning{border-left:3px solid #b8860b;padding:4px 12px;color:#4d5766;background:#f7f7f4;white-space:pre-wrap;font-size:13px}\
details.reasoning summary{cursor:pointer;font-weight:600}\
.note{color:#9a6700;font-size:13px}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 10px;vertical-align:top}\
th{background:#f3f5f8}.answer h1,.answer h2,.answer h3{font-size:15px;border-bottom:none;margin:16px 0 6px}\
menclose[notation=box]{border:1px solid #1d2430;padding:1px 4px}.provenance{font-size:11.5px;color:#5b6575}.provenance td:first-child{white-space:nowrap}\
.provenance td{word-break:break-all}.calc{font-size:13px;border-left:3px solid #8c959f;padding:2px 10px;margin:8px 0}.calc p{margin:2px 0}.calc-overview{font-size:13px;color:#3d4654}details.tools{font-size:12.5px;margin:8px 0}details.tools code{white-space:pre-wrap;word-break:break-all}footer{margin-top:32px;border-top:1px solid #d9dee6;padding-top:8px;font-size:12px;color:#5b6575}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,pre,.code-block,.math-display,.question{break-inside:avoid}\
.turn{break-before:auto}details.reasoning{display:block}a{color:inherit}}";

/// The report as one HTML file: styles inline, math as MathML, no script, nothing fetched.
pub fn to_html(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{CSS}{}</style></head><body>\n",
        esc(&r.title),
        highlight_css()
    );
    let _ = writeln!(o, "<h1>{}</h1><ul class=\"meta\">", esc(&r.title));
    let _ = writeln!(o, "<li>日期 / Date: {}</li><li>时区 / Time zone: {}</li>", esc(&r.generated), esc(&r.time_zone));
    if let Some(s) = r.scenario_name() {
        let _ = writeln!(o, "<li>场景 / Scenario: {}</li>", esc(&s));
    }
    if let Some(m) = &r.conversation.model {
        let _ = writeln!(o, "<li>模型 / Model: {}</li>", esc(m));
    }
    let _ = writeln!(o, "<li>Fin-R1 Desktop {}</li></ul>", esc(&r.app_version));
    let _ = writeln!(o, "<div class=\"disclaimer\">{}<br>{}</div>", esc(DISCLAIMER_ZH), esc(DISCLAIMER_EN));
    if let Some(line) = calc_overview(r) {
        let _ = writeln!(o, "<p class=\"calc-overview\">{}</p>", esc(&line));
    }
    let lead = r.lead_sections();
    if !lead.is_empty() {
        let _ = writeln!(o, "<section class=\"summary\"><h2>摘要 / Summary</h2>");
        for (heading, body) in &lead {
            let _ = writeln!(o, "<h3>{}</h3>{}", esc(heading), render(body));
        }
        let _ = writeln!(o, "</section>");
    }
    for t in &r.turns {
        let (typed, fields) = typed_question(&t.question, r.scenario.as_ref());
        let _ = writeln!(o, "<section class=\"turn\"><h2>{}</h2><div class=\"question\">{}</div>", esc(&t.heading()), esc(typed.trim()));
        if !fields.is_empty() {
            let _ = write!(o, "<table><tr><th>字段 / Field</th><th>值 / Value</th></tr>");
            for (k, v) in &fields {
                let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
            }
            let _ = writeln!(o, "</table>");
        }
        let Some(a) = &t.answer else {
            let _ = writeln!(o, "<p class=\"note\">没有回答 / no answer</p></section>");
            continue;
        };
        if !a.reasoning.trim().is_empty() {
            match r.reasoning {
                ReasoningMode::Full => {
                    let _ = writeln!(o, "<h3>推理过程 / Reasoning</h3><div class=\"reasoning\">{}</div>", plain_checked(a.reasoning.trim()).html);
                }
                ReasoningMode::Collapsed => {
                    let _ =
                        writeln!(o, "<details class=\"reasoning\"><summary>推理过程 / Reasoning</summary>{}</details>", plain_checked(a.reasoning.trim()).html);
                }
                ReasoningMode::None => {}
            }
        }
        let tools = tool_lines(t);
        if !tools.is_empty() {
            let _ = write!(o, "<details class=\"tools\" open><summary>工具调用 / Tool calls ({})</summary><ul>", tools.len());
            for l in &tools {
                let _ = write!(o, "<li><code>{}</code></li>", esc(l));
            }
            let _ = writeln!(o, "</ul></details>");
        }
        let _ = writeln!(o, "<h3>回答 / Answer</h3><div class=\"answer\">{}</div>", render_checked(&a.answer).html);
        let sources = source_lines(t);
        if !sources.is_empty() {
            let _ = write!(o, "<div class=\"sources\"><h4>来源 / Sources</h4><ul>");
            for l in &sources {
                let _ = write!(o, "<li>{}</li>", esc(l));
            }
            let _ = writeln!(o, "</ul></div>");
        }
        if let Some(note) = status_note(a) {
            let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(note));
        }
        let calc = CalcNotes::of(a);
        if let Some(line) = calc.line() {
            let _ = write!(o, "<div class=\"calc\"><p><strong>{}</strong></p>", esc(&line));
            if !calc.differing.is_empty() {
                let _ = write!(o, "<ul>");
                for (part, statement, recomputed) in &calc.differing {
                    let _ = write!(o, "<li>≠ {}: <code>{}</code> → <span class=\"calc-recomputed\">{}</span></li>", esc(part), esc(statement), esc(recomputed));
                }
                let _ = write!(o, "</ul>");
            }
            let _ = writeln!(o, "</div>");
        }
        let _ = write!(o, "<table class=\"provenance\">");
        for (k, v) in provenance(a, &t.attachments) {
            let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
        }
        let _ = writeln!(o, "</table></section>");
    }
    let _ = writeln!(
        o,
        "<footer>{}<br>{}<br>Fin-R1 Desktop {} · {}</footer></body></html>",
        esc(DISCLAIMER_ZH),
        esc(DISCLAIMER_EN),
        esc(&r.app_version),
        esc(&r.generated)
    );
    o
}

/// A Markdown document (an evaluation run's report) as one self-contained HTML page, styled as
/// the conversation reports are. The document carries its own provenance and disclaimer.
pub fn markdown_page(title: &str, md: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{CSS}{}</style></head><body>\n<div class=\"disclaimer\">{}<br>{}</div>\n{}</body></html>\n",
        esc(title),
        highlight_css(),
        esc(DISCLAIMER_ZH),
        esc(DISCLAIMER_EN),
        render(md)
    )
}

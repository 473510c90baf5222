use std::fmt::Write;

use super::{calc_overview, provenance, source_lines, status_note, tool_lines, typed_question, CalcNotes, ReasoningMode, Report, DISCLAIMER_EN, DISCLAIMER_ZH};

/// The report as Markdown (GitHub-flavoured: tables, and `<details>` for folded reasoning).
pub fn to_markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", r.title);
    let _ = writeln!(o, "- 日期 / Date: {}", r.generated);
    let _ = writeln!(o, "- 时区 / Time zone: {}", r.time_zone);
    if let Some(s) = r.scenario_name() {
        let _ = writeln!(o, "- 场景 / Scenario: {s}");
    }
    if let Some(m) = &r.conversation.model {
        let _ = writeln!(o, "- 模型 / Model: {m}");
    }
    let _ = writeln!(o, "- Fin-R1 Desktop {}\n", r.app_version);
    let _ = writeln!(o, "> {DISCLAIMER_ZH}\n>\n> {DISCLAIMER_EN}\n");
    if let Some(line) = calc_overview(r) {
        let _ = writeln!(o, "{line}\n");
    }

    let lead = r.lead_sections();
    if !lead.is_empty() {
        let _ = writeln!(o, "## 摘要 / Summary\n");
        for (heading, body) in &lead {
            let _ = writeln!(o, "### {heading}\n\n{body}\n");
        }
    }
    for t in &r.turns {
        let (typed, fields) = typed_question(&t.question, r.scenario.as_ref());
        let _ = writeln!(o, "## {}\n\n{}\n", t.heading(), typed.trim());
        if !fields.is_empty() {
            let _ = writeln!(o, "| 字段 / Field | 值 / Value |\n|---|---|");
            for (k, v) in &fields {
                let _ = writeln!(o, "| {} | {} |", cell(k), cell(v));
            }
            o.push('\n');
        }
        let Some(a) = &t.answer else {
            let _ = writeln!(o, "*(没有回答 / no answer)*\n");
            continue;
        };
        if !a.reasoning.trim().is_empty() {
            match r.reasoning {
                ReasoningMode::Full => {
                    let _ = writeln!(o, "### 推理过程 / Reasoning\n");
                    for line in a.reasoning.trim().lines() {
                        let _ = writeln!(o, "> {line}");
                    }
                    o.push('\n');
                }
                ReasoningMode::Collapsed => {
                    let _ = writeln!(o, "<details><summary>推理过程 / Reasoning</summary>\n\n{}\n\n</details>\n", a.reasoning.trim());
                }
                ReasoningMode::None => {}
            }
        }
        let tools = tool_lines(t);
        if !tools.is_empty() {
            let _ = writeln!(o, "### 工具调用 / Tool calls\n");
            for l in &tools {
                let _ = writeln!(o, "- `{}`", l.replace('`', "'"));
            }
            o.push('\n');
        }
        let _ = writeln!(o, "### 回答 / Answer\n\n{}\n", a.answer.trim());
        let sources = source_lines(t);
        if !sources.is_empty() {
            let _ = writeln!(o, "#### 来源 / Sources\n");
            for l in &sources {
                let _ = writeln!(o, "- {}", md_text(l));
            }
            o.push('\n');
        }
        if let Some(note) = status_note(a) {
            let _ = writeln!(o, "*{note}*\n");
        }
        let calc = CalcNotes::of(a);
        if let Some(line) = calc.line() {
            let _ = writeln!(o, "**{line}**\n");
            for (part, statement, recomputed) in &calc.differing {
                let _ = writeln!(o, "- ≠ {part}: `{}` → {recomputed}", statement.replace('`', "'"));
            }
            if !calc.differing.is_empty() {
                o.push('\n');
            }
        }
        let _ = writeln!(o, "<sub>\n\n| 来源 / Provenance | |\n|---|---|");
        for (k, v) in provenance(a, &t.attachments) {
            let _ = writeln!(o, "| {k} | {} |", cell(&v));
        }
        let _ = writeln!(o, "\n</sub>\n");
    }
    let _ = writeln!(o, "---\n\n{DISCLAIMER_ZH}  \n{DISCLAIMER_EN}");
    o
}

/// A table cell: pipes escaped, lines joined.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Text from a filing (its label, its path) as Markdown text, not markup: what a renderer would
/// read as a link, emphasis, code or HTML is escaped.
fn md_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '[' | ']' | '*' | '_' | '`' | '\\' | '#' | '|' => {
                o.push('\\');
                o.push(c);
            }
            _ => o.push(c),
        }
    }
    o
}

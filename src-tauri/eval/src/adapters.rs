//! Benchmark files as they are published, read into `Item`s. Each adapter keeps only items that
//! have an answer, and says which file and line a bad record came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::item::{Item, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Bench {
    /// ConvFinQA: Program-of-Thoughts' dev file, or the official ConvFinQA/FinQA JSON.
    Convfinqa,
    /// TAT-QA's raw dataset (tables, paragraphs, questions).
    Tatqa,
    /// Twitter Financial News Sentiment (CSV `text,label`).
    Tfns,
    /// Fin-Eva (Ant Group): a task CSV, or a folder of them.
    FinEva,
    /// FinEval (SUFE): a subject CSV, or a folder of them.
    Fineval,
    /// Items already in the normalised JSON Lines form (an analyst's own set).
    Jsonl,
}

impl Bench {
    pub fn name(self) -> &'static str {
        match self {
            Self::Convfinqa => "convfinqa",
            Self::Tatqa => "tatqa",
            Self::Tfns => "tfns",
            Self::FinEva => "fin-eva",
            Self::Fineval => "fineval",
            Self::Jsonl => "jsonl",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {problem}")]
    Format { path: PathBuf, problem: String },
    #[error("{path}: no item with an answer was found")]
    Empty { path: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AdapterError + '_ {
    move |source| AdapterError::Io { path: path.to_owned(), source }
}

fn format_err(path: &Path, problem: impl Into<String>) -> AdapterError {
    AdapterError::Format { path: path.to_owned(), problem: problem.into() }
}

/// Reads `path` (a file, or for the CSV benchmarks a folder searched for `.csv` files).
pub fn load(bench: Bench, path: &Path) -> Result<Vec<Item>, AdapterError> {
    let items = match bench {
        Bench::Convfinqa => convfinqa(path)?,
        Bench::Tatqa => tatqa(path)?,
        Bench::Tfns => tfns(path)?,
        Bench::FinEva | Bench::Fineval => {
            let mut all = Vec::new();
            for file in csv_files(path)? {
                all.extend(choice_csv(bench, &file)?);
            }
            all
        }
        Bench::Jsonl => jsonl(path)?,
    };
    if items.is_empty() {
        return Err(AdapterError::Empty { path: path.to_owned() });
    }
    Ok(items)
}

/// The files a run reads (for their hashes in the run's config).
pub fn data_files(bench: Bench, path: &Path) -> Result<Vec<PathBuf>, AdapterError> {
    match bench {
        Bench::FinEva | Bench::Fineval => csv_files(path),
        _ => Ok(vec![path.to_owned()]),
    }
}

fn csv_files(path: &Path) -> Result<Vec<PathBuf>, AdapterError> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = entry.map_err(io(&dir))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_json(path: &Path) -> Result<Value, AdapterError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| format_err(path, format!("not JSON: {e}")))
}

/// A table as markdown, the first row as its header.
pub fn markdown_table(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let cell = |s: &str| s.trim().replace('|', "\\|").replace('\n', " ");
    let line = |r: &Vec<String>| {
        let mut cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        cells.resize(width, String::new());
        format!("| {} |", cells.join(" | "))
    };
    let mut out = vec![line(&rows[0]), format!("|{}|", vec![" --- "; width].join("|"))];
    out.extend(rows[1..].iter().map(line));
    out.join("\n")
}

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn yes_no_or_numeric(answer: &str) -> Kind {
    match answer.trim().to_ascii_lowercase().as_str() {
        "yes" | "no" => Kind::Yesno,
        _ => Kind::Numeric,
    }
}

fn convfinqa(path: &Path) -> Result<Vec<Item>, AdapterError> {
    let Value::Array(records) = read_json(path)? else {
        return Err(format_err(path, "expected a JSON array of records"));
    };
    let mut items = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let id = r.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("{i}"));
        if r.get("questions").is_some() {
            items.push(pot_record(path, i, &id, r)?);
        } else if r.get("pre_text").is_some() {
            items.extend(official_record(&id, r));
        } else {
            return Err(format_err(path, format!("record {i}: neither Program-of-Thoughts (`questions`) nor official (`pre_text`, `table`, `qa`) layout")));
        }
    }
    Ok(items)
}

/// Program-of-Thoughts' ConvFinQA: the conversation's turns, the last one asked.
fn pot_record(path: &Path, i: usize, id: &str, r: &Value) -> Result<Item, AdapterError> {
    // A JSON array of the turns, or (as some copies write it) a Python list literal.
    let turns = match r.get("questions") {
        Some(Value::Array(a)) => a.iter().map(|q| q.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>(),
        Some(Value::String(s)) => python_str_list(s),
        _ => None,
    }
    .ok_or_else(|| format_err(path, format!("record {i}: `questions` is not a list of strings")))?;
    let (last, earlier) = turns.split_last().ok_or_else(|| format_err(path, format!("record {i}: no question")))?;
    let answer = r.get("answer").and_then(number_text).ok_or_else(|| format_err(path, format!("record {i}: no answer")))?;
    let table: Vec<Vec<String>> = r
        .get("table")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(" | ").map(str::to_owned).collect())
        .collect();
    let text = r.get("text").and_then(Value::as_str).unwrap_or_default();
    let mut question = String::new();
    if !earlier.is_empty() {
        question.push_str("Earlier questions in this conversation:\n");
        for q in earlier {
            question.push_str(&format!("- {q}\n"));
        }
        question.push_str("\nNow answer: ");
    }
    question.push_str(last);
    // "Single_…" conversations ask about one thing, "Double_…" chain two.
    let category = if id.starts_with("Double_") { "double" } else { "single" };
    Ok(Item {
        id: id.to_owned(),
        bench: "convfinqa".into(),
        category: category.into(),
        kind: yes_no_or_numeric(&answer),
        question,
        context: Some(format!("{}\n\n{}", text.trim(), markdown_table(&table)).trim().to_owned()),
        choices: None,
        answer,
    })
}

/// The official FinQA / ConvFinQA layout: `pre_text`, `table`, `post_text`, and `qa` (or
/// `qa_0`, `qa_1` for ConvFinQA's two-part conversations) with `exe_ans`.
fn official_record(id: &str, r: &Value) -> Vec<Item> {
    let lines = |k: &str| -> String {
        r.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n")).unwrap_or_default()
    };
    let table: Vec<Vec<String>> = r
        .get("table")
        .and_then(Value::as_array)
        .map(|rows| rows.iter().filter_map(Value::as_array).map(|row| row.iter().map(|c| number_text(c).unwrap_or_default()).collect()).collect())
        .unwrap_or_default();
    let context = format!("{}\n\n{}\n\n{}", lines("pre_text"), markdown_table(&table), lines("post_text")).trim().to_owned();
    ["qa", "qa_0", "qa_1"]
        .iter()
        .filter_map(|k| r.get(*k).map(|qa| (*k, qa)))
        .filter_map(|(k, qa)| {
            let question = qa.get("question").and_then(Value::as_str)?.trim().to_owned();
            let answer = qa.get("exe_ans").and_then(number_text)?;
            Some(Item {
                id: if k == "qa" { id.to_owned() } else { format!("{id}#{k}") },
                bench: "convfinqa".into(),
                category: "finqa".into(),
                kind: yes_no_or_numeric(&answer),
                question,
                context: Some(context.clone()),
                choices: None,
                answer,
            })
        })
        .collect()
}

/// A Python list of string literals (`['a', "b's"]`), as Program-of-Thoughts wrote them.
fn python_str_list(s: &str) -> Option<Vec<String>> {
    let s = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(quote) = chars.next() else { return Some(out) };
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut cur = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => cur.push('\n'),
                    't' => cur.push('\t'),
                    other => cur.push(other),
                },
                c if c == quote => break,
                c => cur.push(c),
            }
        }
        out.push(cur);
    }
}

fn tatqa(path: &Path) -> Result<Vec<Item>, AdapterError> {
    let Value::Array(docs) = read_json(path)? else {
        return Err(format_err(path, "expected a JSON array of documents (TAT-QA's raw dataset)"));
    };
    let mut items = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let table: Vec<Vec<String>> = doc
            .pointer("/table/table")
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(Value::as_array).map(|row| row.iter().map(|c| number_text(c).unwrap_or_default()).collect()).collect())
            .unwrap_or_default();
        let paragraphs: Vec<&str> = doc
            .get("paragraphs")
            .and_then(Value::as_array)
            .map(|ps| ps.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let context = format!("{}\n\n{}", markdown_table(&table), paragraphs.join("\n\n")).trim().to_owned();
        let Some(questions) = doc.get("questions").and_then(Value::as_array) else {
            return Err(format_err(path, format!("document {d}: no `questions`")));
        };
        for q in questions {
            let (Some(uid), Some(question)) = (q.get("uid").and_then(Value::as_str), q.get("question").and_then(Value::as_str)) else { continue };
            let answer_type = q.get("answer_type").and_then(Value::as_str).unwrap_or("span");
            let scale = q.get("scale").and_then(Value::as_str).unwrap_or("");
            let answer = match q.get("answer") {
                Some(Value::Array(parts)) => parts.iter().filter_map(number_text).collect::<Vec<_>>().join("; "),
                Some(v) => number_text(v).unwrap_or_default(),
                None => String::new(),
            };
            if answer.is_empty() {
                continue;
            }
            let kind = match answer_type {
                "arithmetic" | "count" => Kind::Numeric,
                _ if answer.parse::<f64>().is_ok() => Kind::Numeric,
                _ => Kind::Span,
            };
            // The gold is in the table's units: say which, as the official scorer weighs them.
            let unit = match (kind, scale) {
                (Kind::Numeric, "percent") => " (Give the answer as a percentage.)".to_owned(),
                (Kind::Numeric, s) if !s.is_empty() => format!(" (Give the answer in {s}s.)"),
                _ => String::new(),
            };
            items.push(Item {
                id: uid.to_owned(),
                bench: "tatqa".into(),
                category: answer_type.to_owned(),
                kind,
                question: format!("{}{unit}", question.trim()),
                context: Some(context.clone()),
                choices: None,
                answer,
            });
        }
    }
    Ok(items)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, AdapterError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(file))
}

fn headers(path: &Path, r: &mut csv::Reader<std::fs::File>) -> Result<Vec<String>, AdapterError> {
    let h = r.headers().map_err(|e| format_err(path, e.to_string()))?;
    Ok(h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_owned()).collect())
}

fn tfns(path: &Path) -> Result<Vec<Item>, AdapterError> {
    let mut r = csv_reader(path)?;
    let h = headers(path, &mut r)?;
    let (Some(text_col), Some(label_col)) = (h.iter().position(|c| c == "text"), h.iter().position(|c| c == "label")) else {
        return Err(format_err(path, "expected the columns text,label"));
    };
    let mut items = Vec::new();
    for (i, row) in r.records().enumerate() {
        let row = row.map_err(|e| format_err(path, format!("row {}: {e}", i + 2)))?;
        let label = match row.get(label_col).map(str::trim) {
            Some("0") => "bearish",
            Some("1") => "bullish",
            Some("2") => "neutral",
            _ => continue,
        };
        items.push(Item {
            id: format!("{i}"),
            bench: "tfns".into(),
            category: "sentiment".into(),
            kind: Kind::Label,
            question: row.get(text_col).unwrap_or_default().trim().to_owned(),
            context: None,
            choices: None,
            answer: label.into(),
        });
    }
    Ok(items)
}

/// Fin-Eva and FinEval: `id,[context],question,A..E,answer` (choices), or `id,question,answer`
/// with 是/否 (Fin-Eva's compliance tasks). Rows without an answer are left out.
fn choice_csv(bench: Bench, path: &Path) -> Result<Vec<Item>, AdapterError> {
    let mut r = csv_reader(path)?;
    let h = headers(path, &mut r)?;
    let col = |name: &str| h.iter().position(|c| c == name);
    let (Some(q_col), Some(a_col)) = (col("question"), col("answer")) else {
        // A file that is not a question set (an explanation table, say) is not an error.
        return Ok(Vec::new());
    };
    let letters: Vec<(String, usize)> = ["A", "B", "C", "D", "E"].iter().filter_map(|l| col(l).map(|i| ((*l).to_owned(), i))).collect();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let category = stem.trim_end_matches("_val").trim_end_matches("_dev").trim_end_matches("_test").to_owned();
    let mut items = Vec::new();
    for (i, row) in r.records().enumerate() {
        let Ok(row) = row else { continue };
        let answer = row.get(a_col).unwrap_or_default().trim().to_owned();
        let question = row.get(q_col).unwrap_or_default().trim().to_owned();
        if answer.is_empty() || question.is_empty() {
            continue;
        }
        let id = col("id").and_then(|c| row.get(c)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).unwrap_or_else(|| format!("{i}"));
        let context = col("context").and_then(|c| row.get(c)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let (kind, choices) = if !letters.is_empty() && answer.chars().all(|c| ('A'..='E').contains(&c)) {
            let choices: BTreeMap<String, String> =
                letters.iter().filter_map(|(l, c)| row.get(*c).map(str::trim).filter(|s| !s.is_empty()).map(|s| (l.clone(), s.to_owned()))).collect();
            (Kind::Choice, Some(choices))
        } else if matches!(answer.as_str(), "是" | "否") {
            (Kind::Yesno, None)
        } else {
            // Free-text tasks (summaries, copy) have no rule to score them by.
            continue;
        };
        items.push(Item { id: format!("{category}/{id}"), bench: bench.name().into(), category: category.clone(), kind, question, context, choices, answer });
    }
    Ok(items)
}

fn jsonl(path: &Path) -> Result<Vec<Item>, AdapterError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<Item>(l).map_err(|e| format_err(path, format!("line {}: {e}", i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_lists_with_both_quotes() {
        assert_eq!(python_str_list(r#"['a b', "it's", 'x\'y']"#), Some(vec!["a b".into(), "it's".into(), "x'y".into()]));
        assert_eq!(python_str_list("[]"), Some(vec![]));
        assert_eq!(python_str_list("['open"), None);
    }

    #[test]
    fn tables_become_markdown() {
        let t = markdown_table(&[vec!["-".into(), "2007".into()], vec!["price".into(), "$ 60.94".into()]]);
        assert_eq!(t, "| - | 2007 |\n| --- | --- |\n| price | $ 60.94 |");
    }
}

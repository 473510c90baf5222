//! Scenario presets: what an analyst picks when starting a conversation (compliance review,
//! risk control, …). A preset is a TOML file in a documented, versioned format (see
//! `src-tauri/core/scenarios/README.md`): names and descriptions in Chinese and English, an icon, the
//! system prompt (carrying Fin-R1's required `<think>`/`<answer>` format), starter questions, an
//! input form whose fields fill a prompt template, sampling defaults, and the sections its
//! report leads with. Files are validated on load; every error names the file, the field and
//! the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fin_r1_engine::SamplingParams;
use serde::{Deserialize, Serialize};

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The seven built-in presets, in the order the app shows them.
const BUILT_IN: [(&str, &str); 7] = [
    ("compliance", include_str!("../scenarios/compliance.toml")),
    ("risk-control", include_str!("../scenarios/risk-control.toml")),
    ("investment-advisory", include_str!("../scenarios/investment-advisory.toml")),
    ("esg", include_str!("../scenarios/esg.toml")),
    ("calculation", include_str!("../scenarios/calculation.toml")),
    ("financial-code", include_str!("../scenarios/financial-code.toml")),
    ("english-finance", include_str!("../scenarios/english-finance.toml")),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line.
    Text,
    /// Several lines (a clause, a disclosure, a table pasted from a spreadsheet).
    Textarea,
    Number,
    /// A percentage written as a number (5 means 5%).
    Percent,
    /// A security code (600519.SH, AAPL).
    Ticker,
    Date,
    /// One of `options`.
    Select,
    /// Source code.
    Code,
    /// A document (PDF, workbook, CSV, Word) attached with the question: the form holds its
    /// file name, the prompt carries what was read from it after the question.
    File,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The placeholder name in the prompt template: `{name}`.
    pub name: String,
    pub label: Text,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Text>,
    /// For `select`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    #[serde(default)]
    pub top_k: usize,
    #[serde(default = "one")]
    pub repetition_penalty: f32,
    pub max_tokens: usize,
}

fn one() -> f32 {
    1.0
}

impl Sampling {
    pub fn to_params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            repetition_penalty: self.repetition_penalty,
            max_tokens: self.max_tokens,
            seed: None,
            stop: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Headings of the answer (as the system prompt asks the model to write them) that a report
    /// puts first, in this order: a compliance report opens with its verdict.
    #[serde(default)]
    pub lead_sections: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub format: u32,
    pub id: String,
    pub icon: String,
    pub name: Text,
    pub description: Text,
    pub system_prompt: String,
    /// The question sent to the model, with `{field}` placeholders; `{{` and `}}` are braces.
    pub prompt_template: String,
    #[serde(default)]
    pub starter_questions: Vec<Text>,
    /// Tools the model may call (`calculator`); before `fields` so a TOML export writes it
    /// above the tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
    pub sampling: Sampling,
    pub report: Report,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: field `{field}`: {problem}; {fix}")]
    Invalid { file: String, field: String, problem: String, fix: String },
    #[error("no scenario {0:?} (see `fin-r1 scenarios list`)")]
    Unknown(String),
    #[error("a built-in scenario has the id {0:?}; give the file another id")]
    ShadowsBuiltIn(String),
    #[error("{0}")]
    Io(String),
}

/// Why a form could not fill the prompt template.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FillError {
    #[error("\"{label}\" is required")]
    Missing { field: String, label: String },
    #[error("\"{label}\" must be a number (got {value:?})")]
    NotANumber { field: String, label: String, value: String },
    #[error("\"{label}\" must be one of {options:?}")]
    NotAnOption { field: String, label: String, options: Vec<String> },
    #[error("unknown form field {0:?}")]
    UnknownField(String),
}

fn invalid(file: &str, field: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { file: file.to_owned(), field: field.into(), problem: problem.into(), fix: fix.into() }
}

/// The `{name}` placeholders of a template, or the position of an unbalanced brace.
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                chars.next();
            }
            '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                chars.next();
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, ch)) if ch.is_ascii_alphanumeric() || ch == '_' => name.push(ch),
                        _ => return Err(format!("the `{{` at byte {i} does not open a {{field_name}} placeholder")),
                    }
                }
                out.push(name);
            }
            '}' => return Err(format!("the `}}` at byte {i} closes nothing (write `}}}}` for a brace)")),
            _ => {}
        }
    }
    Ok(out)
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_lowercase()) && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

impl Scenario {
    /// Parses and validates a preset; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        // The version first, so a file from a newer app gets an error about that, not about
        // whichever field changed.
        if let Ok(v) = text.parse::<toml::Table>() {
            if let Some(f) = v.get("format").and_then(|f| f.as_integer()) {
                if f != FORMAT_VERSION as i64 {
                    return Err(invalid(
                        file,
                        "format",
                        format!("version {f} is not supported"),
                        format!("this app reads format {FORMAT_VERSION}; update the app or convert the file"),
                    ));
                }
            }
        }
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax { file: file.to_owned(), message: e.to_string().trim_end().to_owned() })?;
        s.validate(file)?;
        Ok(s)
    }

    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        if self.format != FORMAT_VERSION {
            return Err(invalid(file, "format", format!("version {} is not supported", self.format), format!("use format = {FORMAT_VERSION}")));
        }
        if !(1..=40).contains(&self.id.len()) || !self.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(invalid(
                file,
                "id",
                format!("{:?} is not a valid id", self.id),
                "use 1-40 lowercase letters, digits and hyphens, e.g. \"credit-review\"",
            ));
        }
        if self.icon.trim().is_empty() || self.icon.chars().count() > 8 {
            return Err(invalid(file, "icon", "must be a short symbol", "use one emoji, e.g. \"⚖️\""));
        }
        for (name, t) in [("name", &self.name), ("description", &self.description)] {
            if t.zh.trim().is_empty() {
                return Err(invalid(file, format!("{name}.zh"), "is empty", "write the Chinese text"));
            }
            if t.en.trim().is_empty() {
                return Err(invalid(file, format!("{name}.en"), "is empty", "write the English text"));
            }
        }
        if self.system_prompt.trim().is_empty() {
            return Err(invalid(file, "system_prompt", "is empty", "write the instructions the model follows in this scenario"));
        }
        if !(self.system_prompt.contains("<think>") && self.system_prompt.contains("<answer>")) {
            return Err(invalid(
                file,
                "system_prompt",
                "does not ask for Fin-R1's output format",
                "end it with Fin-R1's format: <think>\\n...\\n</think>\\n<answer>\\n...\\n</answer>",
            ));
        }
        for (i, t) in self.tools.iter().enumerate() {
            if !crate::tools::is_tool_name(t) {
                return Err(invalid(
                    file,
                    format!("tools[{i}]"),
                    format!("{t:?} is not a tool this app has"),
                    "use \"calculator\", or \"mcp:NAME\" for an MCP server in Settings",
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            let at = format!("fields[{i}].name");
            if !is_identifier(&f.name) {
                return Err(invalid(file, at, format!("{:?} is not a valid field name", f.name), "use lowercase letters, digits and _ starting with a letter"));
            }
            if !names.insert(f.name.as_str()) {
                return Err(invalid(file, at, format!("{:?} is used twice", f.name), "give each field its own name"));
            }
            if f.label.zh.trim().is_empty() || f.label.en.trim().is_empty() {
                return Err(invalid(file, format!("fields[{i}].label"), "needs both zh and en text", "write label = { zh = \"…\", en = \"…\" }"));
            }
            if (f.kind == FieldKind::Select) == f.options.is_empty() {
                return Err(invalid(
                    file,
                    format!("fields[{i}].options"),
                    "options go with kind = \"select\" and only with it",
                    "list the choices for a select field, none for others",
                ));
            }
        }
        let used = placeholders(&self.prompt_template)
            .map_err(|p| invalid(file, "prompt_template", p, "write {field_name} for a field and {{ or }} for a literal brace"))?;
        for u in &used {
            if u != "question" && !names.contains(u.as_str()) {
                return Err(invalid(file, "prompt_template", format!("{{{u}}} names no field"), format!("add a field named {u:?} or remove the placeholder")));
            }
        }
        for (i, f) in self.fields.iter().enumerate() {
            if !used.contains(&f.name) {
                return Err(invalid(
                    file,
                    format!("fields[{i}]"),
                    format!("{:?} is not used in prompt_template", f.name),
                    format!("put {{{}}} in prompt_template or remove the field", f.name),
                ));
            }
        }
        if !used.iter().any(|u| u == "question") {
            return Err(invalid(file, "prompt_template", "has no {question} placeholder", "put {question} where the analyst's own words go"));
        }
        if let Err(e) = self.sampling.to_params().validate() {
            return Err(invalid(file, format!("sampling.{}", e.field), format!("{} is out of range", e.value), format!("use a value of {}", e.range)));
        }
        for (i, q) in self.starter_questions.iter().enumerate() {
            if q.zh.trim().is_empty() || q.en.trim().is_empty() {
                return Err(invalid(file, format!("starter_questions[{i}]"), "needs both zh and en text", "write { zh = \"…\", en = \"…\" }"));
            }
        }
        for (i, s) in self.report.lead_sections.iter().enumerate() {
            if s.zh.trim().is_empty() || s.en.trim().is_empty() {
                return Err(invalid(file, format!("report.lead_sections[{i}]"), "needs both zh and en text", "write { zh = \"…\", en = \"…\" }"));
            }
        }
        Ok(())
    }

    /// The question for the model: the template with the form's values (and the analyst's own
    /// words as `question`) filled in. A template line whose only placeholders are optional
    /// fields left empty is left out, so an unfilled form does not clutter the prompt.
    pub fn fill(&self, question: &str, values: &BTreeMap<String, String>, lang: Lang) -> Result<String, FillError> {
        for k in values.keys() {
            if !self.fields.iter().any(|f| &f.name == k) {
                return Err(FillError::UnknownField(k.clone()));
            }
        }
        let mut filled: BTreeMap<&str, String> = BTreeMap::new();
        for f in &self.fields {
            let v = values.get(&f.name).map(|s| s.trim()).unwrap_or("");
            let label = f.label.get(lang).to_owned();
            if v.is_empty() {
                if f.required {
                    return Err(FillError::Missing { field: f.name.clone(), label });
                }
                continue;
            }
            let v = match f.kind {
                FieldKind::Number | FieldKind::Percent => {
                    let plain: String = v.chars().filter(|c| !matches!(c, ',' | '_' | ' ' | '%')).collect();
                    if plain.parse::<f64>().is_err() {
                        return Err(FillError::NotANumber { field: f.name.clone(), label, value: v.to_owned() });
                    }
                    v.to_owned()
                }
                FieldKind::Select if !f.options.iter().any(|o| o == v) => {
                    return Err(FillError::NotAnOption { field: f.name.clone(), label, options: f.options.clone() });
                }
                // Fenced so that the model (and the rendered question) keep it as code.
                FieldKind::Code => format!("\n```\n{v}\n```"),
                FieldKind::File => match lang {
                    Lang::Zh => format!("{v}（见文末所附文件）"),
                    Lang::En => format!("{v} (attached below)"),
                },
                _ => v.to_owned(),
            };
            filled.insert(&f.name, v);
        }
        let question = question.trim();
        let is_empty = |n: &String| if n == "question" { question.is_empty() } else { !filled.contains_key(n.as_str()) };
        let mut blocks: Vec<String> = Vec::new();
        // A paragraph (or, within one, a line) whose placeholders are all empty optional fields
        // is left out with its labels.
        for block in self.prompt_template.trim().split("\n\n") {
            let names = placeholders(block).unwrap_or_default();
            if !names.is_empty() && names.iter().all(is_empty) {
                continue;
            }
            let mut out = String::new();
            for line in block.lines() {
                let names = placeholders(line).unwrap_or_default();
                if !names.is_empty() && names.iter().all(is_empty) {
                    continue;
                }
                let mut chars = line.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '{' if chars.peek() == Some(&'{') => {
                            chars.next();
                            out.push('{');
                        }
                        '}' if chars.peek() == Some(&'}') => {
                            chars.next();
                            out.push('}');
                        }
                        '{' => {
                            let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                            if name == "question" {
                                out.push_str(question);
                            } else if let Some(v) = filled.get(name.as_str()) {
                                out.push_str(v);
                            }
                        }
                        c => out.push(c),
                    }
                }
                out.push('\n');
            }
            if !out.trim().is_empty() {
                blocks.push(out.trim_end().to_owned());
            }
        }
        Ok(blocks.join("\n\n"))
    }

    /// The template's text before its first placeholder: the same in every conversation the
    /// preset starts, so its prompt prefix is worth keeping (`GenerationRequest::shared_prefix`).
    pub fn shared_head(&self) -> String {
        let t = self.prompt_template.trim();
        t[..t.find('{').unwrap_or(t.len())].to_owned()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Built-ins plus the user's presets (files in a folder of the data directory).
pub struct Library {
    pub scenarios: Vec<(Scenario, Origin)>,
    /// User files that failed validation: shown, not silently skipped.
    pub broken: Vec<ScenarioError>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    BuiltIn,
    User(PathBuf),
}

pub fn built_in() -> Vec<Scenario> {
    BUILT_IN.iter().filter_map(|(id, text)| Scenario::parse(text, &format!("built-in {id}.toml")).ok()).collect()
}

impl Library {
    /// `dir`: the user's scenario folder (need not exist).
    pub fn load(dir: Option<&Path>) -> Self {
        let mut scenarios: Vec<(Scenario, Origin)> = built_in().into_iter().map(|s| (s, Origin::BuiltIn)).collect();
        let mut broken = Vec::new();
        if let Some(dir) = dir {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect())
                .unwrap_or_default();
            files.sort();
            for f in files {
                match read_file(&f) {
                    Ok(s) if scenarios.iter().any(|(b, _)| b.id == s.id) => broken.push(ScenarioError::ShadowsBuiltIn(s.id)),
                    Ok(s) => scenarios.push((s, Origin::User(f))),
                    Err(e) => broken.push(e),
                }
            }
        }
        Self { scenarios, broken }
    }

    pub fn get(&self, id: &str) -> Result<&Scenario, ScenarioError> {
        self.scenarios.iter().map(|(s, _)| s).find(|s| s.id == id).ok_or_else(|| ScenarioError::Unknown(id.to_owned()))
    }

    /// Validates `file` and copies it into `dir` as `<id>.toml`.
    pub fn import(dir: &Path, file: &Path) -> Result<(Scenario, PathBuf), ScenarioError> {
        let s = read_file(file)?;
        if BUILT_IN.iter().any(|(id, _)| *id == s.id) {
            return Err(ScenarioError::ShadowsBuiltIn(s.id));
        }
        std::fs::create_dir_all(dir).map_err(|e| ScenarioError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let dest = dir.join(format!("{}.toml", s.id));
        let tmp = dir.join(format!(".{}.toml.partial", s.id));
        std::fs::write(&tmp, s.to_toml()).map_err(|e| ScenarioError::Io(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &dest).map_err(|e| ScenarioError::Io(format!("cannot write {}: {e}", dest.display())))?;
        Ok((s, dest))
    }
}

pub fn read_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: name.clone(), source })?;
    Scenario::parse(&text, &name)
}

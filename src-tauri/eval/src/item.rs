//! One benchmark item in the normalised form every adapter writes and the runner reads: one JSON
//! object a line (`items.jsonl`), so an analyst's own question set is just such a file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an item's answer is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A number (units and percent handled; see `score`).
    Numeric,
    /// A letter among `choices`.
    Choice,
    /// Yes or no (是/否).
    Yesno,
    /// One of a fixed set of labels (sentiment: bearish, bullish, neutral).
    Label,
    /// A piece of text (spans of a report): matched after normalising.
    Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Item {
    /// Unique within the benchmark file.
    pub id: String,
    pub bench: String,
    /// Scores are reported, and `--limit` applied, per category.
    pub category: String,
    pub kind: Kind,
    pub question: String,
    /// The passage and its table (as markdown) a table-QA question is asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<BTreeMap<String, String>>,
    pub answer: String,
}

impl Item {
    /// Whether the item is written in Chinese (its prompt and answer format follow).
    pub fn is_chinese(&self) -> bool {
        let text = format!("{}{}", self.question, self.choices.as_ref().map(|c| c.values().cloned().collect::<String>()).unwrap_or_default());
        let han = text.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count();
        han * 5 >= text.chars().filter(|c| !c.is_whitespace()).count().max(1)
    }
}

//! An LLM judge (any OpenAI-compatible endpoint, `fin-r1 serve` included): question, reference
//! and prediction in, exactly one JSON verdict out. A reply that does not parse is a judge
//! error: the item leaves the score, it is never counted wrong.

use serde::{Deserialize, Serialize};

use super::item::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum JudgeMode {
    /// The rules alone.
    Rule,
    /// The judge decides every item.
    Llm,
    /// The judge is asked only where the rules say wrong (it can only add right answers).
    LlmRecall,
    /// The judge grades each reasoning chain on Fin-R1's authors' seven criteria; the answers
    /// are scored by the rules.
    Reasoning,
}

/// The seven criteria Fin-R1's authors filtered reasoning chains by, as the JSON keys the judge
/// answers with.
pub const CRITERIA: [(&str, &str); 7] = [
    ("internal_consistency", "the steps agree with one another"),
    ("term_overlap", "it uses the reference answer's terms"),
    ("three_steps", "it has at least three reasoning steps"),
    ("consistent_with_reference", "it agrees with the reference answer, with no obvious errors or omissions"),
    ("no_repetition", "no step is repeated"),
    ("relevant", "it stays within the task's financial domain"),
    ("follows_instructions", "it follows the task's instructions"),
];

/// One line of `judgements.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub id: String,
    /// `None`: the judge's reply could not be read (see `error`).
    pub correct: Option<bool>,
    pub reason: String,
    /// What the judge wrote after its reasoning.
    pub raw: String,
    pub error: Option<String>,
    /// Reasoning mode: each criterion's verdict, and whether the chain is good (all pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<std::collections::BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good: Option<bool>,
}

pub const JUDGE_SYSTEM: &str = "You grade answers to finance questions against a reference answer. \
Numbers that agree after rounding, percentages written as fractions or the other way round, and the same \
choice or label in other words count as correct. Reply with exactly one JSON object and nothing else: \
{\"correct\": true or false, \"reason\": \"one sentence\"}";

pub fn prompt(item: &Item, prediction: &str) -> String {
    let mut p = format!("Question:\n{}\n", item.question.trim());
    if let Some(c) = &item.choices {
        for (l, t) in c {
            p.push_str(&format!("{l}. {t}\n"));
        }
    }
    p.push_str(&format!("\nReference answer:\n{}\n\nAnswer to grade:\n{}\n", item.answer.trim(), prediction.trim()));
    p
}

pub fn reasoning_system() -> String {
    let keys: Vec<String> = CRITERIA.iter().map(|(k, what)| format!("\"{k}\" ({what})")).collect();
    format!(
        "You review the reasoning chain of an answer to a finance question against the reference answer. \
Judge each criterion true or false: {}. Reply with exactly one JSON object and nothing else, with those seven \
keys as booleans and \"good\": true only when all seven hold.",
        keys.join(", ")
    )
}

pub fn reasoning_prompt(item: &Item, reasoning: &str) -> String {
    format!("Question:\n{}\n\nReference answer:\n{}\n\nReasoning chain to review:\n{}\n", item.question.trim(), item.answer.trim(), reasoning.trim())
}

/// The seven verdicts in a judge's reply, and whether the chain is good.
pub fn parse_reasoning(reply: &str) -> Result<(bool, std::collections::BTreeMap<String, bool>), String> {
    json_objects(reply)
        .find_map(|v| {
            CRITERIA
                .iter()
                .map(|(k, _)| v.get(*k).and_then(|b| b.as_bool()).map(|b| ((*k).to_owned(), b)))
                .collect::<Option<std::collections::BTreeMap<_, _>>>()
        })
        .map(|criteria| (criteria.values().all(|b| *b), criteria))
        .ok_or_else(|| format!("the judge's reply is not the seven-criteria JSON: {:?}", reply.chars().take(120).collect::<String>()))
}

/// The verdict in a judge's reply: the first JSON object in it with a boolean `correct`.
pub fn parse(reply: &str) -> Result<(bool, String), String> {
    json_objects(reply)
        .find_map(|v| {
            let c = v.get("correct").and_then(|c| c.as_bool().or_else(|| c.as_str().and_then(|s| s.parse().ok())))?;
            Some((c, v.get("reason").and_then(|r| r.as_str()).unwrap_or_default().to_owned()))
        })
        .ok_or_else(|| format!("the judge's reply is not a JSON verdict: {:?}", reply.chars().take(120).collect::<String>()))
}

/// Every JSON object that starts somewhere in `reply` (judges wrap theirs in prose or fences).
fn json_objects(reply: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    reply.match_indices('{').filter_map(|(i, _)| serde_json::Deserializer::from_str(&reply[i..]).into_iter::<serde_json::Value>().next()?.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_from_noisy_replies() {
        assert_eq!(parse(r#"{"correct": true, "reason": "same"}"#), Ok((true, "same".into())));
        assert_eq!(parse("Sure! ```json\n{\"correct\": false, \"reason\": \"12 is not 14\"}\n```").map(|v| v.0), Ok(false));
        assert_eq!(parse(r#"{"note": 1} then {"correct": "true"}"#).map(|v| v.0), Ok(true));
        assert!(parse("The answer is correct.").is_err());
        assert!(parse(r#"{"correct": "maybe"}"#).is_err());
    }

    #[test]
    fn a_reasoning_review_needs_all_seven_criteria() {
        let all: String = CRITERIA.iter().map(|(k, _)| format!("\"{k}\": true")).collect::<Vec<_>>().join(", ");
        let (good, c) = parse_reasoning(&format!("{{{all}, \"good\": true}}")).expect("seven");
        assert!(good && c.len() == 7);
        let one_fails = all.replacen("\"no_repetition\": true", "\"no_repetition\": false", 1);
        assert_eq!(parse_reasoning(&format!("{{{one_fails}}}")).map(|v| v.0), Ok(false));
        assert!(parse_reasoning(r#"{"internal_consistency": true}"#).is_err());
    }
}

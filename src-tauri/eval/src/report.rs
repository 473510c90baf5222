//! A run's scores: per benchmark and category, as `report.json` and `report.md`, and runs side
//! by side (`eval compare`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::item::Item;
use super::record::{Prediction, RunConfig};
use super::score::Verdict;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CategoryScore {
    pub num: usize,
    /// Per cent right.
    pub score: f64,
    pub correct: usize,
    /// Cut off at the token limit.
    pub truncated: usize,
    /// No answer could be read out of the output.
    pub parse_failures: usize,
    /// The engine failed on the item.
    pub errors: usize,
    /// The judge's reply could not be read (never counted as wrong).
    pub judge_errors: usize,
    pub mean_tokens: f64,
    pub mean_seconds: f64,
    /// Answers that state at least one calculation (`fin_r1_calc::check` over the output).
    #[serde(default)]
    pub calc_checked: usize,
    /// Answers with a calculation whose stated result the exact arithmetic does not give.
    #[serde(default)]
    pub calc_differs: usize,
    /// Wrong answers with such a calculation: how often arithmetic is the cause.
    #[serde(default)]
    pub wrong_with_calc_differs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
// The conversation report's type is `Report` too; the name only shows in the UI's bindings.
#[serde(rename = "EvalReport")]
pub struct Report {
    pub model: String,
    #[serde(deserialize_with = "super::record::engine_kind")]
    #[cfg_attr(feature = "specta", specta(type = Option<fin_r1_core::store::EngineKind>))]
    pub engine: Option<fin_r1_core::store::EngineKind>,
    pub quantization: Option<String>,
    pub bench: String,
    /// Items the run set out to ask; fewer are scored when it was stopped part way.
    #[serde(default)]
    pub planned: usize,
    /// The judge's mode and model, when one graded the answers.
    #[serde(default)]
    pub judge: Option<String>,
    /// The reasoning review (`--judge reasoning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningScore>,
    /// bench → category → score; `all` sums a bench's categories.
    pub scores: BTreeMap<String, BTreeMap<String, CategoryScore>>,
}

pub fn build(config: &RunConfig, scored: &[(&Item, &Prediction, Verdict, bool)]) -> Report {
    let mut scores: BTreeMap<String, BTreeMap<String, CategoryScore>> = BTreeMap::new();
    let mut sums: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for (item, p, v, judge_error) in scored {
        let calc = fin_r1_calc::summarise(&fin_r1_calc::check(&p.output));
        let wrong = !v.correct && !judge_error;
        for category in [item.category.as_str(), "all"] {
            let s = scores.entry(item.bench.clone()).or_default().entry(category.to_owned()).or_default();
            s.num += 1;
            s.judge_errors += usize::from(*judge_error);
            s.correct += usize::from(v.correct && !judge_error);
            s.truncated += usize::from(p.output().truncated);
            s.errors += usize::from(p.error.is_some());
            s.parse_failures += usize::from(p.error.is_none() && v.extracted.is_none());
            s.calc_checked += usize::from(calc.checked > 0);
            s.calc_differs += usize::from(calc.differ > 0);
            s.wrong_with_calc_differs += usize::from(wrong && calc.differ > 0);
            let sum = sums.entry((item.bench.clone(), category.to_owned())).or_default();
            sum.0 += p.completion_tokens as f64;
            sum.1 += p.seconds;
        }
    }
    for (bench, cats) in scores.iter_mut() {
        for (cat, s) in cats.iter_mut() {
            let (tokens, seconds) = sums.get(&(bench.clone(), cat.clone())).copied().unwrap_or_default();
            let n = s.num.max(1) as f64;
            // An item the judge could not grade is left out, never counted wrong.
            s.score = round2(100.0 * s.correct as f64 / (s.num - s.judge_errors).max(1) as f64);
            s.mean_tokens = round2(tokens / n);
            s.mean_seconds = round2(seconds / n);
        }
    }
    Report {
        model: config.model.clone(),
        engine: config.engine,
        quantization: config.quantization.clone(),
        bench: config.bench.clone(),
        planned: config.items.len(),
        judge: config.judge.as_ref().map(|j| {
            format!("{} ({} at {})", serde_json::to_value(j.mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), j.model, j.url)
        }),
        reasoning: None,
        scores,
    }
}

/// The reasoning review: how many chains were graded, the share judged good, and each
/// criterion's pass rate (per cent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReasoningScore {
    pub judged: usize,
    pub good: f64,
    pub criteria: BTreeMap<String, f64>,
    pub judge_errors: usize,
}

pub fn reasoning<'a>(judgements: impl Iterator<Item = &'a super::judge::Judgement>) -> ReasoningScore {
    let mut r = ReasoningScore::default();
    let mut good = 0usize;
    let mut passes: BTreeMap<String, usize> = BTreeMap::new();
    for j in judgements {
        match (&j.criteria, j.good) {
            (Some(c), Some(g)) => {
                r.judged += 1;
                good += usize::from(g);
                for (k, v) in c {
                    *passes.entry(k.clone()).or_default() += usize::from(*v);
                }
            }
            _ => r.judge_errors += 1,
        }
    }
    let n = r.judged.max(1) as f64;
    r.good = round2(100.0 * good as f64 / n);
    r.criteria = passes.into_iter().map(|(k, v)| (k, round2(100.0 * v as f64 / n))).collect();
    r
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "# Evaluation: {} on {}\n\nEngine: {}{}\n\n| bench | category | items | score % | truncated | no answer read | engine errors | mean tokens | mean s | judge errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        r.model,
        r.bench,
        super::record::engine_word(r.engine),
        r.quantization.as_deref().map(|q| format!(" · {q}")).unwrap_or_default()
    );
    let scored: usize = r.scores.values().filter_map(|c| c.get("all")).map(|s| s.num).sum();
    if scored < r.planned {
        out =
            out.replacen("\n\n| bench", &format!("\n\n**Partial:** {scored} of {} items answered so far (`--resume` asks the rest).\n\n| bench", r.planned), 1);
    }
    for (bench, cats) in &r.scores {
        // `all` last.
        let mut rows: Vec<(&String, &CategoryScore)> = cats.iter().filter(|(c, _)| c.as_str() != "all").collect();
        rows.extend(cats.get_key_value("all"));
        for (cat, s) in rows {
            let name = if cat == "all" { "**all**".to_owned() } else { cat.clone() };
            out.push_str(&format!(
                "| {bench} | {name} | {} | {:.1} | {} | {} | {} | {:.0} | {:.1} | {} |\n",
                s.num, s.score, s.truncated, s.parse_failures, s.errors, s.mean_tokens, s.mean_seconds, s.judge_errors
            ));
        }
    }
    let with_calc: Vec<(&String, &CategoryScore)> =
        r.scores.iter().filter_map(|(b, c)| c.get("all").map(|s| (b, s))).filter(|(_, s)| s.calc_checked > 0).collect();
    if !with_calc.is_empty() {
        out.push_str(
            "\n## Calculations checked\n\nEvery calculation an output states, recomputed exactly and compared at the precision it was written in.\n\n| bench | answers with calculations | with a differing result | wrong answers | wrong, with a differing result |\n|---|---:|---:|---:|---:|\n",
        );
        for (bench, s) in with_calc {
            let wrong = s.num.saturating_sub(s.correct + s.judge_errors);
            let share = if wrong > 0 { format!(" ({:.0}%)", 100.0 * s.wrong_with_calc_differs as f64 / wrong as f64) } else { String::new() };
            out.push_str(&format!("| {bench} | {} | {} | {wrong} | {}{share} |\n", s.calc_checked, s.calc_differs, s.wrong_with_calc_differs));
        }
    }
    if let Some(rs) = &r.reasoning {
        out.push_str(&format!(
            "\n## Reasoning chains ({} judged, {} judge errors)\n\nGood (all seven criteria): {:.1}%\n\n| criterion | pass % |\n|---|---:|\n",
            rs.judged, rs.judge_errors, rs.good
        ));
        for (k, v) in &rs.criteria {
            out.push_str(&format!("| {k} | {v:.1} |\n"));
        }
    }
    match &r.judge {
        Some(j) => out.push_str(&format!("\nJudge: {j}. An item the judge could not grade is left out of its score.\n")),
        None => out.push_str("\nScored by rule (no judge).\n"),
    }
    out.push_str("Model output is for reference only.\n");
    out
}

/// Runs side by side: one row per bench and category, one column per run.
pub fn compare(runs: &[(String, Report)]) -> String {
    let mut keys: Vec<(String, String)> =
        runs.iter().flat_map(|(_, r)| r.scores.iter().flat_map(|(b, cats)| cats.keys().map(move |c| (b.clone(), c.clone())))).collect();
    keys.sort_by_key(|a| (a.0.clone(), a.1 == "all", a.1.clone()));
    keys.dedup();
    let mut out = String::from("| bench | category |");
    for (name, r) in runs {
        out.push_str(&format!(" {name} ({}) |", r.model));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|".repeat(runs.len()));
    out.push('\n');
    for (bench, cat) in keys {
        out.push_str(&format!("| {bench} | {cat} |"));
        for (_, r) in runs {
            match r.scores.get(&bench).and_then(|c| c.get(&cat)) {
                Some(s) => out.push_str(&format!(" {:.1} (n={}) |", s.score, s.num)),
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_counts_answers_with_a_differing_calculation_and_the_wrong_ones_among_them() {
        let config: RunConfig = serde_json::from_value(serde_json::json!({
            "bench": "convfinqa", "data": {}, "engine": "local", "model": "m.gguf", "model_sha256": null, "quantization": null,
            "remote_url": null, "sampling": {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0, "max_tokens": 100, "seed": null, "stop": []},
            "system_prompt": null, "scenario": null, "prompt_version": 1, "limit": 3, "seed": 1, "strict": false, "judge": null, "items": ["a", "b", "c"]
        }))
        .expect("config");
        let item = |id: &str| -> Item {
            serde_json::from_value(serde_json::json!({"id": id, "bench": "convfinqa", "category": "numeric", "kind": "numeric", "question": "q", "context": null, "choices": null, "answer": "536"})).expect("item")
        };
        let prediction = |id: &str, output: &str| -> Prediction {
            serde_json::from_value(serde_json::json!({"id": id, "output": output, "reasoning": null, "answer": null, "finish_reason": "end", "prompt_tokens": 1, "completion_tokens": 1, "seconds": 1.0, "error": null})).expect("prediction")
        };
        let verdict = |correct: bool| Verdict { extracted: Some("x".into()), correct, reason: String::new() };
        let (a, b, c) = (item("a"), item("b"), item("c"));
        let (pa, pb, pc) = (
            prediction("a", "4,822 − 4,286 = 536. The answer is 536."),
            prediction("b", "4,822 − 4,286 = 563. The answer is 563."),
            prediction("c", "The answer is 600."),
        );
        let r = build(&config, &[(&a, &pa, verdict(true), false), (&b, &pb, verdict(false), false), (&c, &pc, verdict(false), false)]);
        let all = &r.scores["convfinqa"]["all"];
        assert_eq!((all.calc_checked, all.calc_differs, all.wrong_with_calc_differs), (2, 1, 1));
        let md = markdown(&r);
        assert!(md.contains("| convfinqa | 2 | 1 | 2 | 1 (50%) |"), "{md}");
    }
}

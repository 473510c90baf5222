//! What a run will ask and how, decided once for the CLI and the app: the items chosen from a
//! benchmark file, and the `RunConfig` recorded beside them (model file and its hash, data
//! files and theirs, sampling, prompt, judge).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fin_r1_engine::{resolve_sampling, SamplingOverrides, SamplingParams};

use super::adapters::{self, Bench};
use super::item::Item;
use super::prompt::PROMPT_VERSION;
use super::record::{duplicate_ids, JudgeConfig, RunConfig, RunError};
use super::sample::choose;
use fin_r1_core::backend::Backend;

/// The items a run asks: at most `limit` per category, chosen by a seeded shuffle of ids.
pub fn chosen(bench: Bench, data: &Path, limit: usize, seed: u64) -> Result<Vec<Item>, RunError> {
    if limit == 0 {
        return Err(RunError::Invalid("the limit must be at least 1 item per category".into()));
    }
    let all = adapters::load(bench, data).map_err(|e| RunError::Invalid(e.to_string()))?;
    let dups = duplicate_ids(&all);
    if !dups.is_empty() {
        return Err(RunError::Invalid(format!(
            "{}: ids must be unique; repeated: {}",
            data.display(),
            dups.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(choose(&all, limit, seed))
}

/// A run's sampling, through the one `resolve` every answer's sampling goes through: the model's
/// recommended settings (or the preset's, when the run asks with one), then a benchmark's own
/// defaults — greedy (temperature 0), as the paper's anchors were made, and the run's seed — then
/// what the caller set (the CLI's flags, the Evaluate page's fields). Settings' chat defaults are
/// not a layer: a run is the same whoever's app makes it.
pub fn sampling(model: SamplingParams, preset: Option<&SamplingParams>, seed: u64, asked: &SamplingOverrides) -> Result<SamplingParams, RunError> {
    let benchmark = SamplingOverrides { temperature: Some(0.0), seed: Some(seed), ..SamplingOverrides::default() };
    resolve_sampling(model, preset, &benchmark, &SamplingOverrides::default(), asked).map_err(|e| RunError::Invalid(e.to_string()))
}

/// How a run asks, beyond the engine itself.
pub struct Plan {
    pub bench: Bench,
    pub data: PathBuf,
    pub limit: usize,
    pub seed: u64,
    pub sampling: SamplingParams,
    pub system_prompt: Option<String>,
    pub scenario: Option<String>,
    pub strict: bool,
    pub judge: Option<JudgeConfig>,
    /// The local model file's SHA-256 when the caller knows it already (the app's library
    /// caches it); else it is computed here.
    pub model_sha256: Option<String>,
}

/// The run's config: what `config.json` records and `--resume` compares.
pub fn config(backend: &Backend, plan: Plan, items: &[Item]) -> Result<RunConfig, RunError> {
    plan.sampling.validate().map_err(|e| RunError::Invalid(e.to_string()))?;
    let mut data = BTreeMap::new();
    for f in adapters::data_files(plan.bench, &plan.data).map_err(|e| RunError::Invalid(e.to_string()))? {
        let hash = fin_r1_engine::digest::sha256_file(&f).map_err(|source| RunError::Io { path: f.clone(), source })?;
        data.insert(f.display().to_string(), hash);
    }
    let model_sha256 = match (backend.model_path(), plan.model_sha256) {
        (Some(_), Some(known)) => Some(known),
        (Some(p), None) => Some(fin_r1_engine::digest::sha256_file(&p).map_err(|source| RunError::Io { path: p.clone(), source })?),
        (None, _) => None,
    };
    Ok(RunConfig {
        bench: plan.bench.name().into(),
        data,
        engine: Some(backend.kind()),
        model: backend.model_name(),
        model_sha256,
        quantization: backend.quantization(),
        remote_url: backend.remote_url(),
        sampling: plan.sampling,
        system_prompt: plan.system_prompt,
        scenario: plan.scenario,
        prompt_version: PROMPT_VERSION,
        limit: plan.limit,
        seed: plan.seed,
        strict: plan.strict,
        judge: plan.judge,
        items: items.iter().map(|i| i.id.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A benchmark's runs are greedy unless the caller says otherwise, whatever the model
    /// recommends for chat; the caller's fields and a preset's go through the same layers as chat.
    #[test]
    fn a_run_samples_greedily_unless_asked_otherwise() {
        let model = SamplingParams { temperature: 0.8, top_p: 0.9, max_tokens: 4096, ..SamplingParams::default() };
        let none = SamplingOverrides::default();
        let p = sampling(model.clone(), None, 7, &none).expect("valid");
        assert_eq!((p.temperature, p.seed, p.top_p, p.max_tokens), (0.0, Some(7), 0.9, 4096));
        let asked = SamplingOverrides { temperature: Some(0.6), max_tokens: Some(512), ..SamplingOverrides::default() };
        let p = sampling(model.clone(), None, 7, &asked).expect("valid");
        assert_eq!((p.temperature, p.max_tokens), (0.6, 512));
        let preset = SamplingParams { temperature: 0.3, top_p: 0.5, max_tokens: 2048, ..SamplingParams::default() };
        let p = sampling(model.clone(), Some(&preset), 7, &none).expect("valid");
        assert_eq!((p.temperature, p.top_p, p.max_tokens), (0.0, 0.5, 2048));
        let hot = SamplingOverrides { temperature: Some(5.0), ..SamplingOverrides::default() };
        assert!(sampling(model, None, 7, &hot).is_err(), "the one range check");
    }
}

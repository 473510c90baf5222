//! What a run will ask and how, decided once for the CLI and the app: the items chosen from a
//! benchmark file, and the `RunConfig` recorded beside them (model file and its hash, data
//! files and theirs, sampling, prompt, judge).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fin_r1_engine::SamplingParams;

use super::adapters::{self, Bench};
use super::item::Item;
use super::prompt::PROMPT_VERSION;
use super::run::{duplicate_ids, JudgeConfig, RunConfig, RunError};
use super::sample::choose;
use crate::backend::Backend;

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
        let hash = crate::store::sha256_file(&f).map_err(|source| RunError::Io { path: f.clone(), source })?;
        data.insert(f.display().to_string(), hash);
    }
    let model_sha256 = match (backend.model_path(), plan.model_sha256) {
        (Some(_), Some(known)) => Some(known),
        (Some(p), None) => Some(crate::store::sha256_file(&p).map_err(|source| RunError::Io { path: p.clone(), source })?),
        (None, _) => None,
    };
    Ok(RunConfig {
        bench: plan.bench.name().into(),
        data,
        engine: if backend.is_local() { "local".into() } else { "remote".into() },
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

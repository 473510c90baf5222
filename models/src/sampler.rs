//! Choosing the next token: repetition penalty, temperature, top-k, top-p, in the order
//! Hugging Face's generation applies them (Fin-R1's recommended settings are given in its
//! terms), with a seeded generator of our own so that a seed means the same text in every
//! version of the app.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct SamplingParams {
    /// 0 means greedy decoding.
    pub temperature: f32,
    /// 1.0 disables nucleus sampling.
    pub top_p: f32,
    /// 0 disables top-k.
    pub top_k: usize,
    /// 1.0 disables it; applied to every token already in the context.
    pub repetition_penalty: f32,
    pub max_tokens: usize,
    /// `None`: a fresh seed, reported in the `Done` event so the run can be repeated.
    pub seed: Option<u64>,
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.8, top_p: 0.95, top_k: 40, repetition_penalty: 1.0, max_tokens: 2048, seed: None, stop: Vec::new() }
    }
}

/// A sampling value outside the range every path accepts (the runner, the API server, the
/// remote engine, the CLI, Settings and preset files all check the same ranges, here).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} {value} is out of range: {range}")]
pub struct SamplingError {
    pub field: &'static str,
    pub value: String,
    pub range: &'static str,
}

/// The largest answer any path asks for (a request is also bounded by the context).
pub const MAX_TOKENS_LIMIT: usize = 32_768;
/// Stop strings per request, and the longest one.
const MAX_STOPS: usize = 16;
const MAX_STOP_CHARS: usize = 256;

fn out(field: &'static str, value: impl ToString, range: &'static str) -> SamplingError {
    SamplingError { field, value: value.to_string(), range }
}

fn check_temperature(t: f32) -> Result<(), SamplingError> {
    if t.is_finite() && (0.0..=2.0).contains(&t) {
        Ok(())
    } else {
        Err(out("temperature", t, "0 (greedy) to 2"))
    }
}
fn check_top_p(p: f32) -> Result<(), SamplingError> {
    if p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(out("top_p", p, "above 0, at most 1"))
    }
}
fn check_top_k(k: usize) -> Result<(), SamplingError> {
    if k <= 1_000 {
        Ok(())
    } else {
        Err(out("top_k", k, "0 (off) to 1000"))
    }
}
fn check_repetition_penalty(r: f32) -> Result<(), SamplingError> {
    if r.is_finite() && r > 0.0 && r <= 2.0 {
        Ok(())
    } else {
        Err(out("repetition_penalty", r, "above 0, at most 2 (1 is off)"))
    }
}
fn check_max_tokens(m: usize) -> Result<(), SamplingError> {
    if (1..=MAX_TOKENS_LIMIT).contains(&m) {
        Ok(())
    } else {
        Err(out("max_tokens", m, "1 to 32768"))
    }
}
/// Seeds a UI can show and give back exactly: JavaScript numbers hold integers up to 2^53 − 1.
pub const MAX_SEED: u64 = (1 << 53) - 1;
fn check_seed(seed: u64) -> Result<(), SamplingError> {
    if seed <= MAX_SEED {
        Ok(())
    } else {
        Err(out("seed", seed, "0 to 9007199254740991 (2^53 - 1)"))
    }
}
fn check_stop(stop: &[String]) -> Result<(), SamplingError> {
    if stop.len() > MAX_STOPS {
        return Err(out("stop", format!("{} strings", stop.len()), "at most 16 strings"));
    }
    match stop.iter().find(|s| s.is_empty() || s.chars().count() > MAX_STOP_CHARS) {
        Some(s) => Err(out("stop", format!("{s:?}"), "non-empty strings of at most 256 characters")),
        None => Ok(()),
    }
}

impl SamplingParams {
    pub fn validate(&self) -> Result<(), SamplingError> {
        check_temperature(self.temperature)?;
        check_top_p(self.top_p)?;
        check_top_k(self.top_k)?;
        check_repetition_penalty(self.repetition_penalty)?;
        check_max_tokens(self.max_tokens)?;
        self.seed.map_or(Ok(()), check_seed)?;
        check_stop(&self.stop)
    }
}

/// Sampling fields one layer sets (the user's defaults, a conversation, a turn); unset fields
/// come from the layer below.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct SamplingOverrides {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub repetition_penalty: Option<f32>,
    pub max_tokens: Option<usize>,
    pub seed: Option<u64>,
    pub stop: Option<Vec<String>>,
}

impl SamplingOverrides {
    pub fn apply(&self, base: SamplingParams) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature.unwrap_or(base.temperature),
            top_p: self.top_p.unwrap_or(base.top_p),
            top_k: self.top_k.unwrap_or(base.top_k),
            repetition_penalty: self.repetition_penalty.unwrap_or(base.repetition_penalty),
            max_tokens: self.max_tokens.unwrap_or(base.max_tokens),
            seed: self.seed.or(base.seed),
            stop: self.stop.clone().unwrap_or(base.stop),
        }
    }

    /// Checks the fields that are set, with the same ranges as `SamplingParams::validate`.
    pub fn validate(&self) -> Result<(), SamplingError> {
        self.temperature.map_or(Ok(()), check_temperature)?;
        self.top_p.map_or(Ok(()), check_top_p)?;
        self.top_k.map_or(Ok(()), check_top_k)?;
        self.repetition_penalty.map_or(Ok(()), check_repetition_penalty)?;
        self.max_tokens.map_or(Ok(()), check_max_tokens)?;
        self.seed.map_or(Ok(()), check_seed)?;
        self.stop.as_deref().map_or(Ok(()), check_stop)
    }
}

/// The one way a turn's sampling is decided, lowest layer first: the model's recommended
/// settings, replaced by a preset's when the conversation has one; then the fields the user set
/// in Settings, then those set for this conversation, then for this turn (an API request's
/// body, a CLI flag). The result is validated.
pub fn resolve(
    model: SamplingParams,
    preset: Option<&SamplingParams>,
    user: &SamplingOverrides,
    conversation: &SamplingOverrides,
    turn: &SamplingOverrides,
) -> Result<SamplingParams, SamplingError> {
    let base = preset.cloned().unwrap_or(model);
    let p = turn.apply(conversation.apply(user.apply(base)));
    p.validate()?;
    Ok(p)
}

/// xoshiro256** seeded through SplitMix64: small, fast and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// Tokens already in the context, for the repetition penalty.
    seen: Vec<bool>,
    seen_list: Vec<u32>,
}

impl Sampler {
    pub fn new(params: SamplingParams, seed: u64, vocab: usize) -> Self {
        Self { params, rng: Rng::new(seed), seen: vec![false; vocab], seen_list: Vec::new() }
    }

    pub fn observe(&mut self, tokens: &[u32]) {
        for &t in tokens {
            if let Some(s) = self.seen.get_mut(t as usize) {
                if !*s {
                    *s = true;
                    self.seen_list.push(t);
                }
            }
        }
    }

    pub fn sample(&mut self, logits: &mut [f32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            for &t in &self.seen_list {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 { *l / p.repetition_penalty } else { *l * p.repetition_penalty };
                }
            }
        }
        if p.temperature <= 0.0 {
            return crate::model::argmax(logits);
        }
        let mut cand: Vec<(u32, f32)> = logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i as u32, l)).collect();
        if cand.is_empty() {
            return 0;
        }
        let desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if p.top_k > 0 && p.top_k < cand.len() {
            cand.select_nth_unstable_by(p.top_k - 1, desc);
            cand.truncate(p.top_k);
        }
        cand.sort_unstable_by(desc);
        let max = cand[0].1;
        let t = p.temperature as f64;
        let mut probs: Vec<f64> = cand.iter().map(|&(_, l)| ((l - max) as f64 / t).exp()).collect();
        let total: f64 = probs.iter().sum();
        let mut keep = probs.len();
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            for (i, q) in probs.iter().enumerate() {
                acc += q / total;
                if acc >= p.top_p as f64 {
                    keep = i + 1;
                    break;
                }
            }
        }
        probs.truncate(keep);
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.next_f64() * total;
        for (i, q) in probs.iter().enumerate() {
            if r < *q {
                return cand[i].0;
            }
            r -= q;
        }
        cand[keep - 1].0
    }
}

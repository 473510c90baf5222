//! Choosing the next token: repetition penalty, temperature, top-k, top-p, in the order
//! Hugging Face's generation applies them (Fin-R1's recommended settings are given in its
//! terms), with a seeded generator of our own so that a seed means the same text in every
//! version of the app.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        Self {
            temperature: 0.8,
            top_p: 0.95,
            top_k: 40,
            repetition_penalty: 1.0,
            max_tokens: 2048,
            seed: None,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.temperature.is_finite() && (0.0..=10.0).contains(&self.temperature)) {
            return Err(format!("temperature {} is outside 0..=10", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p {} is outside (0, 1]", self.top_p));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(format!("repetition_penalty {} must be positive", self.repetition_penalty));
        }
        if self.max_tokens == 0 {
            return Err("max_tokens must be at least 1".into());
        }
        Ok(())
    }
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
        let mut cand: Vec<(u32, f32)> =
            logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i as u32, l)).collect();
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

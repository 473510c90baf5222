//! A loaded model and what a generation needs around it: tokenizer, chat template, the KV cache
//! with the tokens it holds, and the generation loop that turns logits into the event stream.
//! It runs on whatever thread owns it; `Engine` gives it a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::defaults::ModelFamily;
use crate::device::DeviceChoice;
use crate::error::{EngineError, Result};
use crate::events::{Done, GenerationEvent, StopReason, Usage};
use crate::gguf::{GgufFile, TensorType};
use crate::hparams::HParams;
use crate::model::Model;
use crate::model_file::open_model;
use crate::prefix_cache::{KvSnapshot, PrefixCache, PrefixCacheOptions, MIN_PREFIX_TOKENS};
use crate::sampler::{Sampler, SamplingParams};
use crate::splitter::{Piece, ThinkSplitter};
use crate::stream::{StopMatcher, Utf8Stream};
use crate::template::{prompt_opens_think, ChatMessage, ChatTemplate, Role};
use crate::tokenizer::{Tokenizer, TokenizerSummary};

/// The context the engine uses unless told otherwise: Fin-R1's authors serve it with 16k.
pub const DEFAULT_CONTEXT: usize = 16_384;
/// Prompt tokens run per forward pass: bounds the attention scores' memory and lets a
/// cancellation land between chunks of a long prompt.
const PREFILL_CHUNK: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub device: DeviceChoice,
    /// Context in tokens; defaults to the smaller of the model's and `DEFAULT_CONTEXT`.
    pub context: Option<usize>,
    /// A Hugging Face `tokenizer.json` to use instead of the file's own tokenizer.
    pub tokenizer: Option<PathBuf>,
    /// Where shared prompt prefixes are kept between processes; `None`: in memory only.
    pub prefix_cache: Option<PrefixCacheOptions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub file_name: String,
    pub file_size: u64,
    pub name: Option<String>,
    pub family: ModelFamily,
    pub hparams: HParams,
    pub n_params: u64,
    /// The tensor type holding most of the weights (what "Q4_K_M"-style names describe).
    pub quantization: String,
    pub context: usize,
    pub device: DeviceChoice,
    pub chat_template_from_model: bool,
    pub tokenizer: TokenizerSummary,
}

impl ModelInfo {
    pub fn default_sampling(&self) -> SamplingParams {
        self.family.default_sampling()
    }
    pub fn default_system_prompt(&self) -> Option<&'static str> {
        self.family.default_system_prompt()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextPolicy {
    /// A prompt that does not fit is refused with `PromptTooLong`.
    #[default]
    Error,
    /// The oldest user/assistant turns are left out of the prompt until it fits; the system
    /// prompt and the newest question always stay. `Done.dropped_turns` says how many went.
    DropOldestTurns,
}

#[derive(Debug, Clone, Default)]
pub struct GenerationRequest {
    /// The conversation so far, ending with the user's new question. A leading system message
    /// is used as the system prompt.
    pub messages: Vec<ChatMessage>,
    /// Without a system message: `None` gives the model's default system prompt (Fin-R1's
    /// recommended one for Fin-R1), `Some("")` none at all.
    pub system: Option<String>,
    /// `None`: the model's defaults.
    pub sampling: Option<SamplingParams>,
    pub context_policy: ContextPolicy,
    /// Text the first user message begins with that many conversations share (a preset's
    /// template up to its first value). The keys and values of the prompt up to there (system
    /// prompt included) are kept, so the next conversation that shares them runs only the rest.
    /// The system prompt alone is kept without it.
    pub shared_prefix: Option<String>,
    /// Functions the model may call (written into the prompt as Qwen2.5 writes them).
    pub tools: Vec<crate::ToolSpec>,
}

/// Cancels a generation when set; checked before every forward pass.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct PreparedPrompt {
    pub text: String,
    pub tokens: Vec<u32>,
    pub opens_think: bool,
    pub dropped_turns: usize,
    /// Leading tokens shared with other conversations (see `GenerationRequest::shared_prefix`);
    /// 0 when too short to be worth keeping.
    pub shared_tokens: usize,
}

pub struct Runtime {
    model: Model,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    info: ModelInfo,
    /// Exactly the tokens whose keys and values the model's cache holds.
    cached: Vec<u32>,
    prefixes: PrefixCache,
}

fn dominant_type(g: &GgufFile) -> String {
    let mut by_type: std::collections::BTreeMap<TensorType, u64> = Default::default();
    for t in &g.tensors {
        *by_type.entry(t.ttype).or_default() += t.n_elements();
    }
    by_type.into_iter().max_by_key(|&(_, n)| n).map(|(t, _)| t.name().to_owned()).unwrap_or_default()
}

impl Runtime {
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Self> {
        let (g, hp, tokenizer) = open_model(path, opts.tokenizer.as_deref())?;
        let device = opts.device.open()?;
        let context = opts.context.unwrap_or(DEFAULT_CONTEXT).min(hp.context_length).max(16);
        let token_text = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id)).unwrap_or_default();
        let template = ChatTemplate::new(g.str("tokenizer.chat_template"), token_text(tokenizer.bos), token_text(tokenizer.eos))?;
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let name = g.str("general.name").map(str::to_owned);
        let info = ModelInfo {
            path: path.to_owned(),
            family: ModelFamily::detect(name.as_deref(), &file_name),
            file_name,
            file_size: g.file_size,
            name,
            n_params: HParams::n_params(&g),
            quantization: dominant_type(&g),
            context,
            device: opts.device,
            chat_template_from_model: template.from_model,
            tokenizer: tokenizer.summary(&g),
            hparams: hp.clone(),
        };
        let model = Model::load(&g, hp, &device, context)?;
        let prefixes = PrefixCache::new(opts.prefix_cache.clone(), path, crate::prefix_cache::fingerprint(&device));
        Ok(Self { model, tokenizer, template, info, cached: Vec::new(), prefixes })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Renders and tokenizes the request's prompt, applying its context policy.
    pub fn prepare(&self, req: &GenerationRequest, max_new: usize) -> Result<PreparedPrompt> {
        let mut messages: Vec<ChatMessage> = req.messages.clone();
        if !matches!(messages.last().map(|m| m.role), Some(Role::User | Role::Tool)) {
            return Err(EngineError::InvalidRequest("the conversation must end with a user message or a tool's result".into()));
        }
        if messages.first().map(|m| m.role) != Some(Role::System) {
            let system = match &req.system {
                Some(s) => Some(s.clone()),
                None => self.info.default_system_prompt().map(str::to_owned),
            };
            if let Some(s) = system.filter(|s| !s.is_empty()) {
                messages.insert(0, ChatMessage::system(s));
            }
        }
        let mut messages = crate::template::with_tools(&messages, &req.tools);
        // Keep room for at least a short answer.
        let budget = self.info.context.saturating_sub(max_new.clamp(1, 256));
        let mut dropped = 0;
        loop {
            let text = self.template.render(&messages)?;
            let tokens = self.tokenizer.encode(&text)?;
            if tokens.len() <= budget {
                let shared_tokens = self.shared_tokens(&messages, req.shared_prefix.as_deref(), &tokens)?;
                return Ok(PreparedPrompt { opens_think: prompt_opens_think(&text), text, tokens, dropped_turns: dropped, shared_tokens });
            }
            let first_turn = usize::from(messages.first().map(|m| m.role) == Some(Role::System));
            let can_drop = req.context_policy == ContextPolicy::DropOldestTurns && messages.len() > first_turn + 1;
            if !can_drop {
                return Err(EngineError::PromptTooLong { prompt_tokens: tokens.len(), context: self.info.context });
            }
            // Drop the oldest turn: a user message with the assistant reply that follows it.
            messages.remove(first_turn);
            while messages.len() > first_turn + 1 && messages[first_turn].role == Role::Assistant {
                messages.remove(first_turn);
            }
            dropped += 1;
        }
    }

    /// How many leading prompt tokens are the shared prefix: the prompt rendered up to the
    /// first user message's `hint` (or its start), tokenized, and compared with the prompt's own
    /// tokens, so a token merged across the seam is not counted.
    fn shared_tokens(&self, messages: &[ChatMessage], hint: Option<&str>, tokens: &[u32]) -> Result<usize> {
        const MARK: &str = "\u{E000}fin-r1-shared-prefix\u{E000}";
        let Some(first_user) = messages.iter().position(|m| m.role == Role::User) else { return Ok(0) };
        let hint = hint.filter(|h| messages[first_user].content.starts_with(*h)).unwrap_or("");
        let mut head = messages[..=first_user].to_vec();
        head[first_user].content = format!("{hint}{MARK}");
        let text = self.template.render(&head)?;
        let Some(cut) = text.find(MARK) else { return Ok(0) };
        let prefix = self.tokenizer.encode(&text[..cut])?;
        let n = prefix.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        // At least one token must run after it to produce logits.
        let n = n.min(tokens.len().saturating_sub(1));
        Ok(if n >= MIN_PREFIX_TOKENS { n } else { 0 })
    }

    /// Brings the cache to hold exactly `tokens` and returns the logits after the last one,
    /// running only what the cache does not already hold. `None` if cancelled.
    pub fn prefill(&mut self, tokens: &[u32], cancel: &CancelToken) -> Result<Option<(Vec<f32>, usize)>> {
        self.prefill_with(tokens, 0, cancel, &mut |_| true)
    }

    /// `prefill`, also starting from (or keeping) the cached keys and values of the first
    /// `shared` tokens, and reporting the tokens in the cache after each step to `progress`
    /// (false: nobody listens, stop).
    pub fn prefill_with(
        &mut self,
        tokens: &[u32],
        shared: usize,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<(Vec<f32>, usize)>> {
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest("empty prompt".into()));
        }
        let shared = shared.min(tokens.len() - 1);
        let common = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        // At least one token must run to produce logits.
        let mut reuse = common.min(tokens.len() - 1);
        if shared > reuse {
            if let Some(s) = self.prefixes.get(&tokens[..shared]) {
                match self.model.restore(&s.layers, shared) {
                    Ok(()) => {
                        self.cached = tokens[..shared].to_vec();
                        reuse = shared;
                    }
                    Err(e) => {
                        tracing::warn!("cached prefix not used: {e}");
                        self.reset_cache();
                        reuse = 0;
                    }
                }
            }
        }
        self.model.truncate_cache(reuse)?;
        self.cached.truncate(reuse);
        if !progress(reuse) {
            return Ok(None);
        }
        // Run up to the shared prefix's end first when it is not kept yet, and keep it.
        let mut stops = vec![tokens.len()];
        if shared > reuse {
            stops.insert(0, shared);
        }
        let mut logits = None;
        let mut at = reuse;
        for stop in stops {
            for chunk in tokens[at..stop].chunks(PREFILL_CHUNK) {
                if cancel.is_cancelled() {
                    return Ok(None);
                }
                logits = Some(self.forward(chunk)?);
                if !progress(self.cached.len()) {
                    return Ok(None);
                }
            }
            at = stop;
            if stop == shared && stop < tokens.len() {
                match self.model.snapshot(shared) {
                    Ok(layers) => self.prefixes.put(KvSnapshot { tokens: tokens[..shared].to_vec(), layers }),
                    Err(e) => tracing::warn!("prefix not kept: {e}"),
                }
            }
        }
        Ok(logits.map(|l| (l, reuse)))
    }

    /// Runs tokens after the cached ones; on failure the cache is dropped rather than left
    /// half-written.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        // On one of the thread pool's own workers: the kernels' parallel loops then start from
        // inside the pool, instead of the calling thread handing each one over and sleeping
        // until it is done (a few hundred times per decoded token).
        let model = &mut self.model;
        match rayon::scope(|_| model.forward(tokens)) {
            Ok(l) => {
                self.cached.extend_from_slice(tokens);
                Ok(l)
            }
            Err(e) => {
                self.reset_cache();
                Err(e)
            }
        }
    }

    pub fn reset_cache(&mut self) {
        self.cached.clear();
        // Truncating to zero only drops tensors and cannot fail.
        let _ = self.model.truncate_cache(0);
    }

    pub fn cached_tokens(&self) -> usize {
        self.cached.len()
    }

    /// Runs one generation, sending its events to `sink`; `sink` returning false (nobody is
    /// listening any more) cancels it like the token does.
    pub fn generate(&mut self, req: &GenerationRequest, cancel: &CancelToken, sink: &mut dyn FnMut(GenerationEvent) -> bool) {
        if let Err(e) = self.try_generate(req, cancel, sink) {
            sink(GenerationEvent::error(&e));
        }
    }

    fn try_generate(&mut self, req: &GenerationRequest, cancel: &CancelToken, sink: &mut dyn FnMut(GenerationEvent) -> bool) -> Result<()> {
        let start = Instant::now();
        let params = req.sampling.clone().unwrap_or_else(|| self.info.default_sampling());
        params.validate().map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
        let prompt = self.prepare(req, params.max_tokens)?;
        let seed = params.seed.unwrap_or_else(fresh_seed);
        let max_new = params.max_tokens.min(self.info.context - prompt.tokens.len());
        let mut sampler = Sampler::new(params.clone(), seed, self.info.hparams.n_vocab);
        sampler.observe(&prompt.tokens);

        let mut usage = Usage { prompt_tokens: prompt.tokens.len(), ..Usage::default() };
        let mut done = Done { reason: StopReason::Cancelled, reasoning_unterminated: false, seed, dropped_turns: prompt.dropped_turns };
        let mut utf8 = Utf8Stream::default();
        let mut stops = StopMatcher::new(&params.stop);
        let mut splitter = ThinkSplitter::new(prompt.opens_think);
        let mut listening = true;
        let prefill_start = Instant::now();
        let total = prompt.tokens.len();
        let prefilled = self.prefill_with(&prompt.tokens, prompt.shared_tokens, cancel, &mut |done| sink(GenerationEvent::Prefill { done, total }))?;
        let Some((mut logits, reused)) = prefilled else {
            return self.finish(usage, done, sink);
        };
        let mut calls = 0usize;
        let mut send = |pieces: Vec<Piece>, listening: &mut bool| {
            for p in pieces {
                *listening &= sink(p.into_event(&mut calls, !req.tools.is_empty()));
            }
        };

        usage.cached_prompt_tokens = reused;
        let prefill_s = prefill_start.elapsed().as_secs_f64();
        usage.prefill_tok_s = rate(prompt.tokens.len() - reused, prefill_s);
        let decode_start = Instant::now();
        let mut generated = 0usize;
        let mut repetition = crate::repetition::RepetitionGuard::default();
        let mut undecided = 0usize;
        loop {
            if cancel.is_cancelled() || !listening {
                done.reason = StopReason::Cancelled;
                break;
            }
            let token = sampler.sample(&mut logits);
            if generated == 0 {
                usage.time_to_first_token_ms = start.elapsed().as_secs_f64() * 1e3;
            }
            if self.tokenizer.is_end(token) {
                done.reason = StopReason::End;
                break;
            }
            generated += 1;
            sampler.observe(&[token]);
            let text = utf8.push(self.tokenizer.token_bytes(token));
            let (text, hit) = stops.push(&text);
            send(splitter.push(&text), &mut listening);
            // Tokens seen before the output showed its side count on the side it turned out on
            // (an answer with no reasoning once counted its first token as reasoning).
            match splitter.side() {
                None => undecided += 1,
                Some(true) => usage.reasoning_tokens += 1 + std::mem::take(&mut undecided),
                Some(false) => usage.answer_tokens += 1 + std::mem::take(&mut undecided),
            }
            if hit {
                done.reason = StopReason::StopString;
                break;
            }
            if generated >= max_new {
                done.reason = StopReason::Length;
                break;
            }
            if repetition.push(token) {
                done.reason = StopReason::Repetition;
                break;
            }
            if cancel.is_cancelled() {
                done.reason = StopReason::Cancelled;
                break;
            }
            logits = self.forward(&[token])?;
        }
        if done.reason != StopReason::StopString {
            let tail = utf8.finish();
            let (tail, _) = stops.push(&tail);
            let rest = format!("{tail}{}", stops.finish());
            send(splitter.push(&rest), &mut listening);
        }
        send(splitter.finish(), &mut listening);
        // Still undecided at the end: `finish` read it as answer.
        usage.answer_tokens += undecided;
        done.reasoning_unterminated = splitter.reasoning_unterminated();
        usage.decode_tok_s = rate(generated.saturating_sub(1), decode_start.elapsed().as_secs_f64());
        usage.total_ms = start.elapsed().as_secs_f64() * 1e3;
        self.finish(usage, done, sink)
    }

    fn finish(&self, usage: Usage, done: Done, sink: &mut dyn FnMut(GenerationEvent) -> bool) -> Result<()> {
        sink(GenerationEvent::Usage(usage));
        sink(GenerationEvent::Done(done));
        Ok(())
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    if secs > 0.0 && n > 0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// A drawn seed fits in 53 bits, so the UI (JavaScript numbers) shows and repeats it exactly.
fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    ((t as u64) ^ ((t >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)) & crate::sampler::MAX_SEED
}

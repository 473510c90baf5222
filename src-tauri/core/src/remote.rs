//! A remote OpenAI-compatible server (a team's vLLM serving Fin-R1 across GPUs, or another
//! `fin-r1 serve`) behind the same `Generation` event stream as the local engine.
//! `reasoning_content` (or vLLM's newer `reasoning`) deltas and `<think>` inside `content` both
//! become `Reasoning` events. The API key is sent only in the Authorization header: never logged,
//! never part of an error message or a report.

use std::time::{Duration, Instant};

use fin_r1_engine::splitter::{Piece, ThinkSplitter};
use fin_r1_engine::{CancelToken, Done, ErrorKind, Generation, GenerationEvent, GenerationRequest, SamplingParams, Usage};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::openai::{stop_reason, WireMessage};

#[derive(Clone)]
pub struct RemoteConfig {
    /// Up to and including `/v1`, e.g. `http://10.0.0.5:8000/v1`.
    pub base_url: String,
    /// The served model name (vLLM's `--served-model-name`).
    pub model: String,
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    /// Longest silence between two streamed chunks before the request is given up.
    pub read_timeout: Duration,
    /// Attempts to connect before reporting the server unreachable.
    pub connect_attempts: u32,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl RemoteConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            model: model.into(),
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(300),
            connect_attempts: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("the base URL {0:?} is not an http(s) URL")]
    BadUrl(String),
}

pub struct RemoteEngine {
    config: RemoteConfig,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl RemoteEngine {
    /// `runtime` runs the HTTP exchanges; the events can be read from any thread.
    pub fn new(config: RemoteConfig, runtime: tokio::runtime::Handle) -> Result<Self, RemoteError> {
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(RemoteError::BadUrl(config.base_url));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| RemoteError::Client(e.to_string()))?;
        Ok(Self { config, http, runtime })
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// Starts a generation; dropping the returned handle aborts the HTTP request.
    pub fn generate(&self, request: GenerationRequest, defaults: &SamplingParams) -> Generation {
        let (tx, rx) = unbounded_channel();
        let cancel = CancelToken::default();
        // The same ranges as the local engine: a remote server must not be sent what this app
        // would refuse (it once forwarded any value unchecked).
        let sampling = request.sampling.as_ref().unwrap_or(defaults);
        if let Err(e) = sampling.validate() {
            let _ = tx.send(GenerationEvent::Error { kind: ErrorKind::InvalidRequest, message: e.to_string() });
            return Generation::from_channel(rx, cancel);
        }
        let body = request_body(&self.config.model, &request, defaults);
        let (http, config, token) = (self.http.clone(), self.config.clone(), cancel.clone());
        let seed = body.get("seed").and_then(Value::as_u64).unwrap_or(0);
        self.runtime.spawn(async move {
            let events = tx.clone();
            let run = run(http, config, body, seed, tx);
            tokio::select! {
                _ = run => {}
                // The reader went away (dropped its Generation): stop reading; dropping the
                // response closes the connection and vLLM aborts the request.
                _ = events.closed() => {}
                _ = wait_cancel(token) => {}
            }
        });
        Generation::from_channel(rx, cancel)
    }
}

async fn wait_cancel(token: CancelToken) {
    while !token.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn request_body(model: &str, r: &GenerationRequest, defaults: &SamplingParams) -> Value {
    let s = r.sampling.clone().unwrap_or_else(|| defaults.clone());
    let mut messages: Vec<WireMessage> = Vec::new();
    if let Some(system) = r.system.as_deref().filter(|s| !s.is_empty()) {
        if !r.messages.iter().any(|m| m.role == fin_r1_engine::Role::System) {
            messages.push(WireMessage::from_chat(&fin_r1_engine::ChatMessage::system(system)));
        }
    }
    messages.extend(r.messages.iter().map(WireMessage::from_chat));
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
    });
    if s.top_k > 0 {
        body["top_k"] = json!(s.top_k);
    }
    if s.repetition_penalty != 1.0 {
        body["repetition_penalty"] = json!(s.repetition_penalty);
    }
    if !s.stop.is_empty() {
        body["stop"] = json!(s.stop);
    }
    if let Some(seed) = s.seed {
        body["seed"] = json!(seed);
    }
    if !r.tools.is_empty() {
        body["tools"] = Value::Array(r.tools.iter().map(crate::openai::tool_json).collect());
    }
    body
}

fn error(tx: &UnboundedSender<GenerationEvent>, kind: ErrorKind, message: String) {
    let _ = tx.send(GenerationEvent::Error { kind, message });
}

/// What a failed HTTP status means to the analyst.
fn status_message(status: reqwest::StatusCode, url: &str, model: &str, detail: &str) -> (String, ErrorKind) {
    let detail = if detail.is_empty() { String::new() } else { format!(" (server said: {detail})") };
    match status.as_u16() {
        401 | 403 => (format!("the server at {url} refused the API key{detail}"), ErrorKind::Unauthorized),
        404 => (format!("the server at {url} has no model {model:?} or no such endpoint{detail}"), ErrorKind::NotFound),
        400 | 413 | 422 => (format!("the server rejected the request{detail}"), ErrorKind::InvalidRequest),
        429 => (format!("the server at {url} is busy (too many requests){detail}"), ErrorKind::RemoteBusy),
        s if s >= 500 => (format!("the server at {url} failed with HTTP {s}{detail}"), ErrorKind::RemoteServer),
        s => (format!("unexpected HTTP {s} from {url}{detail}"), ErrorKind::RemoteServer),
    }
}

fn server_detail(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    msg.chars().take(300).collect()
}

async fn run(http: reqwest::Client, config: RemoteConfig, body: Value, seed: u64, tx: UnboundedSender<GenerationEvent>) {
    let url = format!("{}/chat/completions", config.base_url);
    let started = Instant::now();
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        let mut req = http.post(&url).json(&body);
        if let Some(key) = &config.api_key {
            req = req.bearer_auth(key);
        }
        match req.send().await {
            Ok(r) => break r,
            Err(e) if e.is_connect() && attempt < config.connect_attempts => {
                tokio::time::sleep(Duration::from_millis(300 * (1 << attempt))).await;
            }
            Err(e) => {
                let why = if e.is_connect() {
                    format!("cannot reach {} after {attempt} attempts: is the server running?", config.base_url)
                } else if e.is_timeout() {
                    format!("{} did not answer in time", config.base_url)
                } else {
                    format!("request to {} failed: {}", config.base_url, without_url(&e))
                };
                return error(&tx, ErrorKind::RemoteUnreachable, why);
            }
        }
    };
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let (message, kind) = status_message(status, &config.base_url, &config.model, &server_detail(&text));
        return error(&tx, kind, message);
    }

    let mut splitter = ThinkSplitter::new(false);
    let mut state = Tally { tools_offered: body.get("tools").is_some(), ..Tally::default() };
    let mut lines = LineBuffer::default();
    let mut bytes = response.bytes_stream();
    let mut finish: Option<String> = None;
    let mut usage_seen: Option<Value> = None;
    'read: while let Some(piece) = bytes.next().await {
        let piece = match piece {
            Ok(p) => p,
            Err(e) => {
                let why = if e.is_timeout() { "the server stopped sending (timed out)".to_owned() } else { without_url(&e) };
                return error(&tx, ErrorKind::RemoteStream, format!("the answer stream from {} broke: {why}", config.base_url));
            }
        };
        for line in lines.push(&piece) {
            let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                break 'read;
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                return error(
                    &tx,
                    ErrorKind::RemoteStream,
                    format!("the server sent something that is not JSON: {}", data.chars().take(120).collect::<String>()),
                );
            };
            if let Some(msg) = v.pointer("/error/message").and_then(Value::as_str) {
                return error(&tx, ErrorKind::RemoteServer, format!("the server reported an error: {msg}"));
            }
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                usage_seen = Some(u.clone());
            }
            let Some(choice) = v.pointer("/choices/0") else { continue };
            let delta = &choice["delta"];
            // vLLM 0.16 and later send `reasoning`, older ones `reasoning_content`, some (and
            // `fin-r1 serve`) both with the same text: one piece, read once.
            let reasoning = ["reasoning", "reasoning_content"].iter().find_map(|key| delta.get(*key).and_then(Value::as_str).filter(|t| !t.is_empty()));
            if let Some(t) = reasoning {
                state.first(started);
                state.reasoning_deltas += 1;
                if tx.send(GenerationEvent::Reasoning { text: t.to_owned() }).is_err() {
                    return;
                }
            }
            if let Some(t) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                state.first(started);
                if !forward(&tx, splitter.push(t), &mut state) {
                    return;
                }
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                state.first(started);
                for c in calls {
                    state.tool_delta(c);
                }
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                finish = Some(f.to_owned());
            }
        }
    }
    if !forward(&tx, splitter.finish(), &mut state) {
        return;
    }
    for ev in state.tool_events() {
        if tx.send(ev).is_err() {
            return;
        }
    }
    let Some(finish) = finish else {
        return error(&tx, ErrorKind::RemoteStream, format!("the answer stream from {} ended before the answer was complete", config.base_url));
    };
    let total = started.elapsed().as_secs_f64();
    let ttft = state.ttft.unwrap_or(total);
    let u = usage_seen.unwrap_or(Value::Null);
    let completion = u["completion_tokens"].as_u64().map(|n| n as usize);
    let reasoning = u.pointer("/completion_tokens_details/reasoning_tokens").and_then(Value::as_u64).map(|n| n as usize).unwrap_or(state.reasoning_deltas);
    let answer = completion.map(|c| c.saturating_sub(reasoning)).unwrap_or(state.answer_deltas);
    let generated = reasoning + answer;
    let prompt_tokens = u["prompt_tokens"].as_u64().unwrap_or(0) as usize;
    let cached_prompt_tokens = u.pointer("/prompt_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0) as usize;
    let _ = tx.send(GenerationEvent::Usage(Usage {
        prompt_tokens,
        cached_prompt_tokens,
        reasoning_tokens: reasoning,
        answer_tokens: answer,
        time_to_first_token_ms: ttft * 1e3,
        // Seen from here: includes the network and the server's queue.
        prefill_tok_s: if ttft > 0.0 { prompt_tokens.saturating_sub(cached_prompt_tokens) as f64 / ttft } else { 0.0 },
        decode_tok_s: if total > ttft { generated as f64 / (total - ttft) } else { 0.0 },
        total_ms: total * 1e3,
    }));
    let _ = tx.send(GenerationEvent::Done(Done {
        reason: stop_reason(&finish),
        reasoning_unterminated: splitter.reasoning_unterminated() && state.answer_deltas == 0 && state.reasoning_deltas > 0,
        seed,
        dropped_turns: 0,
    }));
}

#[derive(Default)]
struct Tally {
    ttft: Option<f64>,
    reasoning_deltas: usize,
    answer_deltas: usize,
    calls: usize,
    tools_offered: bool,
    /// Tool calls the server parsed (vLLM's `--tool-call-parser hermes`), by index: id, name
    /// and the arguments' JSON as it streams in.
    tool_calls: Vec<(String, String, String)>,
}

/// At most this many tool calls in one answer, and this much of their arguments.
const MAX_TOOL_CALLS: usize = 64;
const MAX_TOOL_ARGUMENTS: usize = 64 * 1024;

impl Tally {
    /// One `delta.tool_calls` entry: the first names the call, later ones add to its arguments.
    fn tool_delta(&mut self, d: &Value) {
        let index = d.get("index").and_then(Value::as_u64).unwrap_or(self.tool_calls.len() as u64) as usize;
        if index >= MAX_TOOL_CALLS {
            return;
        }
        while self.tool_calls.len() <= index {
            self.tool_calls.push(Default::default());
        }
        let call = &mut self.tool_calls[index];
        if let Some(id) = d.get("id").and_then(Value::as_str) {
            call.0 = id.to_owned();
        }
        if let Some(name) = d.pointer("/function/name").and_then(Value::as_str) {
            call.1.push_str(name);
        }
        if let Some(args) = d.pointer("/function/arguments").and_then(Value::as_str) {
            if call.2.len() + args.len() <= MAX_TOOL_ARGUMENTS {
                call.2.push_str(args);
            }
        }
    }

    /// The server's parsed calls, as the engine's events.
    fn tool_events(&mut self) -> Vec<GenerationEvent> {
        std::mem::take(&mut self.tool_calls)
            .into_iter()
            .map(|(id, name, args)| {
                self.calls += 1;
                let id = if id.is_empty() { format!("call_{}", self.calls) } else { id };
                let arguments = if args.trim().is_empty() { Ok(json!({})) } else { serde_json::from_str::<Value>(&args) };
                match arguments {
                    Ok(arguments @ Value::Object(_)) if !name.is_empty() => GenerationEvent::ToolCall(fin_r1_engine::ToolCall { id, name, arguments }),
                    _ => GenerationEvent::ToolCallMalformed {
                        text: format!("<tool_call>{}</tool_call>", json!({"name": name, "arguments": args})),
                        reason: "the server sent a tool call without a name or with arguments that are not a JSON object".into(),
                    },
                }
            })
            .collect()
    }
}

impl Tally {
    fn first(&mut self, started: Instant) {
        self.ttft.get_or_insert_with(|| started.elapsed().as_secs_f64());
    }
}

fn forward(tx: &UnboundedSender<GenerationEvent>, pieces: Vec<Piece>, state: &mut Tally) -> bool {
    for p in pieces {
        match &p {
            Piece::Reasoning(_) => state.reasoning_deltas += 1,
            _ => state.answer_deltas += 1,
        }
        // A server without a tool parser sends the model's `<tool_call>` as text: read here.
        let ev = p.into_event(&mut state.calls, state.tools_offered);
        if tx.send(ev).is_err() {
            return false;
        }
    }
    true
}

/// reqwest's messages can carry the URL; ours name the server already, and a URL may hold
/// credentials.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}

/// Splits a byte stream into lines, keeping a partial line (or a split UTF-8 character) for
/// the next chunk.
#[derive(Default)]
struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            out.push(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned());
        }
        out
    }
}

//! `fin-r1 serve`: the in-process engine behind an OpenAI-compatible API on loopback, answering
//! as vLLM does for Fin-R1 (reasoning apart from `content`, in both `reasoning`, what vLLM 0.16 and
//! later send, and `reasoning_content`, what older clients read). Requests queue on the one engine in
//! arrival order; a client that goes away cancels its generation (dropping the `Generation`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fin_r1_engine::{resolve_sampling, ChatMessage, ContextPolicy, Engine, ErrorKind, Generation, GenerationEvent, GenerationRequest, Role, SamplingOverrides};
use futures_util::stream::{self, Stream};
use serde_json::{json, Value};

use crate::openai::{error_body, finish_reason, tool_call_json, ChatCompletionRequest};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The model id clients name (vLLM's `--served-model-name`).
    pub served_model_name: String,
    /// Required as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    /// Origins allowed by CORS; empty: no CORS headers, browsers on other origins are refused.
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Largest `max_tokens` a request may ask for.
    pub max_tokens_limit: usize,
    /// Requests admitted at once (the one generating and those waiting for the engine); over
    /// it a request is answered 429 with `Retry-After` instead of queueing without end.
    pub max_queued: usize,
}

impl ServerConfig {
    pub fn new(served_model_name: impl Into<String>) -> Self {
        Self {
            served_model_name: served_model_name.into(),
            api_key: None,
            cors_origins: Vec::new(),
            max_body_bytes: 4 << 20,
            max_tokens_limit: 32_768,
            max_queued: 16,
        }
    }
}

/// What the server has done, for `GET /health` (and the app's status line).
#[derive(Debug, Default, Clone, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Stats {
    pub received: u64,
    pub completed: u64,
    /// Generations whose client went away before the end.
    pub cancelled: u64,
    pub failed: u64,
    /// Turned away with 429 because the queue was full.
    pub rejected: u64,
    /// Admitted and not yet finished (generating or waiting).
    pub in_flight: u64,
    /// Arrival numbers of the latest finished requests, in the order they finished (the
    /// arrival-order test reads it).
    #[cfg(feature = "test-support")]
    pub finished_order: VecDeque<u64>,
}

struct AppState {
    engine: Arc<Engine>,
    config: ServerConfig,
    /// Held while a request is numbered and queued, so numbers follow queue order.
    submit: Mutex<()>,
    seq: AtomicU64,
    stats: Mutex<Stats>,
    /// A moving average of how long a request takes, in ms (what `Retry-After` is from).
    avg_ms: AtomicU64,
}

impl AppState {
    fn finish(&self, seq: u64, outcome: Outcome, started: Instant) {
        let ms = started.elapsed().as_millis() as u64;
        let avg = self.avg_ms.load(Ordering::Relaxed);
        self.avg_ms.store(if avg == 0 { ms } else { (avg * 7 + ms) / 8 }, Ordering::Relaxed);
        if let Ok(mut s) = self.stats.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
            match outcome {
                Outcome::Completed => s.completed += 1,
                Outcome::Cancelled => s.cancelled += 1,
                Outcome::Failed => s.failed += 1,
            }
            #[cfg(feature = "test-support")]
            {
                s.finished_order.push_back(seq);
                while s.finished_order.len() > 256 {
                    s.finished_order.pop_front();
                }
            }
            let _ = seq;
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Completed,
    Cancelled,
    Failed,
}

pub fn router(engine: Arc<Engine>, config: ServerConfig) -> Router {
    router_and_stats(engine, config).0
}

/// What the server has done so far, read while it runs.
#[derive(Clone)]
pub struct StatsHandle(Arc<AppState>);

impl StatsHandle {
    pub fn get(&self) -> Stats {
        self.0.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

pub fn router_and_stats(engine: Arc<Engine>, config: ServerConfig) -> (Router, StatsHandle) {
    let cors = config.cors_origins.clone();
    let state = Arc::new(AppState { engine, config, submit: Mutex::new(()), seq: AtomicU64::new(0), stats: Mutex::default(), avg_ms: AtomicU64::new(0) });
    let handle = StatsHandle(state.clone());
    let mut app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/health", get(health))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "no such endpoint", "NotFoundError", None) })
        .with_state(state);
    if !cors.is_empty() {
        let origins: Vec<HeaderValue> = cors.iter().filter_map(|o| o.parse().ok()).collect();
        app = app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    (app, handle)
}

fn api_error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    (status, Json(error_body(message, kind, code))).into_response()
}

/// Compares keys in time independent of where they differ (and of their lengths): both are
/// hashed, and the digests compared without an early exit.
fn same_key(given: &str, key: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(key.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// The refusal is the response sent: it is not carried further than the handler.
#[allow(clippy::result_large_err)]
fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(key) = &state.config.api_key else { return Ok(()) };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| same_key(g.trim(), key)) {
        Ok(())
    } else {
        Err(api_error(StatusCode::UNAUTHORIZED, "invalid or missing API key", "invalid_request_error", Some("invalid_api_key")))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return r;
    }
    let info = state.engine.info();
    Json(json!({
        "object": "list",
        "data": [{
            "id": state.config.served_model_name,
            "object": "model",
            "created": now(),
            "owned_by": "fin-r1",
            "max_model_len": info.context,
            "root": info.file_name,
        }]
    }))
    .into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let stats = state.stats.lock().map(|s| s.clone()).unwrap_or_default();
    Json(json!({ "status": "ok", "model": state.config.served_model_name, "stats": stats })).into_response()
}

async fn chat_completions(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if let Err(r) = authorized(&state, req.headers()) {
        return r;
    }
    let bytes = match to_bytes(req.into_body(), state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is over the {} byte limit", state.config.max_body_bytes),
                "invalid_request_error",
                None,
            )
        }
    };
    let body: ChatCompletionRequest = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, &format!("invalid request body: {e}"), "invalid_request_error", None),
    };
    let info = state.engine.info();
    let (request, stream, include_usage) = match to_engine_request(&state.config, info.context, info.default_sampling(), body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (seq, generation) = {
        let _queue = state.submit.lock();
        let admitted = match state.stats.lock() {
            Ok(mut s) if (s.in_flight as usize) < state.config.max_queued => {
                s.received += 1;
                s.in_flight += 1;
                true
            }
            Ok(mut s) => {
                s.rejected += 1;
                false
            }
            Err(_) => false,
        };
        if !admitted {
            return queue_full(&state);
        }
        let seq = state.seq.fetch_add(1, Ordering::SeqCst);
        (seq, state.engine.generate(request))
    };
    let id = format!("chatcmpl-{seq}-{:x}", now());
    if stream {
        stream_response(state, seq, id, generation, include_usage).into_response()
    } else {
        complete_response(state, seq, id, generation).await
    }
}

/// 429 in OpenAI's shape, with `Retry-After` from how long a request has been taking.
fn queue_full(state: &AppState) -> Response {
    let avg_s = state.avg_ms.load(Ordering::Relaxed).div_ceil(1000);
    let retry = avg_s.clamp(1, 300);
    let mut r = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("the server is busy: {} requests are already queued; retry in {retry} s", state.config.max_queued),
        "rate_limit_error",
        Some("queue_full"),
    );
    if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// A parsed request as the engine takes it, or the response refusing it: the whole of what the
/// server reads from a client's body (fuzzed in `tests/fuzz`). Returns the request, whether it
/// streams, and whether the stream ends with usage.
#[allow(clippy::result_large_err)]
pub fn to_engine_request(
    config: &ServerConfig,
    context: usize,
    model_defaults: fin_r1_engine::SamplingParams,
    body: ChatCompletionRequest,
) -> Result<(GenerationRequest, bool, bool), Response> {
    let bad = |m: String| api_error(StatusCode::BAD_REQUEST, &m, "invalid_request_error", None);
    if let Some(model) = &body.model {
        if model != &config.served_model_name {
            return Err(api_error(
                StatusCode::NOT_FOUND,
                &format!("The model `{model}` does not exist (this server serves `{}`).", config.served_model_name),
                "NotFoundError",
                Some("model_not_found"),
            ));
        }
    }
    if body.n.unwrap_or(1) != 1 {
        return Err(bad("n must be 1: this server generates one choice per request".into()));
    }
    let mut messages: Vec<ChatMessage> = Vec::with_capacity(body.messages.len());
    for m in &body.messages {
        messages.push(m.to_chat().map_err(bad)?);
    }
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(bad("messages must contain a user message".into()));
    }
    let limit = config.max_tokens_limit.min(context);
    let max_tokens = match body.max_completion_tokens.or(body.max_tokens) {
        Some(0) => return Err(bad("max_tokens must be at least 1".into())),
        Some(n) if n as usize > limit => return Err(bad(format!("max_tokens is {n}; this server allows at most {limit}"))),
        Some(n) => Some(n as usize),
        None => None,
    };
    // The request's fields are this turn's layer over the model's recommended settings (an API
    // request has no preset, user defaults or conversation).
    let turn = SamplingOverrides {
        temperature: body.temperature,
        top_p: body.top_p,
        top_k: body.top_k.map(|k| k.max(0) as usize),
        repetition_penalty: body.repetition_penalty,
        max_tokens,
        seed: body.seed,
        stop: body.stop.map(|s| s.into_vec()),
    };
    let mut model = model_defaults;
    model.max_tokens = model.max_tokens.min(limit);
    let none = SamplingOverrides::default();
    let sampling = resolve_sampling(model, None, &none, &none, &turn).map_err(|e| bad(e.to_string()))?;
    let tools = match (&body.tools, &body.tool_choice) {
        (_, Some(Value::String(c))) if c == "none" => Vec::new(),
        (Some(t), _) => crate::openai::tools_of(t).map_err(bad)?,
        (None, _) => Vec::new(),
    };
    let request = GenerationRequest {
        tools,
        messages,
        // As vLLM: no system prompt unless the client sends one (the template may add its own).
        system: Some(String::new()),
        sampling: Some(sampling),
        context_policy: ContextPolicy::Error,
        shared_prefix: None,
    };
    let include_usage = body.stream_options.map(|o| o.include_usage).unwrap_or(false);
    Ok((request, body.stream, include_usage))
}

/// Counts a generation as cancelled if its stream is dropped (client gone) before the end.
struct Watch {
    state: Arc<AppState>,
    seq: u64,
    finished: bool,
    started: Instant,
}

impl Watch {
    fn new(state: Arc<AppState>, seq: u64) -> Self {
        Self { state, seq, finished: false, started: Instant::now() }
    }

    fn done(&mut self, outcome: Outcome) {
        if !self.finished {
            self.finished = true;
            self.state.finish(self.seq, outcome, self.started);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.done(Outcome::Cancelled);
    }
}

fn chunk(id: &str, model: &str, created: u64, delta: Value, finish: Option<&str>) -> Event {
    let v = json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{ "index": 0, "delta": delta, "logprobs": Value::Null, "finish_reason": finish }],
    });
    Event::default().data(v.to_string())
}

/// A piece of the reasoning under both names: `reasoning`, which vLLM 0.16 and later send (and
/// current clients read), and `reasoning_content`, which older vLLM sent and older clients read.
fn reasoning_delta(text: String) -> Value {
    json!({ "reasoning": text.clone(), "reasoning_content": text })
}

fn usage_json(u: &fin_r1_engine::Usage) -> Value {
    let completion = u.reasoning_tokens + u.answer_tokens;
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": u.prompt_tokens + completion,
        "completion_tokens_details": { "reasoning_tokens": u.reasoning_tokens },
        "prompt_tokens_details": { "cached_tokens": u.cached_prompt_tokens },
    })
}

fn error_status(kind: ErrorKind) -> (StatusCode, &'static str, Option<&'static str>) {
    match kind {
        ErrorKind::PromptTooLong => (StatusCode::BAD_REQUEST, "invalid_request_error", Some("context_length_exceeded")),
        ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
    }
}

struct StreamState {
    generation: Generation,
    watch: Watch,
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    pending: VecDeque<Event>,
    ended: bool,
    /// Tool calls sent so far (their `index`).
    calls: usize,
}

fn stream_response(
    state: Arc<AppState>,
    seq: u64,
    id: String,
    generation: Generation,
    include_usage: bool,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let model = state.config.served_model_name.clone();
    let created = now();
    let mut pending = VecDeque::new();
    pending.push_back(chunk(&id, &model, created, json!({ "role": "assistant", "content": "" }), None));
    let st = StreamState { generation, watch: Watch::new(state, seq), id, model, created, include_usage, pending, ended: false, calls: 0 };
    let s = stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.ended {
                return None;
            }
            let (id, model, created) = (st.id.clone(), st.model.clone(), st.created);
            match st.generation.next().await {
                Some(GenerationEvent::Reasoning { text }) => st.pending.push_back(chunk(&id, &model, created, reasoning_delta(text), None)),
                Some(GenerationEvent::Answer { text }) | Some(GenerationEvent::ToolCallMalformed { text, .. }) => {
                    st.pending.push_back(chunk(&id, &model, created, json!({ "content": text }), None))
                }
                Some(GenerationEvent::ToolCall(c)) => {
                    let mut call = tool_call_json(&c);
                    call["index"] = json!(st.calls);
                    st.calls += 1;
                    st.pending.push_back(chunk(&id, &model, created, json!({ "tool_calls": [call] }), None));
                }
                // The server runs no tools: the client does, and sends their results back.
                Some(GenerationEvent::ToolResult(_)) => {}
                // OpenAI's stream has no progress of its own.
                Some(GenerationEvent::Prefill { .. }) => {}
                Some(GenerationEvent::Usage(u)) => {
                    if st.include_usage {
                        let v = json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": usage_json(&u),
                        });
                        st.pending.push_back(Event::default().data(v.to_string()));
                    }
                }
                Some(GenerationEvent::Done(d)) => {
                    // The finish chunk goes before the usage chunk, as OpenAI orders them.
                    let reason = if st.calls > 0 && d.reason == fin_r1_engine::StopReason::End { "tool_calls" } else { finish_reason(d.reason) };
                    let fin = chunk(&id, &model, created, json!({}), Some(reason));
                    st.pending.push_front(fin);
                    st.pending.push_back(Event::default().data("[DONE]"));
                    st.watch.done(Outcome::Completed);
                    st.ended = true;
                }
                Some(GenerationEvent::Error { kind, message }) => {
                    let (_, t, code) = error_status(kind);
                    st.pending.push_back(Event::default().data(error_body(&message, t, code).to_string()));
                    st.pending.push_back(Event::default().data("[DONE]"));
                    st.watch.done(Outcome::Failed);
                    st.ended = true;
                }
                None => {
                    st.watch.done(Outcome::Failed);
                    st.ended = true;
                }
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}

async fn complete_response(state: Arc<AppState>, seq: u64, id: String, mut generation: Generation) -> Response {
    let mut watch = Watch::new(state.clone(), seq);
    let (mut reasoning, mut answer) = (String::new(), String::new());
    let mut usage = fin_r1_engine::Usage::default();
    let mut finish = "stop";
    let mut calls: Vec<Value> = Vec::new();
    while let Some(ev) = generation.next().await {
        match ev {
            GenerationEvent::Reasoning { text } => reasoning.push_str(&text),
            GenerationEvent::Answer { text } | GenerationEvent::ToolCallMalformed { text, .. } => answer.push_str(&text),
            GenerationEvent::ToolCall(c) => calls.push(tool_call_json(&c)),
            GenerationEvent::ToolResult(_) | GenerationEvent::Prefill { .. } => {}
            GenerationEvent::Usage(u) => usage = u,
            GenerationEvent::Done(d) => {
                finish = if !calls.is_empty() && d.reason == fin_r1_engine::StopReason::End { "tool_calls" } else { finish_reason(d.reason) };
            }
            GenerationEvent::Error { kind, message } => {
                watch.done(Outcome::Failed);
                let (status, t, code) = error_status(kind);
                return api_error(status, &message, t, code);
            }
        }
    }
    watch.done(Outcome::Completed);
    let mut message = json!({ "role": "assistant", "content": answer });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        message["reasoning"] = Value::String(reasoning.clone());
        message["reasoning_content"] = Value::String(reasoning);
    }
    Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": state.config.served_model_name,
        "choices": [{ "index": 0, "message": message, "logprobs": Value::Null, "finish_reason": finish }],
        "usage": usage_json(&usage),
    }))
    .into_response()
}

/// Serves until the listener fails or `shutdown` resolves.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// A server started from the app: where it listens, what it has done, and how to stop it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub stats: StatsHandle,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `host:port` and serves `engine` in the background.
pub async fn start(engine: Arc<Engine>, config: ServerConfig, host: &str, port: u16) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    let (app, stats) = router_and_stats(engine, config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, async {
        let _ = rx.await;
    }));
    Ok(Running { addr, stats, shutdown: Some(tx), task })
}

impl Running {
    /// False once the server stopped on its own (its listener failed).
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops taking requests; those in flight finish (at most a few seconds are waited for).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

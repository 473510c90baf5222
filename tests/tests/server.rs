//! `fin-r1 serve` as other tools use it (the official `openai` Python client, the remote
//! engine), and the remote engine against a real third-party server (llama-cpp-python's).
//! Everything listens on loopback only. Python comes from `$FIN_R1_PYTHON`, the environment
//! `scripts/setup-python.sh` makes (openai, llama-cpp-python[server]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fin_r1_core::remote::{RemoteConfig, RemoteEngine};
use fin_r1_engine::{ChatMessage, GenerationEvent, GenerationRequest, SamplingParams, StopReason};
use fin_r1_tests::serve::{serve, Server};
use fin_r1_tests::{fixture, tiny_qwen2, TinySpec, SMOLLM2_FILE, THINKING_SCRIPT};
use serde_json::{json, Value};

const REASONING: &str = "Discount the cash flow twice at five percent";
const ANSWER: &str = "The present value is about $907";

fn python() -> PathBuf {
    let p = std::env::var_os("FIN_R1_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/fin-r1/venv/bin/python")
    });
    assert!(p.is_file(), "{} is missing: run scripts/setup-python.sh (or set FIN_R1_PYTHON)", p.display());
    p
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn greedy(max_tokens: usize) -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens, seed: Some(1), ..SamplingParams::default() }
}

fn ask(q: &str, max_tokens: usize) -> GenerationRequest {
    GenerationRequest {
        tools: Vec::new(),
        messages: vec![ChatMessage::user(q)],
        system: Some(String::new()),
        sampling: Some(greedy(max_tokens)),
        ..Default::default()
    }
}

/// (reasoning, answer, usage, done or error)
fn collect(engine: &RemoteEngine, req: GenerationRequest) -> (String, String, Option<fin_r1_engine::Usage>, GenerationEvent) {
    let mut g = engine.generate(req, &SamplingParams::default());
    let (mut r, mut a, mut u) = (String::new(), String::new(), None);
    while let Some(ev) = g.blocking_next() {
        match ev {
            GenerationEvent::Reasoning { text } => r.push_str(&text),
            GenerationEvent::Answer { text } => a.push_str(&text),
            GenerationEvent::Usage(x) => u = Some(x),
            GenerationEvent::Prefill { .. } => {}
            other @ (GenerationEvent::ToolCall(_) | GenerationEvent::ToolCallMalformed { .. } | GenerationEvent::ToolResult(_)) => {
                panic!("no tools were offered: {other:?}")
            }
            last @ (GenerationEvent::Done(_) | GenerationEvent::Error { .. }) => return (r, a, u, last),
        }
    }
    panic!("the stream ended without done or error");
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().expect("client")
}

fn health(base: &str) -> Value {
    let root = base.trim_end_matches("/v1");
    http().get(format!("{root}/health")).send().expect("health").json().expect("json")
}

#[test]
fn openai_python_client_gets_reasoning_apart_from_content() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let server = serve(&model, &["--api-key", "sekret"]);
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/openai_client_check.py"))
        .args([&server.base, "sekret", "Fin-R1"])
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(seen["content"], ANSWER, "{seen}");
    assert_eq!(seen["reasoning_content"], REASONING, "{seen}");
    assert_eq!(seen["stream_content"], ANSWER, "{seen}");
    assert_eq!(seen["stream_reasoning"], REASONING, "{seen}");
    assert_eq!(seen["stream_finish"], "stop");
    assert!(seen["stream_usage_completion"].as_u64().unwrap_or(0) > 0, "{seen}");
    assert_eq!(seen["bad_key"], 401);
    assert_eq!(seen["n2"], 400);
}

/// The reasoning under both names, streamed and not: `reasoning` (what vLLM 0.16 and later send,
/// and current clients read) and `reasoning_content` (what older vLLM sent and older clients read).
#[test]
fn the_reasoning_travels_as_reasoning_and_as_reasoning_content() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let server = serve(&model, &[]);
    let url = format!("{}/chat/completions", server.base);
    let question = json!([{"role": "user", "content": "PV of $1,000 in 2 years at 5%?"}]);
    let ask = |stream: bool| json!({"model": "Fin-R1", "temperature": 0, "max_tokens": 200, "stream": stream, "messages": question});
    let r: Value = http().post(&url).json(&ask(false)).send().expect("send").json().expect("json");
    let message = &r["choices"][0]["message"];
    assert_eq!(message["reasoning"], REASONING, "{r}");
    assert_eq!(message["reasoning_content"], REASONING, "{r}");
    assert_eq!(message["content"], ANSWER, "{r}");

    let text = http().post(&url).json(&ask(true)).send().expect("send").text().expect("body");
    let (mut reasoning, mut reasoning_content, mut content) = (String::new(), String::new(), String::new());
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|l| *l != "[DONE]") {
        let v: Value = serde_json::from_str(line).expect("chunk");
        let delta = &v["choices"][0]["delta"];
        assert_eq!(delta.get("reasoning"), delta.get("reasoning_content"), "one piece under both names: {delta}");
        reasoning.push_str(delta["reasoning"].as_str().unwrap_or(""));
        reasoning_content.push_str(delta["reasoning_content"].as_str().unwrap_or(""));
        content.push_str(delta["content"].as_str().unwrap_or(""));
    }
    assert_eq!((reasoning.as_str(), reasoning_content.as_str(), content.as_str()), (REASONING, REASONING, ANSWER), "{text}");
}

#[test]
fn remote_engine_against_fin_r1_serve_streams_reasoning_events() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let server = serve(&model, &["--api-key", "k1"]);
    let rt = runtime();
    let mut config = RemoteConfig::new(&server.base, "Fin-R1");
    config.api_key = Some("k1".into());
    let engine = RemoteEngine::new(config.clone(), rt.handle().clone()).expect("remote");
    let (reasoning, answer, usage, last) = collect(&engine, ask("PV of $1,000 in 2 years at 5%?", 200));
    assert_eq!(reasoning, REASONING);
    assert_eq!(answer, ANSWER);
    assert!(matches!(last, GenerationEvent::Done(ref d) if d.reason == StopReason::End), "{last:?}");
    let usage = usage.expect("usage");
    assert!(usage.reasoning_tokens > 0 && usage.answer_tokens > 0 && usage.prompt_tokens > 0, "{usage:?}");

    // A wrong key and a wrong model name are clear errors, not hangs.
    config.api_key = Some("wrong".into());
    let bad = RemoteEngine::new(config.clone(), rt.handle().clone()).expect("remote");
    let (_, _, _, last) = collect(&bad, ask("PV?", 10));
    assert!(matches!(&last, GenerationEvent::Error { kind, message } if kind == "unauthorized" && !message.contains("wrong")), "{last:?}");
    config.api_key = Some("k1".into());
    config.model = "Other".into();
    let other = RemoteEngine::new(config, rt.handle().clone()).expect("remote");
    let (_, _, _, last) = collect(&other, ask("PV?", 10));
    assert!(matches!(&last, GenerationEvent::Error { kind, .. } if kind == "not_found"), "{last:?}");
}

#[test]
fn remote_engine_reports_a_dead_server() {
    let rt = runtime();
    // Bind then drop a listener: the port is (almost certainly) closed now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut config = RemoteConfig::new(format!("http://127.0.0.1:{port}/v1"), "Fin-R1");
    config.connect_attempts = 2;
    let engine = RemoteEngine::new(config, rt.handle().clone()).expect("remote");
    let (_, _, _, last) = collect(&engine, ask("PV?", 10));
    assert!(matches!(&last, GenerationEvent::Error { kind, message } if kind == "remote_unreachable" && message.contains("cannot reach")), "{last:?}");
}

/// The remote engine checks sampling with the same ranges as the local one, before anything is
/// sent (it once forwarded any value to the server unchecked).
#[test]
fn remote_engine_refuses_sampling_out_of_range_before_sending() {
    let rt = runtime();
    // Nothing listens here: a request that were sent would fail as unreachable instead.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let engine = RemoteEngine::new(RemoteConfig::new(format!("http://127.0.0.1:{port}/v1"), "Fin-R1"), rt.handle().clone()).expect("remote");
    let mut req = ask("PV?", 10);
    req.sampling = Some(SamplingParams { temperature: 7.5, ..greedy(10) });
    let (_, _, _, last) = collect(&engine, req);
    assert!(matches!(&last, GenerationEvent::Error { kind, message } if kind == "invalid_request" && message.contains("temperature")), "{last:?}");
}

/// When a third-party process dies, the test says so in words (and with its last stderr lines)
/// instead of failing later on a symptom such as "error decoding response body".
fn third_party_state(server: &mut Server, name: &str, log: &Path) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let status = server.child.try_wait().ok().flatten()?;
    let how = match status.signal() {
        Some(11) => "crashed with SIGSEGV (a build for another CPU? see scripts/setup-python.sh)".to_owned(),
        Some(4) => "crashed with SIGILL: built for instructions this CPU lacks (see scripts/setup-python.sh)".to_owned(),
        Some(sig) => format!("was killed by signal {sig}"),
        None => format!("exited with {status}"),
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
    Some(format!("the third-party {name} {how}; its last stderr lines:\n{}", tail.join("\n")))
}

#[test]
fn remote_engine_against_llama_cpp_server() {
    let smol = fixture(SMOLLM2_FILE);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let log = fin_r1_tests::scratch_dir().join("llama-cpp-server.log");
    let child = Command::new(python())
        .args(["-m", "llama_cpp.server", "--host", "127.0.0.1", "--port", &port.to_string(), "--n_ctx", "2048", "--model"])
        .arg(&smol)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start llama_cpp.server");
    let mut server = Server { child, base: format!("http://127.0.0.1:{port}/v1") };
    let deadline = Instant::now() + Duration::from_secs(120);
    while http().get(format!("{}/models", server.base)).send().map(|r| !r.status().is_success()).unwrap_or(true) {
        if let Some(dead) = third_party_state(&mut server, "llama_cpp.server", &log) {
            panic!("{dead}");
        }
        assert!(Instant::now() < deadline, "llama_cpp.server did not come up");
        std::thread::sleep(Duration::from_millis(300));
    }
    let rt = runtime();
    let engine = RemoteEngine::new(RemoteConfig::new(&server.base, "smollm2"), rt.handle().clone()).expect("remote");
    let (reasoning, answer, usage, last) = collect(&engine, ask("What is the present value of $1,000 received in 2 years at a 5% annual discount rate?", 24));
    if !matches!(last, GenerationEvent::Done(_)) {
        // Give a dying server a moment to be reaped, so a crash is named as one.
        std::thread::sleep(Duration::from_millis(500));
        if let Some(dead) = third_party_state(&mut server, "llama_cpp.server", &log) {
            panic!("{dead}\n(the remote engine reported: {last:?})");
        }
    }
    assert!(matches!(last, GenerationEvent::Done(_)), "{last:?}");
    assert!(reasoning.is_empty(), "SmolLM2 does not think: {reasoning:?}");
    assert!(answer.split_whitespace().count() >= 5, "{answer:?}");
    assert!(usage.expect("usage").answer_tokens > 0);
}

#[test]
fn a_client_that_disconnects_frees_the_engine() {
    let model = tiny_qwen2(&TinySpec::default());
    let server = serve(&model, &[]);
    let body = json!({"model": "Fin-R1", "stream": true, "max_tokens": 100000, "temperature": 1.0,
                      "messages": [{"role": "user", "content": "Write a very long report."}]});
    // max_tokens above the context is refused up front.
    let r = http().post(format!("{}/chat/completions", server.base)).json(&body).send().expect("send");
    assert_eq!(r.status(), 400);
    let ctx = http().get(format!("{}/models", server.base)).send().expect("models").json::<Value>().expect("json")["data"][0]["max_model_len"]
        .as_u64()
        .expect("max_model_len");
    // Seeded, so whether this random model happens to sample its end token early is settled
    // once, not anew on every run.
    let body = json!({"model": "Fin-R1", "stream": true, "max_tokens": ctx - 64, "temperature": 1.0, "top_k": 0, "seed": 7,
                      "messages": [{"role": "user", "content": "Write a very long report."}]});
    let mut r = http().post(format!("{}/chat/completions", server.base)).json(&body).send().expect("send");
    let mut first = [0u8; 64];
    std::io::Read::read(&mut r, &mut first).expect("first bytes");
    drop(r);
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(&server.base)["stats"]["cancelled"] != 1 {
        assert!(Instant::now() < deadline, "the generation was not cancelled: {}", health(&server.base));
        std::thread::sleep(Duration::from_millis(100));
    }
    let r: Value = http()
        .post(format!("{}/chat/completions", server.base))
        .json(&json!({"model": "Fin-R1", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .expect("send")
        .json()
        .expect("json");
    assert_eq!(r["choices"][0]["finish_reason"], "length", "{r}");
    assert_eq!(health(&server.base)["stats"]["completed"], 1);
}

#[test]
fn eight_concurrent_clients_are_answered_in_order() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let server = serve(&model, &[]);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let url = format!("{}/chat/completions", server.base);
            std::thread::spawn(move || {
                let body = json!({"model": "Fin-R1", "temperature": 0, "seed": i, "stream": i % 2 == 0,
                                  "messages": [{"role": "user", "content": format!("Question {i}: PV of $1,000?")}]});
                let r = http().post(url).json(&body).send().expect("send");
                assert!(r.status().is_success(), "{}", r.status());
                let text = r.text().expect("body");
                if i % 2 == 0 {
                    let mut content = String::new();
                    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
                        if line != "[DONE]" {
                            let v: Value = serde_json::from_str(line).expect("chunk");
                            content.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
                        }
                    }
                    assert!(text.trim_end().ends_with("data: [DONE]"));
                    content
                } else {
                    let v: Value = serde_json::from_str(&text).expect("json");
                    v["choices"][0]["message"]["content"].as_str().expect("content").to_owned()
                }
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("client"), ANSWER);
    }
    let h = health(&server.base);
    assert_eq!(h["stats"]["completed"], 8, "{h}");
    let order: Vec<u64> = h["stats"]["finished_order"].as_array().expect("order").iter().map(|v| v.as_u64().expect("n")).collect();
    assert_eq!(order, (0..8).collect::<Vec<_>>(), "requests finished out of arrival order");
}

/// The queue is bounded: past `--max-queued` a request is answered at once with 429, a
/// `Retry-After` and OpenAI's error shape (it once queued without end); when the queue drains,
/// requests are admitted again.
#[test]
fn a_full_queue_answers_429_with_retry_after() {
    let model = tiny_qwen2(&TinySpec::default());
    let server = serve(&model, &["--max-queued", "1"]);
    let long = json!({"model": "Fin-R1", "stream": true, "max_tokens": 3000, "temperature": 1.0, "top_k": 0, "seed": 7,
                      "messages": [{"role": "user", "content": "Write a very long report."}]});
    let mut first = http().post(format!("{}/chat/completions", server.base)).json(&long).send().expect("send");
    assert!(first.status().is_success());
    let mut buf = [0u8; 64];
    std::io::Read::read(&mut first, &mut buf).expect("first bytes");

    let r = http()
        .post(format!("{}/chat/completions", server.base))
        .json(&json!({"model": "Fin-R1", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .expect("send");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers().get("retry-after").expect("Retry-After").to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=300).contains(&retry), "{retry}");
    let body: Value = r.json().expect("json");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(body["error"]["code"], "queue_full", "{body}");
    assert_eq!(health(&server.base)["stats"]["rejected"], 1);

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(&server.base)["stats"]["in_flight"] != 0 {
        assert!(Instant::now() < deadline, "the dropped request never left the queue: {}", health(&server.base));
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = http()
        .post(format!("{}/chat/completions", server.base))
        .json(&json!({"model": "Fin-R1", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .expect("send");
    assert!(r.status().is_success(), "{}", r.status());
}

//! Issue 28's tool loop with a tiny scripted model that calls the calculator (`3*9`) and, once
//! its template shows it the result, answers "The product is 27": through the engine, the
//! conversation runner (`fin-r1 chat --tool calculator`), the OpenAI-compatible server (tools in,
//! `tool_calls` out, streamed and not), and a remote engine (the runner as the server's client).
//! Also: the loop limit for a model that never stops calling, and a malformed call shown as
//! text with a note.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fin_r1_engine::{ChatMessage, Engine, GenerationEvent, GenerationRequest, LoadOptions, SamplingParams};
use fin_r1_tests::{fin_r1_bin, scratch_dir, tiny_qwen2, tool_caller, TinySpec, TOOL_SCRIPT};
use serde_json::{json, Value};

fn greedy() -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens: 64, ..SamplingParams::default() }
}

fn data_dir(name: &str) -> std::path::PathBuf {
    let d = scratch_dir().join(format!("tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn calculator_specs() -> Vec<fin_r1_engine::ToolSpec> {
    fin_r1_calc::tool::specs().into_iter().map(|v| serde_json::from_value(v).expect("spec")).collect()
}

#[test]
fn the_engine_streams_a_tool_call_as_its_own_event() {
    let engine = Engine::load(&tiny_qwen2(&tool_caller()), LoadOptions::default()).expect("load");
    let req = GenerationRequest {
        messages: vec![ChatMessage::user("What is 3 times 9?")],
        system: Some(String::new()),
        sampling: Some(greedy()),
        tools: calculator_specs(),
        ..Default::default()
    };
    let mut g = engine.generate(req);
    let mut events = Vec::new();
    while let Some(ev) = g.blocking_next() {
        events.push(ev);
    }
    let calls: Vec<_> = events.iter().filter_map(|e| if let GenerationEvent::ToolCall(c) = e { Some(c.clone()) } else { None }).collect();
    assert_eq!(calls.len(), 1, "{events:?}");
    assert_eq!(calls[0].name, "calculate");
    assert_eq!(calls[0].arguments, json!({"expression": "3*9"}));
    let reasoning: String = events.iter().filter_map(|e| if let GenerationEvent::Reasoning { text } = e { Some(text.as_str()) } else { None }).collect();
    assert_eq!(reasoning, "Use the calculator");
    assert!(!events.iter().any(|e| matches!(e, GenerationEvent::Answer { .. })), "the call is not answer text: {events:?}");
    assert!(matches!(events.last(), Some(GenerationEvent::Done(_))));

    // The result goes back as a tool message; the model answers with it.
    let mut turn = ChatMessage::assistant("", None);
    turn.tool_calls = calls;
    let result = fin_r1_calc::tool::call("calculate", &json!({"expression": "3*9"})).expect("calculator");
    let req = GenerationRequest {
        messages: vec![ChatMessage::user("What is 3 times 9?"), turn, ChatMessage::tool("call_1", result.to_string())],
        system: Some(String::new()),
        sampling: Some(greedy()),
        tools: calculator_specs(),
        ..Default::default()
    };
    let mut g = engine.generate(req);
    let mut answer = String::new();
    while let Some(ev) = g.blocking_next() {
        if let GenerationEvent::Answer { text } = ev {
            answer.push_str(&text);
        }
    }
    assert_eq!(answer, "The product is 27");
}

/// `fin-r1 chat --json` events of one question, as JSON values.
fn chat_json(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = Command::new(fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "64", "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn stored_calls(data: &Path) -> Vec<(String, String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let (store, _) = fin_r1_core::store::Store::open(data).await.expect("store");
        let c = store.list_conversations(10).await.expect("list");
        let calls = store.conversation_tool_calls(c[0].conversation.id).await.expect("calls");
        store.close().await;
        calls.into_iter().map(|c| (c.call.name, c.result.content, format!("{:?}", c.result.status))).collect()
    })
}

#[test]
fn the_runner_runs_the_calculator_and_the_model_answers_with_its_result() {
    let model = tiny_qwen2(&tool_caller());
    let data = data_dir("runner");
    let events = chat_json(&data, &["--model", &model.to_string_lossy(), "--tool", "calculator", "What is 3 times 9?"]);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).filter(|k| *k != "prefill").collect();
    let call = events.iter().find(|e| e["type"] == "tool_call").expect("a tool_call event");
    assert_eq!(call["name"], "calculate");
    let result = events.iter().find(|e| e["type"] == "tool_result").expect("a tool_result event");
    assert_eq!(result["status"], "done");
    assert_eq!(result["source"], "calculator");
    assert_eq!(serde_json::from_str::<Value>(result["content"].as_str().expect("content")).expect("json")["result"], "27");
    let answer: String = events.iter().filter(|e| e["type"] == "answer").filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(answer, "The product is 27");
    // The figures are the turn's: the last usage counts both rounds' tokens (3 reasoning; 17
    // answer tokens for the call, 6 for the answer).
    let usage = events.iter().rev().find(|e| e["type"] == "usage").expect("usage");
    assert_eq!((usage["reasoning_tokens"].as_u64(), usage["answer_tokens"].as_u64()), (Some(3), Some(23)), "{usage}");
    // One `done`, at the end: the rounds in between are not the turn's end.
    assert_eq!(kinds.iter().filter(|k| **k == "done").count(), 1, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(stored_calls(&data), vec![("calculate".into(), "{\"expression\":\"3*9\",\"result\":\"27\"}".into(), "Done".into())]);
    // The report lists the call.
    let md = fin_r1_tests::export_latest_markdown(&data);
    assert!(md.contains("calculate") && md.contains("\"result\":\"27\""), "{md}");
    // The conversation file carries it (version 3) and imports it back.
    let file = fin_r1_tests::export_latest(&data, "json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    assert_eq!(json["version"], 3);
    let other = data_dir("runner-imported");
    let out = Command::new(fin_r1_bin()).arg("import").arg(&file).arg("--data-dir").arg(&other).output().expect("import");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stored_calls(&other), stored_calls(&data));

    // Without a tool offered, a `<tool_call>` is only text the model wrote: nothing runs, no
    // loop, no crash.
    let data = data_dir("runner-no-tool");
    let events = chat_json(&data, &["--model", &model.to_string_lossy(), "What is 3 times 9?"]);
    assert!(!events.iter().any(|e| e["type"] == "tool_call" || e["type"] == "tool_result"));
    let answer: String = events.iter().filter(|e| e["type"] == "answer").filter_map(|e| e["text"].as_str()).collect();
    assert!(answer.starts_with("<tool_call>{\"name\":\"calculate\""), "{answer}");
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(json!("done")));
}

#[test]
fn a_model_that_never_stops_calling_is_stopped_at_the_loop_limit() {
    // Always calls: its template opens the reasoning after a result too.
    let model = tiny_qwen2(&TinySpec { name: "tiny-qwen2-tools-loop".into(), script: Some(TOOL_SCRIPT.into()), ..TinySpec::thinking(TOOL_SCRIPT) });
    let data = data_dir("loop");
    let events = chat_json(&data, &["--model", &model.to_string_lossy(), "--tool", "calculator", "What is 3 times 9?"]);
    let results: Vec<&Value> = events.iter().filter(|e| e["type"] == "tool_result").collect();
    assert_eq!(results.len(), fin_r1_core::tools::MAX_ROUNDS, "{events:?}");
    assert!(results.iter().all(|r| r["status"] == "done"));
    // Ids are the turn's own, not each round's.
    let ids: std::collections::BTreeSet<&str> = results.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), fin_r1_core::tools::MAX_ROUNDS, "{ids:?}");
    // The last round offered no tools: the model's call there is only its text.
    let answer: String = events.iter().filter(|e| e["type"] == "answer").filter_map(|e| e["text"].as_str()).collect();
    assert!(answer.starts_with("<tool_call>"), "{answer}");
    assert_eq!(events.iter().filter(|e| e["type"] == "tool_call").count(), fin_r1_core::tools::MAX_ROUNDS);
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(json!("done")));
    assert_eq!(stored_calls(&data).len(), fin_r1_core::tools::MAX_ROUNDS);
}

#[test]
fn a_malformed_tool_call_is_shown_as_text_with_a_note() {
    let script = "Try</think><tool_call>{\"name\": calculate}</tool_call>";
    let model = tiny_qwen2(&TinySpec { name: "tiny-qwen2-bad-call".into(), ..TinySpec::thinking(script) });
    let data = data_dir("malformed");
    let events = chat_json(&data, &["--model", &model.to_string_lossy(), "--tool", "calculator", "What is 3 times 9?"]);
    let bad = events.iter().find(|e| e["type"] == "tool_call_malformed").expect("a malformed call event");
    assert_eq!(bad["text"], "<tool_call>{\"name\": calculate}</tool_call>");
    assert!(bad["reason"].as_str().is_some_and(|r| r.starts_with("not JSON")), "{bad}");
    assert!(!events.iter().any(|e| e["type"] == "tool_result"), "nothing runs");
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(json!("done")));
    let shown = Command::new(fin_r1_bin()).args(["conversations", "show", "latest", "--data-dir"]).arg(&data).output().expect("show");
    assert!(String::from_utf8_lossy(&shown.stdout).contains("<tool_call>{\"name\": calculate}</tool_call>"), "kept as the answer's text");
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().expect("client")
}

#[test]
fn the_api_server_takes_tools_and_returns_tool_calls_then_reads_the_result() {
    let model = tiny_qwen2(&tool_caller());
    let server = fin_r1_tests::serve::serve(&model, &[]);
    let tools: Vec<Value> = fin_r1_calc::tool::specs().into_iter().map(|f| json!({"type": "function", "function": f})).collect();
    let first = json!({"model": "Fin-R1", "temperature": 0, "max_tokens": 64, "tools": tools, "messages": [{"role": "user", "content": "What is 3 times 9?"}]});
    let r: Value = http().post(format!("{}/chat/completions", server.base)).json(&first).send().expect("post").json().expect("json");
    let choice = &r["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{r}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "calculate");
    assert_eq!(serde_json::from_str::<Value>(call["function"]["arguments"].as_str().expect("arguments as text")).expect("json"), json!({"expression": "3*9"}));
    assert_eq!(choice["message"]["reasoning_content"], "Use the calculator");

    // Streamed: the call arrives in a delta.
    let mut streamed = first.clone();
    streamed["stream"] = json!(true);
    let body = http().post(format!("{}/chat/completions", server.base)).json(&streamed).send().expect("post").text().expect("text");
    let deltas: Vec<Value> =
        body.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).expect("chunk")).collect();
    assert!(deltas.iter().any(|d| d["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "calculate"), "{body}");
    assert!(deltas.iter().any(|d| d["choices"][0]["finish_reason"] == "tool_calls"), "{body}");

    // The client runs the tool and sends its result back.
    let second = json!({"model": "Fin-R1", "temperature": 0, "max_tokens": 64, "tools": tools, "messages": [
        {"role": "user", "content": "What is 3 times 9?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "{\"result\": \"27\"}"},
    ]});
    let r: Value = http().post(format!("{}/chat/completions", server.base)).json(&second).send().expect("post").json().expect("json");
    assert_eq!(r["choices"][0]["message"]["content"], "The product is 27", "{r}");
    assert_eq!(r["choices"][0]["finish_reason"], "stop");

    // A malformed tool list is the client's error.
    let bad = json!({"model": "Fin-R1", "tools": [{"type": "function"}], "messages": [{"role": "user", "content": "x"}]});
    let resp = http().post(format!("{}/chat/completions", server.base)).json(&bad).send().expect("post");
    assert_eq!(resp.status(), 400);
}

#[test]
fn a_remote_engine_gets_tool_calls_from_the_server_and_the_runner_runs_them() {
    let model = tiny_qwen2(&tool_caller());
    let server = fin_r1_tests::serve::serve(&model, &[]);
    let data = data_dir("remote");
    let events = chat_json(&data, &["--remote", &server.base, "--remote-model", "Fin-R1", "--tool", "calculator", "What is 3 times 9?"]);
    let result = events.iter().find(|e| e["type"] == "tool_result").expect("the calculator ran");
    assert_eq!(result["status"], "done");
    let answer: String = events.iter().filter(|e| e["type"] == "answer").filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(answer, "The product is 27");
    assert_eq!(stored_calls(&data).len(), 1);
    assert!(events.iter().all(|e| e["type"] != "error"), "{events:?}");
}

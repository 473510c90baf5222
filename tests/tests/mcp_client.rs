//! Issue 28's MCP client against real third-party servers from the npm registry
//! (`@modelcontextprotocol/server-everything`, `server-filesystem`; scripts/fetch-fixtures.sh
//! installs them): stdio and streamable HTTP, the `mcpServers` file other apps write, the
//! analyst's approval (once, always, no, no one to ask), a call's timeout, and the call stored
//! with the answer. The model is the tiny scripted one that calls `everything__echo`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fin_r1_core::backend::Backend;
use fin_r1_core::mcp::{McpConfig, McpError, McpHub, McpServer};
use fin_r1_core::runner::{Runner, TurnRequest, TurnSink, TurnStarted};
use fin_r1_core::store::Store;
use fin_r1_core::tools::{Approval, ApprovalRequest};
use fin_r1_engine::{Engine, GenerationEvent, LoadOptions, ToolCall, ToolStatus};
use fin_r1_tests::{mcp_caller, mcp_server_script, scratch_dir, tiny_qwen2};
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn data_dir(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("mcp-client-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("data dir");
    d
}

fn node() -> String {
    std::env::var("FIN_R1_NODE").unwrap_or_else(|_| "node".into())
}

/// server-everything over stdio, as a Claude Desktop config names it.
fn everything_stdio() -> McpServer {
    McpServer { command: Some(node()), args: vec![mcp_server_script("everything").to_string_lossy().into_owned(), "stdio".into()], ..McpServer::default() }
}

fn write_config(dir: &Path, servers: &[(&str, McpServer)]) -> McpHub {
    let mut config = McpConfig::default();
    for (name, s) in servers {
        config.servers.insert((*name).into(), s.clone());
    }
    let hub = McpHub::new(dir);
    config.save(hub.path()).expect("save");
    hub
}

fn call(name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall { id: "call_1".into(), name: name.into(), arguments }
}

#[test]
fn an_existing_claude_desktop_file_is_read_and_its_other_keys_survive_a_save() {
    let dir = data_dir("file");
    let text = r#"{
      "globalShortcut": "Ctrl+Space",
      "mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"A": "1"}, "autoApprove": []},
        "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer x"}},
        "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
        "both": {"command": "x", "url": "http://127.0.0.1:9/"},
        "ftp": {"url": "ftp://example.com/"},
        "off": {"command": "x", "disabled": true}
      }
    }"#;
    let config = McpConfig::parse(text).expect("parse");
    assert_eq!(config.servers["filesystem"].args[2], "/tmp");
    assert_eq!(config.enabled(), vec!["both", "filesystem", "ftp", "old", "remote"]);
    let problems = config.problems().join("\n");
    assert!(problems.contains("old: the SSE transport is not supported"), "{problems}");
    assert!(problems.contains("both: has both `command` and `url`"), "{problems}");
    assert!(problems.contains("ftp: url \"ftp://example.com/\" is not http:// or https://"), "{problems}");
    assert!(!problems.contains("filesystem") && !problems.contains("remote:"), "{problems}");

    let path = dir.join("mcp.json");
    config.save(&path).expect("save");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(saved["globalShortcut"], "Ctrl+Space", "{saved}");
    assert_eq!(saved["mcpServers"]["filesystem"]["autoApprove"], json!([]), "{saved}");
    assert_eq!(McpConfig::load(&path).expect("reload"), config);
}

#[test]
fn a_hostile_configuration_is_refused_with_a_reason() {
    let dir = data_dir("hostile");
    let path = dir.join("mcp.json");
    // Larger than any real configuration.
    std::fs::write(&path, format!("{{\"mcpServers\": {{}}, \"pad\": \"{}\"}}", "x".repeat(300 * 1024))).expect("write");
    assert!(matches!(McpConfig::load(&path), Err(McpError::TooLarge { .. })));
    // Not text, not JSON, not the shape.
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x7b]).expect("write");
    assert!(matches!(McpConfig::load(&path), Err(McpError::Json(_))));
    std::fs::write(&path, "{\"mcpServers\": [1, 2]}").expect("write");
    assert!(matches!(McpConfig::load(&path), Err(McpError::Json(_))));
    // Too many servers: the first ones are used, and the file says so.
    let many: serde_json::Map<String, serde_json::Value> = (0..40).map(|i| (format!("s{i:02}"), json!({"command": "true"}))).collect();
    let config = McpConfig::parse(&json!({ "mcpServers": many }).to_string()).expect("parse");
    assert_eq!(config.enabled().len(), fin_r1_core::mcp::MAX_SERVERS);
    assert!(config.problems()[0].contains("only the first 32"), "{:?}", config.problems());
    // An absent file is no servers, not an error.
    assert_eq!(McpConfig::load(&dir.join("none.json")).expect("absent"), McpConfig::default());
    // A server whose command does not exist is an error for that server, the app goes on.
    let hub = write_config(&dir, &[("ghost", McpServer { command: Some("/nonexistent/mcp-server".into()), ..McpServer::default() })]);
    rt().block_on(async {
        let (tools, problems) = hub.tools(&["ghost".into()]).await;
        assert!(tools.is_empty());
        assert!(problems[0].contains("could not start \"/nonexistent/mcp-server\""), "{problems:?}");
        // Not started again on the next question: the reason, and when it is tried again.
        let (_, again) = hub.tools(&["ghost".into()]).await;
        assert!(again[0].contains("could not start") && again[0].contains("tried again after 60 s"), "{again:?}");
        // Settings' save of text loaded before the file changed is refused, not a lost edit.
        let loaded = hub.text().expect("text");
        let mut changed = hub.config().expect("config");
        changed.servers.get_mut("ghost").expect("ghost").always_allow.push("x".into());
        hub.set_config(&changed).await.expect("save");
        let stale = hub.set_config_if_unchanged(&McpConfig::default(), loaded.as_deref()).await;
        assert!(matches!(stale, Err(McpError::Changed(_))), "{stale:?}");
        let fresh = hub.text().expect("text");
        hub.set_config_if_unchanged(&McpConfig::default(), fresh.as_deref()).await.expect("a save of what is there");
    });
}

#[test]
fn server_everything_over_stdio_lists_its_tools_and_answers_a_call() {
    let dir = data_dir("stdio");
    let hub = write_config(&dir, &[("everything", everything_stdio())]);
    rt().block_on(async {
        let (tools, problems) = hub.tools(&["everything".into()]).await;
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<&str> = tools.iter().map(|t| t.spec.name.as_str()).collect();
        assert!(names.contains(&"everything__echo") && names.contains(&"everything__get-sum"), "{names:?}");
        let echo = tools.iter().find(|t| t.tool == "echo").expect("echo");
        assert_eq!(echo.spec.parameters["properties"]["message"]["type"], "string", "{:?}", echo.spec.parameters);
        assert!(!echo.always_allowed);

        let r = hub.call(echo, &call("everything__echo", json!({"message": "净利润 12.5%"}))).await;
        assert_eq!((r.status, r.content.as_str(), r.source.as_str()), (ToolStatus::Done, "Echo: 净利润 12.5%", "everything"));
        let sum = tools.iter().find(|t| t.tool == "get-sum").expect("get-sum");
        let r = hub.call(sum, &call("everything__get-sum", json!({"a": 4822, "b": -4286}))).await;
        assert_eq!(r.status, ToolStatus::Done);
        assert!(r.content.contains("536"), "{}", r.content);
        // The server refuses bad arguments: an error the model reads, not a failed turn.
        let r = hub.call(sum, &call("everything__get-sum", json!({"a": "four"}))).await;
        assert_eq!(r.status, ToolStatus::Error, "{r:?}");
        let r = hub.call(sum, &call("everything__get-sum", json!([1, 2]))).await;
        assert!(r.status == ToolStatus::Error && r.content.contains("must be a JSON object"), "{r:?}");
        // An image is named for the model, not pasted in as base64.
        let image = tools.iter().find(|t| t.tool == "get-tiny-image").expect("get-tiny-image");
        let r = hub.call(image, &call("everything__get-tiny-image", json!({}))).await;
        assert!(r.content.contains("[image: image/png"), "{}", r.content);

        // Settings' view of it.
        let status = hub.status().await.expect("status");
        assert!(status[0].connected && status[0].transport == "stdio" && status[0].tools.len() == tools.len(), "{status:?}");
        hub.disconnect_all().await;
    });
}

#[test]
fn a_call_past_its_timeout_is_a_timeout_and_the_next_call_reconnects() {
    let dir = data_dir("timeout");
    let hub = write_config(&dir, &[("everything", McpServer { timeout: Some(1), ..everything_stdio() })]);
    rt().block_on(async {
        let (tools, _) = hub.tools(&["everything".into()]).await;
        let slow = tools.iter().find(|t| t.tool == "trigger-long-running-operation").expect("long-running tool");
        let started = std::time::Instant::now();
        let r = hub.call(slow, &call("everything__trigger-long-running-operation", json!({"duration": 30, "steps": 3}))).await;
        assert_eq!(r.status, ToolStatus::Timeout, "{r:?}");
        assert!(r.content.contains("did not answer within 1 s"), "{}", r.content);
        assert!(started.elapsed() < Duration::from_secs(20));
        let echo = tools.iter().find(|t| t.tool == "echo").expect("echo");
        let r = hub.call(echo, &call("everything__echo", json!({"message": "again"}))).await;
        assert_eq!((r.status, r.content.as_str()), (ToolStatus::Done, "Echo: again"));
        hub.disconnect_all().await;
    });
}

#[test]
fn server_everything_over_streamable_http_answers_a_call() {
    let dir = data_dir("http");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let child = std::process::Command::new(node())
        .arg(mcp_server_script("everything"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start server-everything");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "server-everything did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let hub =
        write_config(&dir, &[("web", McpServer { transport: Some("http".into()), url: Some(format!("http://127.0.0.1:{port}/mcp")), ..McpServer::default() })]);
    rt().block_on(async {
        let (tools, problems) = hub.tools(&["web".into()]).await;
        assert!(problems.is_empty(), "{problems:?}");
        let echo = tools.iter().find(|t| t.tool == "echo").expect("echo");
        assert_eq!(echo.spec.name, "web__echo");
        let r = hub.call(echo, &call("web__echo", json!({"message": "over http"}))).await;
        assert_eq!((r.status, r.content.as_str(), r.source.as_str()), (ToolStatus::Done, "Echo: over http", "web"));
        hub.disconnect_all().await;
    });
    // A dead server is an error for it, not a hang.
    drop(guard);
    rt().block_on(async {
        hub.disconnect_all().await;
        let (tools, problems) = hub.tools(&["web".into()]).await;
        assert!(tools.is_empty() && problems.len() == 1, "{tools:?} {problems:?}");
    });
}

/// A sink that answers approval requests from a script (`None`: cannot ask at all).
struct Analyst {
    answers: VecDeque<Approval>,
    can_ask: bool,
    asked: Vec<ApprovalRequest>,
    events: Vec<GenerationEvent>,
    notices: Vec<String>,
}

impl Analyst {
    fn new(can_ask: bool, answers: &[Approval]) -> Self {
        Self { answers: answers.iter().copied().collect(), can_ask, asked: Vec::new(), events: Vec::new(), notices: Vec::new() }
    }
    fn results(&self) -> Vec<fin_r1_engine::ToolResult> {
        self.events.iter().filter_map(|e| if let GenerationEvent::ToolResult(r) = e { Some(r.clone()) } else { None }).collect()
    }
    fn answer(&self) -> String {
        self.events.iter().filter_map(|e| if let GenerationEvent::Answer { text } = e { Some(text.as_str()) } else { None }).collect()
    }
}

impl TurnSink for Analyst {
    fn started(&mut self, t: &TurnStarted) {
        self.notices = t.notices.clone();
    }
    fn event(&mut self, ev: &GenerationEvent) {
        self.events.push(ev.clone());
    }
    fn approve(&mut self, request: &ApprovalRequest) -> Option<tokio::sync::oneshot::Receiver<Approval>> {
        self.asked.push(request.clone());
        if !self.can_ask {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(self.answers.pop_front().unwrap_or(Approval::Deny));
        Some(rx)
    }
}

#[test]
fn a_turn_asks_before_each_mcp_call_and_keeps_always_in_the_file() {
    let model = tiny_qwen2(&mcp_caller("everything__echo", "{\"message\": \"hello\"}", "Echo received in full"));
    let engine = Arc::new(Engine::load(&model, LoadOptions::default()).expect("load"));
    let dir = data_dir("turn");
    let hub = Arc::new(write_config(&dir, &[("everything", everything_stdio())]));
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("store");
        let runner = Runner::new(store.clone(), Arc::new(Backend::Local(engine)), None).with_mcp(hub.clone());
        let ask = |conversation: Option<i64>| {
            let mut req = TurnRequest::ask(conversation, "Echo hello");
            req.tools = vec!["mcp:everything".into()];
            req.sampling.temperature = Some(0.0);
            req.sampling.max_tokens = Some(64);
            req
        };

        // Allowed once: it runs, and the model answers with its result.
        let mut analyst = Analyst::new(true, &[Approval::Once]);
        let first = runner.run(ask(None), &mut analyst).await.expect("turn");
        assert_eq!(analyst.asked.len(), 1);
        let req = &analyst.asked[0];
        assert_eq!((req.server.as_str(), req.tool.as_str(), req.call.arguments.clone()), ("everything", "echo", json!({"message": "hello"})));
        assert_eq!(req.id, format!("{}:call_1", first.answer.id));
        let results = analyst.results();
        assert_eq!((results[0].status, results[0].content.as_str(), results[0].source.as_str()), (ToolStatus::Done, "Echo: hello", "everything"));
        assert_eq!(analyst.answer(), "Echo received in full");
        let conversation = first.conversation_id;
        let stored = store.conversation_tool_calls(conversation).await.expect("stored");
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].call.name.as_str(), stored[0].result.content.as_str()), ("everything__echo", "Echo: hello"));

        // Denied: not run, the model is told, the card and the row say so.
        let mut analyst = Analyst::new(true, &[Approval::Deny]);
        runner.run(ask(Some(conversation)), &mut analyst).await.expect("turn");
        let r = &analyst.results()[0];
        assert_eq!((r.status, r.content.as_str()), (ToolStatus::Denied, "not run: the analyst did not allow it"));

        // A consumer that cannot ask (the API server, a script) runs nothing.
        let mut script = Analyst::new(false, &[]);
        runner.run(ask(Some(conversation)), &mut script).await.expect("turn");
        assert_eq!(script.results()[0].status, ToolStatus::Denied);
        assert!(script.results()[0].content.contains("cannot ask"), "{:?}", script.results());

        // Always: kept in mcp.json (Cline's `alwaysAllow`), and the next turn does not ask.
        let mut analyst = Analyst::new(true, &[Approval::Always]);
        runner.run(ask(Some(conversation)), &mut analyst).await.expect("turn");
        assert_eq!(analyst.results()[0].status, ToolStatus::Done);
        let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(hub.path()).expect("read")).expect("json");
        assert_eq!(saved["mcpServers"]["everything"]["alwaysAllow"], json!(["echo"]), "{saved}");
        let mut later = Analyst::new(false, &[]);
        runner.run(ask(Some(conversation)), &mut later).await.expect("turn");
        assert!(later.asked.is_empty());
        assert_eq!(later.results()[0].status, ToolStatus::Done);
        assert_eq!(store.conversation_tool_calls(conversation).await.expect("stored").len(), 5);

        // A server that is not configured: the turn goes on without it, and says why.
        let mut req = ask(Some(conversation));
        req.tools = vec!["mcp:nowhere".into()];
        let mut analyst = Analyst::new(true, &[]);
        runner.run(req, &mut analyst).await.expect("turn");
        assert!(analyst.notices[0].contains("no MCP server is named \"nowhere\""), "{:?}", analyst.notices);
        assert!(analyst.asked.is_empty());
        hub.disconnect_all().await;
        store.close().await;
    });
}

/// `fin-r1 chat --json` with `input` on stdin (the analyst's answers), as JSON events.
fn chat(dir: &Path, model: &Path, input: &str) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = std::process::Command::new(fin_r1_tests::fin_r1_bin())
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "64", "--tool", "mcp:everything", "--data-dir"])
        .arg(dir)
        .arg("--model")
        .arg(model)
        .arg("Echo hello")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fin-r1 chat");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("answer");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

#[test]
fn the_cli_asks_on_its_input_and_keeps_always() {
    let model = tiny_qwen2(&mcp_caller("everything__echo", "{\"message\": \"hello\"}", "Echo received in full"));
    let dir = data_dir("cli");
    let hub = write_config(&dir, &[("everything", everything_stdio())]);
    let result = |events: &[serde_json::Value]| events.iter().find(|e| e["type"] == "tool_result").cloned().expect("a tool_result");

    // No answer (the input ends): not run.
    let events = chat(&dir, &model, "");
    assert!(events.iter().any(|e| e["type"] == "approval" && e["request"]["tool"] == "echo"), "{events:?}");
    assert_eq!(result(&events)["status"], "denied");

    // "a": run, and kept for next time, which asks nothing.
    let events = chat(&dir, &model, "a\n");
    assert_eq!((result(&events)["status"].as_str(), result(&events)["content"].as_str()), (Some("done"), Some("Echo: hello")));
    assert_eq!(McpConfig::load(hub.path()).expect("config").servers["everything"].always_allow, vec!["echo".to_owned()]);
    let events = chat(&dir, &model, "");
    assert!(!events.iter().any(|e| e["type"] == "approval"), "{events:?}");
    assert_eq!(result(&events)["status"], "done");
}

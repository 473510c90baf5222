//! `fin-r1 mcp` as another agent sees it: JSON-RPC over its stdin and stdout, as the MCP
//! specification has it (initialize, tools/list, tools/call): ask under a preset, find the
//! conversation, fetch it as Markdown, check a text's calculations, the calculator.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use fin_r1_tests::{fin_r1_bin, scratch_dir, tiny_qwen2, TinySpec, THINKING_SCRIPT};
use serde_json::{json, Value};

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Session {
    fn send(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// A request, and its response (notifications in between are skipped).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read");
            assert!(n > 0, "the server closed its output");
            let v: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// `tools/call`: (the text, is_error).
    fn call(&mut self, name: &str, arguments: Value) -> (String, bool) {
        let r = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        let result = &r["result"];
        assert!(result.is_object(), "{r}");
        (result["content"][0]["text"].as_str().expect("text content").to_owned(), result["isError"] == json!(true))
    }
}

fn start(model: &std::path::Path, data: &std::path::Path) -> Session {
    let mut child = Command::new(fin_r1_bin())
        .args(["mcp", "--model"])
        .arg(model)
        .arg("--data-dir")
        .arg(data)
        .env("FIN_R1_CACHE_DIR", data.join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("fin-r1 mcp");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut s = Session { child, stdin, stdout, next: 0 };
    let init = s.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "fin-r1-tests", "version": "1"}}));
    assert_eq!(init["result"]["serverInfo"]["name"], "fin-r1", "{init}");
    assert!(init["result"]["capabilities"]["tools"].is_object(), "{init}");
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    s
}

#[test]
fn another_agent_asks_fin_r1_finds_the_conversation_and_checks_its_numbers() {
    let model = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = scratch_dir().join(format!("mcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut s = start(&model, &data);

    let list = s.request("tools/list", json!({}));
    let names: Vec<&str> = list["result"]["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    for want in ["ask", "search_conversations", "get_conversation", "check_calculations", "calculate", "finance"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert!(list["result"]["tools"][0]["inputSchema"]["properties"]["question"].is_object(), "{list}");

    let (text, error) = s.call("ask", json!({"question": "两年后收到1000元的现值是多少？", "preset": "calculation", "fields": {"rate": "5"}}));
    assert!(!error, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("the answer as JSON");
    assert_eq!(answer["answer"], "The present value is about $907");
    assert_eq!(answer["reasoning"], "Discount the cash flow twice at five percent");
    // "about $907" states no calculation.
    assert_eq!(answer["calculation_check"]["checked"], 0, "{answer}");
    let id = answer["conversation_id"].as_i64().expect("stored");

    let (hits, _) = s.call("search_conversations", json!({"query": "现值"}));
    let hits: Value = serde_json::from_str(&hits).expect("hits");
    assert_eq!(hits[0]["conversation_id"], json!(id), "{hits}");

    let (md, error) = s.call("get_conversation", json!({"id": "latest"}));
    assert!(!error && md.contains("The present value is about $907") && md.contains("for reference only"), "{md}");
    let (missing, error) = s.call("get_conversation", json!({"id": 9999}));
    assert!(error, "{missing}");

    let (check, _) = s.call("check_calculations", json!({"text": "PV = 1000 / 1.05^2 = 907.02"}));
    let check: Value = serde_json::from_str(&check).expect("check");
    assert_eq!(check["differ"], 1);
    assert_eq!(check["calculations"][0]["recomputed"], "907.0295");

    let (pv, _) = s.call("finance", json!({"function": "pv", "rate": "5%", "nper": 2, "fv": 1000}));
    assert!(pv.contains("-907.029478458"), "{pv}");
    let (bad, error) = s.call("calculate", json!({"expression": "1/0"}));
    assert!(error && bad.contains("division by zero"), "{bad}");
    let (unknown, error) = s.call("rm_rf", json!({}));
    assert!(error && unknown.contains("no tool"), "{unknown}");
}

#[test]
fn without_a_model_ask_says_how_to_start_one_and_the_rest_works() {
    let data = scratch_dir().join(format!("mcp-nomodel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(fin_r1_bin()).args(["mcp", "--data-dir"]).arg(&data).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut s = Session { child, stdin, stdout, next: 0 };
    s.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let (text, error) = s.call("ask", json!({"question": "hi"}));
    assert!(error && text.contains("--model"), "{text}");
    let (calc, error) = s.call("calculate", json!({"expression": "(4,822 - 4,286) / 4,286"}));
    assert!(!error && calc.contains("0.125058329445"), "{calc}");
}

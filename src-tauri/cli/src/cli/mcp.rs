//! `fin-r1 mcp`: the app as an MCP server (stdio, the official SDK `rmcp`), for other agents:
//! ask the local Fin-R1 a question under a preset, search the stored conversations, fetch one
//! as Markdown, check the calculations of a text, and the finance calculator.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use fin_r1_core::backend::Backend;
use fin_r1_core::runner::{Runner, TurnRequest, TurnSink, TurnStarted};
use fin_r1_core::store::Store;
use fin_r1_engine::{Engine, GenerationEvent};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::EngineArgs;

#[derive(Args, Debug)]
pub struct McpArgs {
    /// The model `ask` answers with (loaded at the first question; without it `ask` says so).
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The data folder (conversations, presets).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// What a search or an answer returns at most.
const MAX_HITS: usize = 50;

struct FinR1Mcp {
    store: Store,
    data_dir: PathBuf,
    engine: EngineArgs,
    runner: OnceCell<Result<Runner, String>>,
}

fn object(v: Value) -> Arc<JsonObject> {
    Arc::new(match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    })
}

fn tools() -> Vec<Tool> {
    let mut out = vec![
        Tool::new(
            "ask",
            "Ask Fin-R1 (a financial reasoning model running on this machine) a question, optionally under a scenario preset (compliance, risk-control, investment-advisory, esg, calculation, financial-code, english-finance) with its form fields. Returns the answer, the model's reasoning, and the check of every calculation in it. The conversation is stored in Fin-R1 Desktop.",
            object(json!({"type": "object", "properties": {
                "question": {"type": "string"},
                "preset": {"type": "string", "description": "a preset id, e.g. calculation"},
                "fields": {"type": "object", "description": "the preset's form fields, name → value", "additionalProperties": {"type": "string"}}
            }, "required": ["question"]})),
        ),
        Tool::new(
            "search_conversations",
            "Search the stored conversations (titles, questions, reasoning, answers, attached documents); Chinese and English words.",
            object(json!({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": MAX_HITS}}, "required": ["query"]})),
        ),
        Tool::new(
            "get_conversation",
            "A stored conversation as a Markdown report (questions, reasoning, answers, provenance, the calculation check).",
            object(json!({"type": "object", "properties": {"id": {"description": "a conversation id, or \"latest\"", "type": ["integer", "string"]}}, "required": ["id"]})),
        ),
        Tool::new(
            "check_calculations",
            "Find every calculation stated in a text (a = b, ≈, 约, LaTeX, Chinese forms), recompute it in exact decimal arithmetic and say whether the stated result agrees at the precision it was written in.",
            object(json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})),
        ),
    ];
    for spec in fin_r1_calc::tool::specs() {
        let name = spec["name"].as_str().unwrap_or_default().to_owned();
        let description = spec["description"].as_str().unwrap_or_default().to_owned();
        out.push(Tool::new(name, description, object(spec["parameters"].clone())));
    }
    out
}

fn text_result(text: String, error: bool) -> CallToolResponse {
    if error {
        CallToolResult::error(vec![ContentBlock::text(text)]).into()
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)]).into()
    }
}

/// A turn's events, kept for the reply (nothing is shown: stdout is the protocol's).
#[derive(Default)]
struct Collect {
    reasoning: String,
    answer: String,
    conversation: Option<i64>,
    error: Option<String>,
}

impl TurnSink for Collect {
    fn started(&mut self, t: &TurnStarted) {
        self.conversation = Some(t.conversation.id);
    }
    fn event(&mut self, ev: &GenerationEvent) {
        match ev {
            GenerationEvent::Reasoning { text } => self.reasoning.push_str(text),
            GenerationEvent::Answer { text } | GenerationEvent::ToolCallMalformed { text, .. } => self.answer.push_str(text),
            GenerationEvent::Error { message, .. } => self.error = Some(message.clone()),
            _ => {}
        }
    }
}

fn check_json(text: &str) -> Value {
    let findings = fin_r1_calc::check(text);
    let s = fin_r1_calc::summarise(&findings);
    let items: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "statement": f.statement_text(text),
                "stated": &text[f.stated.clone()],
                "verdict": if f.verdict == fin_r1_calc::Verdict::Agrees { "agrees" } else { "differs" },
                "recomputed": f.recomputed,
            })
        })
        .collect();
    json!({"checked": s.checked, "agree": s.agree, "differ": s.differ, "calculations": items})
}

impl FinR1Mcp {
    async fn runner(&self) -> Result<&Runner, String> {
        let r = self
            .runner
            .get_or_init(|| async {
                let path = self.engine.path().map_err(|e| format!("{e} (start `fin-r1 mcp --model FILE.gguf`)"))?.to_owned();
                let options = self.engine.load_options();
                let engine = tokio::task::spawn_blocking(move || Engine::load(&path, options).map_err(|e| format!("{}: {e}", path.display())))
                    .await
                    .map_err(|e| e.to_string())??;
                let backend = Arc::new(Backend::Local(Arc::new(engine)));
                Ok(Runner::new(self.store.clone(), backend, Some(self.data_dir.join("scenarios"))))
            })
            .await;
        r.as_ref().map_err(Clone::clone)
    }

    async fn call(&self, name: &str, args: &Value) -> Result<String, String> {
        let str_arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("{k} must be a string"));
        match name {
            "ask" => {
                let question = str_arg("question")?;
                let runner = self.runner().await?;
                let mut req = TurnRequest::ask(None, question);
                req.scenario = args.get("preset").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
                if let Some(fields) = args.get("fields").and_then(Value::as_object) {
                    req.form = fields.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect();
                }
                let mut sink = Collect::default();
                runner.run(req, &mut sink).await.map_err(|e| e.to_string())?;
                if let Some(e) = sink.error {
                    return Err(e);
                }
                let check = check_json(&format!("{}\n\n{}", sink.reasoning, sink.answer));
                Ok(json!({"answer": sink.answer.trim(), "reasoning": sink.reasoning.trim(), "conversation_id": sink.conversation, "calculation_check": check, "note": "For reference only: not investment, legal or compliance advice."}).to_string())
            }
            "search_conversations" => {
                let query = str_arg("query")?;
                let limit = args.get("limit").and_then(Value::as_u64).map_or(10, |n| (n as usize).clamp(1, MAX_HITS));
                let hits = self.store.search(&query, limit).await.map_err(|e| e.to_string())?;
                let hits: Vec<Value> = hits.iter().map(|h| json!({"conversation_id": h.conversation_id, "title": h.title, "snippet": h.snippet})).collect();
                Ok(Value::Array(hits).to_string())
            }
            "get_conversation" => {
                let id = match args.get("id") {
                    Some(Value::Number(n)) => n.as_i64().ok_or("id must be a whole number")?,
                    Some(Value::String(s)) if s == "latest" => {
                        let list = self.store.list_conversations(1).await.map_err(|e| e.to_string())?;
                        list.first().map(|c| c.conversation.id).ok_or("there are no conversations yet")?
                    }
                    Some(Value::String(s)) => s.parse().map_err(|_| format!("{s:?} is not a conversation id or \"latest\""))?,
                    _ => return Err("id is missing".into()),
                };
                let report = fin_r1_report::Report::build(&self.store, id, Some(&self.data_dir.join("scenarios")), &fin_r1_report::ReportOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(fin_r1_report::to_markdown(&report))
            }
            "check_calculations" => Ok(check_json(&str_arg("text")?).to_string()),
            other if fin_r1_calc::tool::is_calculator(other) => fin_r1_calc::tool::call(other, args).map(|v| v.to_string()).map_err(|e| e.to_string()),
            other => Err(format!("no tool {other:?}")),
        }
    }
}

impl ServerHandler for FinR1Mcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("fin-r1", env!("CARGO_PKG_VERSION")))
            .with_instructions("Fin-R1 Desktop: a financial reasoning model on this machine, its stored conversations, and exact finance calculations. Answers are for reference only.")
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, _context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        // A tool's failure is the calling agent's to read, not a protocol error.
        Ok(match self.call(&request.name, &args).await {
            Ok(text) => text_result(text, false),
            Err(e) => text_result(e, true),
        })
    }
}

pub fn run(a: McpArgs) -> anyhow::Result<i32> {
    let runtime = fin_r1_core::rt::io("fin-r1-mcp").context("starting the runtime")?;
    runtime.block_on(async move {
        let data_dir = super::data_dir(&a.data_dir);
        let (store, _) = Store::open_or_recover(&data_dir).await.with_context(|| format!("opening the conversations in {}", data_dir.display()))?;
        let server = FinR1Mcp { store: store.clone(), data_dir, engine: a.engine, runner: OnceCell::new() };
        let service = server.serve(rmcp::transport::stdio()).await.context("starting the MCP session")?;
        let _ = service.waiting().await;
        store.close().await;
        Ok(0)
    })
}

//! The OpenAI chat-completions wire format, as vLLM speaks it for reasoning models: the
//! reasoning chain travels apart from `content`, in `reasoning` (vLLM 0.16 and later) or
//! `reasoning_content` (earlier). Shared by the server (`fin-r1 serve`, which sends both) and the
//! remote engine (a client of vLLM or any compatible server, which reads either).

use fin_r1_engine::{ChatMessage, StopReason};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// vLLM's extension; -1 or 0 disables it.
    pub top_k: Option<i64>,
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub stop: Option<StopField>,
    pub seed: Option<u64>,
    pub n: Option<u32>,
    /// vLLM's extension.
    pub repetition_penalty: Option<f32>,
    /// Functions the model may call (OpenAI's shape).
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    /// `"none"` leaves the tools out of the prompt; anything else lets the model choose.
    #[serde(default)]
    pub tool_choice: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StopField {
    One(String),
    Many(Vec<String>),
}

impl StopField {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StopField::One(s) => vec![s],
            StopField::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WireMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// An assistant turn's calls: `[{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// A tool's result: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool as OpenAI's `tools` array holds it.
pub fn tool_json(t: &fin_r1_engine::ToolSpec) -> Value {
    json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}})
}

/// A call as OpenAI's `tool_calls` holds it (the arguments as JSON text).
pub fn tool_call_json(c: &fin_r1_engine::ToolCall) -> Value {
    json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments.to_string()}})
}

/// The request's `tools`, or a client error.
pub fn tools_of(tools: &[Value]) -> Result<Vec<fin_r1_engine::ToolSpec>, String> {
    tools
        .iter()
        .map(|t| {
            let f = t.get("function").ok_or("each tool needs a \"function\"")?;
            serde_json::from_value::<fin_r1_engine::ToolSpec>(f.clone()).map_err(|e| format!("a tool's function: {e}"))
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl WireMessage {
    pub fn from_chat(m: &ChatMessage) -> Self {
        // Earlier reasoning is not sent back: R1-style templates drop it anyway.
        Self {
            role: m.role.as_str().to_owned(),
            content: Some(Content::Text(m.content.clone())),
            reasoning_content: None,
            tool_calls: (!m.tool_calls.is_empty()).then(|| m.tool_calls.iter().map(tool_call_json).collect()),
            tool_call_id: m.tool_call_id.clone(),
        }
    }

    /// The engine's message, or a client error naming what is wrong with it.
    pub fn to_chat(&self) -> Result<ChatMessage, String> {
        let text = match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => {
                let mut s = String::new();
                for p in parts {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => s.push_str(t),
                        (kind, _) => return Err(format!("message content of type {kind:?} is not supported (text only)")),
                    }
                }
                s
            }
        };
        Ok(match self.role.as_str() {
            "system" | "developer" => ChatMessage::system(text),
            "user" => ChatMessage::user(text),
            "assistant" => {
                let mut m = ChatMessage::assistant(text, self.reasoning_content.clone());
                for (i, c) in self.tool_calls.iter().flatten().enumerate() {
                    let name = c.pointer("/function/name").and_then(Value::as_str).ok_or("a tool call without a function name")?;
                    let arguments = match c.pointer("/function/arguments") {
                        Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| format!("a tool call's arguments are not JSON: {e}"))?,
                        Some(v @ Value::Object(_)) => v.clone(),
                        _ => json!({}),
                    };
                    let id = c.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{}", i + 1), str::to_owned);
                    m.tool_calls.push(fin_r1_engine::ToolCall { id, name: name.to_owned(), arguments });
                }
                m
            }
            "tool" => ChatMessage::tool(self.tool_call_id.clone().unwrap_or_default(), text),
            other => return Err(format!("unsupported message role {other:?}")),
        })
    }
}

/// `finish_reason` as vLLM reports it.
pub fn finish_reason(r: StopReason) -> &'static str {
    match r {
        StopReason::End | StopReason::StopString => "stop",
        // Cut off before the model ended, as a token limit cuts (OpenAI clients know no other).
        StopReason::Length | StopReason::Repetition => "length",
        StopReason::Cancelled => "abort",
    }
}

pub fn stop_reason(finish: &str) -> StopReason {
    match finish {
        "length" => StopReason::Length,
        "abort" | "cancelled" => StopReason::Cancelled,
        _ => StopReason::End,
    }
}

/// `{"error": {...}}`, the shape OpenAI clients parse.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": Value::Null, "code": code } })
}

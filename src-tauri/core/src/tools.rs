//! The tools a model may call in a turn, and running them: the built-in finance calculator
//! (`fin_r1_calc::tool`: pure arithmetic, it touches nothing, so it runs without asking) and the
//! tools of MCP servers (`crate::mcp`), each call asked of the analyst first.

use std::time::{Duration, Instant};

use fin_r1_engine::{ToolCall, ToolResult, ToolSpec, ToolStatus};
use serde::{Deserialize, Serialize};

use crate::mcp::McpTool;

/// The calculator's name in presets, settings and a result's `source`.
pub const CALCULATOR: &str = "calculator";

/// Rounds of tool calls one answer may make; the round after them offers no tools, so the
/// model answers with what it has.
pub const MAX_ROUNDS: usize = 5;

/// A result longer than this is cut for the prompt (and says so).
const MAX_RESULT: usize = 16 * 1024;

/// How a preset or `--tool` names an MCP server's tools: `mcp:NAME`.
pub const MCP_PREFIX: &str = "mcp:";

/// How long a call waits for the analyst's answer before it is not run.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(120);

/// What a turn offers the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolBox {
    pub calculator: bool,
    /// MCP servers named for the turn (their tools are listed when it starts).
    pub servers: Vec<String>,
    /// Their tools, once listed.
    pub mcp: Vec<McpTool>,
}

/// Is `name` a tool name a preset may hold (`calculator`, `mcp:NAME`)?
pub fn is_tool_name(name: &str) -> bool {
    name == CALCULATOR || name.strip_prefix(MCP_PREFIX).is_some_and(|s| !s.trim().is_empty())
}

impl ToolBox {
    /// From names (a preset's `tools`, `--tool`); unknown names are returned for a warning.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> (Self, Vec<String>) {
        let mut b = Self::default();
        let mut unknown = Vec::new();
        for n in names {
            match n {
                CALCULATOR => b.calculator = true,
                other => match other.strip_prefix(MCP_PREFIX) {
                    Some(server) if !server.trim().is_empty() => {
                        if !b.servers.iter().any(|s| s == server) {
                            b.servers.push(server.to_owned());
                        }
                    }
                    _ => unknown.push(other.to_owned()),
                },
            }
        }
        (b, unknown)
    }

    pub fn is_empty(&self) -> bool {
        !self.calculator && self.mcp.is_empty()
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        let mut out = Vec::new();
        if self.calculator {
            out.extend(fin_r1_calc::tool::specs().into_iter().filter_map(|v| serde_json::from_value::<ToolSpec>(v).ok()));
        }
        for t in &self.mcp {
            // A calculator name already offered wins: the model's call goes to one tool.
            if !out.iter().any(|s| s.name == t.spec.name) {
                out.push(t.spec.clone());
            }
        }
        out
    }

    /// The MCP tool a call names, if it is one (the calculator's names come first).
    pub fn mcp_tool(&self, name: &str) -> Option<&McpTool> {
        if self.calculator && fin_r1_calc::tool::is_calculator(name) {
            return None;
        }
        self.mcp.iter().find(|t| t.spec.name == name)
    }

    /// Runs a call; an unknown tool or bad arguments come back as an error result the model
    /// reads, never as a failed turn.
    pub fn run(&self, call: &ToolCall) -> ToolResult {
        let started = Instant::now();
        let (source, status, content) = if self.calculator && fin_r1_calc::tool::is_calculator(&call.name) {
            match fin_r1_calc::tool::call(&call.name, &call.arguments) {
                Ok(v) => (CALCULATOR, ToolStatus::Done, v.to_string()),
                Err(e) => (CALCULATOR, ToolStatus::Error, format!("error: {e}")),
            }
        } else {
            ("", ToolStatus::Error, format!("error: there is no tool {:?} here", call.name))
        };
        ToolResult { id: call.id.clone(), name: call.name.clone(), source: source.to_owned(), status, content: cut(content), ms: millis(started.elapsed()) }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn cut(mut s: String) -> String {
    if s.len() > MAX_RESULT {
        let mut end = MAX_RESULT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …[cut: the result was longer than 16 KB]");
    }
    s
}

/// A call that is not run: the answer stopped before it, the analyst's no.
pub fn not_run(call: &ToolCall, status: ToolStatus, why: &str) -> ToolResult {
    ToolResult { id: call.id.clone(), name: call.name.clone(), source: String::new(), status, content: why.to_owned(), ms: 0 }
}

/// A call the analyst is asked about before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ApprovalRequest {
    /// Unique while the app runs: the answer's id and the call's.
    pub id: String,
    pub answer_id: i64,
    pub call: ToolCall,
    /// The MCP server, and its own name for the tool.
    pub server: String,
    pub tool: String,
    pub description: String,
    /// Seconds before an unanswered request is not run.
    pub timeout_secs: u64,
}

/// The analyst's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Once,
    /// Always for this tool (kept in the MCP configuration's `alwaysAllow`).
    Always,
    Deny,
}

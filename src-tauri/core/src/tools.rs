//! The tools a model may call in a turn, and running them: the built-in finance calculator
//! (`fin_r1_calc::tool`: pure arithmetic, it touches nothing, so it runs without asking).

use std::time::{Duration, Instant};

use fin_r1_engine::{ToolCall, ToolResult, ToolSpec, ToolStatus};

/// The calculator's name in presets, settings and a result's `source`.
pub const CALCULATOR: &str = "calculator";

/// Rounds of tool calls one answer may make; the round after them offers no tools, so the
/// model answers with what it has.
pub const MAX_ROUNDS: usize = 5;

/// A result longer than this is cut for the prompt (and says so).
const MAX_RESULT: usize = 16 * 1024;

/// What a turn offers the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolBox {
    pub calculator: bool,
}

impl ToolBox {
    /// From names (a preset's `tools`, `--tools`); unknown names are returned for a warning.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> (Self, Vec<String>) {
        let mut b = Self::default();
        let mut unknown = Vec::new();
        for n in names {
            match n {
                CALCULATOR => b.calculator = true,
                other => unknown.push(other.to_owned()),
            }
        }
        (b, unknown)
    }

    pub fn is_empty(&self) -> bool {
        !self.calculator
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        if !self.calculator {
            return Vec::new();
        }
        fin_r1_calc::tool::specs().into_iter().filter_map(|v| serde_json::from_value::<ToolSpec>(v).ok()).collect()
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

fn cut(mut s: String) -> String {
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

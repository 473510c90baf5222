//! Shows a generation's event stream in a terminal: the reasoning dimmed under a label, the
//! answer plain, or one JSON object per event.

use std::io::Write;

use fin_r1_engine::{GenerationEvent, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Reasoning,
    Answer,
}

pub struct TerminalView<W: Write> {
    out: W,
    json: bool,
    color: bool,
    section: Section,
}

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl<W: Write> TerminalView<W> {
    pub fn new(out: W, json: bool, color: bool) -> Self {
        Self { out, json, color, section: Section::None }
    }

    /// Writes one event; returns the error text if the event was an error.
    pub fn show(&mut self, ev: &GenerationEvent) -> std::io::Result<()> {
        if self.json {
            let line = serde_json::to_string(ev).map_err(std::io::Error::other)?;
            writeln!(self.out, "{line}")?;
            return self.out.flush();
        }
        match ev {
            GenerationEvent::Reasoning { text } => {
                if self.section != Section::Reasoning {
                    self.section = Section::Reasoning;
                    self.label("Reasoning")?;
                }
                if self.color {
                    write!(self.out, "{DIM}{text}{RESET}")?;
                } else {
                    write!(self.out, "{text}")?;
                }
            }
            GenerationEvent::Answer { text } => {
                self.answer_section()?;
                write!(self.out, "{text}")?;
            }
            GenerationEvent::ToolCallMalformed { text, reason } => {
                self.answer_section()?;
                write!(self.out, "{text}")?;
                writeln!(self.out, "\n[not a tool call: {reason}]")?;
            }
            GenerationEvent::ToolCall(c) => {
                if self.section == Section::Reasoning || self.section == Section::Answer {
                    writeln!(self.out)?;
                }
                self.section = Section::None;
                self.label(&format!("Tool call: {} {}", c.name, c.arguments))?;
            }
            GenerationEvent::ToolResult(r) => {
                let status = match r.status {
                    fin_r1_engine::ToolStatus::Done => "",
                    fin_r1_engine::ToolStatus::Error => " (failed)",
                    fin_r1_engine::ToolStatus::Denied => " (denied)",
                    fin_r1_engine::ToolStatus::Timeout => " (timed out)",
                };
                self.label(&format!("Tool result{status}: {} → {}", r.name, r.content))?;
            }
            // Progress goes to stderr (the CLI's own line), not into the text.
            GenerationEvent::Prefill { .. } => {}
            GenerationEvent::Usage(_) | GenerationEvent::Done(_) | GenerationEvent::Error { .. } => {
                if self.section != Section::None {
                    writeln!(self.out)?;
                    self.section = Section::None;
                }
            }
        }
        self.out.flush()
    }

    /// Under the "Answer" label, opening it (after a line break) where the answer starts.
    fn answer_section(&mut self) -> std::io::Result<()> {
        if self.section != Section::Answer {
            if self.section == Section::Reasoning {
                writeln!(self.out)?;
            }
            self.section = Section::Answer;
            self.label("Answer")?;
        }
        Ok(())
    }

    fn label(&mut self, name: &str) -> std::io::Result<()> {
        if self.color {
            writeln!(self.out, "{BOLD}{DIM}── {name} ──{RESET}")
        } else {
            writeln!(self.out, "── {name} ──")
        }
    }
}

/// One line of figures for the end of an answer.
pub fn usage_line(u: &Usage) -> String {
    format!(
        "{} prompt tokens ({} cached), {} reasoning + {} answer tokens; first token after {:.2} s; prefill {:.1} tok/s, decode {:.1} tok/s",
        u.prompt_tokens,
        u.cached_prompt_tokens,
        u.reasoning_tokens,
        u.answer_tokens,
        u.time_to_first_token_ms / 1e3,
        u.prefill_tok_s,
        u.decode_tok_s
    )
}

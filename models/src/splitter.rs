//! Separates a reasoning model's output into its reasoning chain and its answer, on decoded text
//! as it streams. In Qwen2.5's tokenizer `<think>` is several ordinary tokens that may arrive in
//! different chunks, so a partial tag (`<thi`) is held back until it is known to be a tag or text.
//!
//! What it accepts: `<think>…</think>` then the answer; no opening tag when the prompt already
//! opened it; no closing tag (a cut-off generation: all reasoning, `reasoning_unterminated`); an
//! `<answer>…</answer>` wrapper; tags inside code spans or fences are text. Whitespace at the
//! start and end of each part is dropped. Every decision depends only on the text, never on where
//! it was split into chunks: any chunking gives the same reasoning and answer.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Reasoning(String),
    Answer(String),
    /// The body of a `<tool_call>…</tool_call>` in the answer, as written.
    ToolCall(String),
    /// A `<tool_call>` never closed (or past its size), as written.
    UnclosedToolCall(String),
}

impl Piece {
    /// The event a piece is; `calls` numbers the answer's tool calls (`call_1`, …). Where no
    /// tools were offered, a `<tool_call>` is only text the model wrote.
    pub fn into_event(self, calls: &mut usize, tools_offered: bool) -> crate::GenerationEvent {
        use crate::GenerationEvent;
        match self {
            Piece::Reasoning(text) => GenerationEvent::Reasoning { text },
            Piece::Answer(text) => GenerationEvent::Answer { text },
            Piece::ToolCall(body) if !tools_offered => GenerationEvent::Answer { text: format!("<tool_call>{body}</tool_call>") },
            Piece::UnclosedToolCall(body) if !tools_offered => GenerationEvent::Answer { text: format!("<tool_call>{body}") },
            Piece::ToolCall(body) => {
                *calls += 1;
                match crate::template::parse_tool_call(&body, *calls) {
                    Ok(call) => GenerationEvent::ToolCall(call),
                    Err(reason) => GenerationEvent::ToolCallMalformed { text: format!("<tool_call>{body}</tool_call>"), reason },
                }
            }
            Piece::UnclosedToolCall(body) => {
                GenerationEvent::ToolCallMalformed { text: format!("<tool_call>{body}"), reason: "the call was never closed".into() }
            }
        }
    }
}

/// A tool call's body longer than this is no call a model meant.
const MAX_TOOL_CALL: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing shown yet: a `<think>` or `<answer>` may open the output.
    Start,
    Reasoning,
    /// After `</think>`: an `<answer>` may open the answer.
    AfterThink,
    Answer {
        wrapped: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    None,
    Inline(usize),
    Fence(usize),
}

enum Match {
    Tag(&'static str),
    NeedMore,
    NoTag,
}

fn match_tag(rest: &str, tags: &[&'static str], finished: bool) -> Match {
    for &tag in tags {
        if rest.starts_with(tag) {
            return Match::Tag(tag);
        }
    }
    if !finished && tags.iter().any(|t| rest.len() < t.len() && t.starts_with(rest)) {
        return Match::NeedMore;
    }
    Match::NoTag
}

#[derive(Debug)]
pub struct ThinkSplitter {
    state: State,
    pending: String,
    held_ws: String,
    section_has_text: bool,
    code: Code,
    at_line_start: bool,
    /// Inside `<tool_call>`: its body so far.
    tool: Option<String>,
    out: Vec<Piece>,
}

impl ThinkSplitter {
    /// `opened_in_prompt`: the chat template already wrote `<think>`, so the output begins
    /// inside the reasoning.
    pub fn new(opened_in_prompt: bool) -> Self {
        Self {
            state: if opened_in_prompt { State::Reasoning } else { State::Start },
            pending: String::new(),
            held_ws: String::new(),
            section_has_text: false,
            code: Code::None,
            at_line_start: true,
            tool: None,
            out: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        self.pending.push_str(text);
        self.run(false);
        std::mem::take(&mut self.out)
    }

    pub fn finish(&mut self) -> Vec<Piece> {
        self.run(true);
        std::mem::take(&mut self.out)
    }

    /// Which side the output is on now: `Some(true)` reasoning, `Some(false)` the answer, `None`
    /// not yet known (nothing seen but what could still open a `<think>`).
    pub fn side(&self) -> Option<bool> {
        match self.state {
            State::Start => None,
            State::Reasoning => Some(true),
            _ => Some(false),
        }
    }

    /// After `finish`: the reasoning never closed (the generation was cut off inside it).
    pub fn reasoning_unterminated(&self) -> bool {
        self.state == State::Reasoning
    }

    fn emit(&mut self, s: &str) {
        let reasoning = self.state == State::Reasoning;
        match self.out.last_mut() {
            Some(Piece::Reasoning(t)) if reasoning => t.push_str(s),
            Some(Piece::Answer(t)) if !reasoning => t.push_str(s),
            _ => self.out.push(if reasoning { Piece::Reasoning(s.into()) } else { Piece::Answer(s.into()) }),
        }
    }

    fn enter(&mut self, state: State) {
        self.state = state;
        self.held_ws.clear();
        self.section_has_text = false;
        self.code = Code::None;
        self.at_line_start = true;
    }

    fn run(&mut self, finished: bool) {
        let mut i = 0;
        let pending = std::mem::take(&mut self.pending);
        while i < pending.len() {
            let rest = &pending[i..];
            let Some(c) = rest.chars().next() else { break };
            match self.state {
                State::Start | State::AfterThink => {
                    if c.is_whitespace() {
                        i += c.len_utf8();
                        continue;
                    }
                    let tags: &[&'static str] = if self.state == State::Start { &["<think>", "<answer>"] } else { &["<answer>"] };
                    match match_tag(rest, tags, finished) {
                        Match::NeedMore => break,
                        Match::Tag("<think>") => {
                            self.enter(State::Reasoning);
                            i += "<think>".len();
                        }
                        Match::Tag(_) => {
                            self.enter(State::Answer { wrapped: true });
                            i += "<answer>".len();
                        }
                        Match::NoTag => self.enter(State::Answer { wrapped: false }),
                    }
                }
                State::Reasoning | State::Answer { .. } => match self.step(rest, finished) {
                    Some(n) => i += n,
                    None => break,
                },
            }
        }
        self.pending = pending[i..].to_owned();
        if finished {
            if let Some(body) = self.tool.take() {
                let rest = std::mem::take(&mut self.pending);
                self.out.push(Piece::UnclosedToolCall(format!("{body}{rest}")));
            }
            // A partial tag or backtick run left at the end is plain text.
            let rest = std::mem::take(&mut self.pending);
            if !rest.is_empty() {
                if matches!(self.state, State::Start | State::AfterThink) {
                    self.enter(State::Answer { wrapped: false });
                }
                self.flush_ws();
                self.emit(&rest);
            }
            self.held_ws.clear();
        }
    }

    fn flush_ws(&mut self) {
        if !self.held_ws.is_empty() {
            let ws = std::mem::take(&mut self.held_ws);
            self.emit(&ws);
        }
    }

    /// One step inside a part: consumes and returns a byte count, or `None` to wait for more.
    fn step(&mut self, rest: &str, finished: bool) -> Option<usize> {
        let c = rest.chars().next()?;
        if self.tool.is_some() {
            match match_tag(rest, &["</tool_call>"], finished) {
                Match::Tag(tag) => {
                    let body = self.tool.take().unwrap_or_default();
                    self.out.push(Piece::ToolCall(body));
                    self.section_has_text = true;
                    return Some(tag.len());
                }
                Match::NeedMore => return None,
                Match::NoTag => {
                    let long = self.tool.as_mut().is_some_and(|body| {
                        body.push(c);
                        body.len() > MAX_TOOL_CALL
                    });
                    if long {
                        let body = self.tool.take().unwrap_or_default();
                        self.out.push(Piece::UnclosedToolCall(body));
                    }
                    return Some(c.len_utf8());
                }
            }
        }
        if c == '`' {
            let run = rest.chars().take_while(|&c| c == '`').count();
            if run == rest.len() && !finished {
                return None;
            }
            self.code = match self.code {
                Code::Fence(n) if self.at_line_start && run >= n => Code::None,
                Code::Fence(n) => Code::Fence(n),
                Code::Inline(n) if run == n => Code::None,
                Code::Inline(n) => Code::Inline(n),
                Code::None if self.at_line_start && run >= 3 => Code::Fence(run),
                Code::None => Code::Inline(run),
            };
            self.text(&rest[..run]);
            return Some(run);
        }
        if c == '<' && self.code == Code::None {
            let tags: &[&'static str] = match self.state {
                State::Reasoning if !self.section_has_text => &["</think>", "<think>"],
                State::Reasoning => &["</think>"],
                State::Answer { wrapped: true } => &["</answer>", "<tool_call>"],
                State::Answer { wrapped: false } => &["<tool_call>"],
                _ => &[],
            };
            match match_tag(rest, tags, finished) {
                Match::NeedMore => return None,
                Match::Tag("<tool_call>") => {
                    // The blank before a call is no part of the answer's text.
                    self.held_ws.clear();
                    self.tool = Some(String::new());
                    return Some("<tool_call>".len());
                }
                Match::Tag("<think>") => return Some("<think>".len()),
                Match::Tag("</think>") => {
                    self.enter(State::AfterThink);
                    return Some("</think>".len());
                }
                Match::Tag(tag) => {
                    self.held_ws.clear();
                    self.state = State::Answer { wrapped: false };
                    return Some(tag.len());
                }
                Match::NoTag => {}
            }
        }
        if c.is_whitespace() {
            if c == '\n' {
                self.at_line_start = true;
                if let Code::Inline(_) = self.code {
                    self.code = Code::None;
                }
            }
            if self.section_has_text {
                self.held_ws.push(c);
            }
            return Some(c.len_utf8());
        }
        let mut buf = [0u8; 4];
        self.text(c.encode_utf8(&mut buf));
        Some(c.len_utf8())
    }

    fn text(&mut self, s: &str) {
        self.flush_ws();
        self.emit(s);
        self.section_has_text = true;
        self.at_line_start = false;
    }
}

/// The content of the last `\boxed{…}` in a text (R1-style final answers), braces balanced.
pub fn boxed_answer(text: &str) -> Option<&str> {
    let start = text.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1usize;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tool_calls {
    use super::*;

    fn split_every_way(text: &str) -> Vec<Piece> {
        let mut whole = ThinkSplitter::new(true);
        let mut expected = whole.push(text);
        expected.extend(whole.finish());
        // Any chunking gives the same pieces (merged).
        for step in [1, 2, 3, 7] {
            let mut s = ThinkSplitter::new(true);
            let mut got = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for chunk in chars.chunks(step) {
                got.extend(s.push(&chunk.iter().collect::<String>()));
            }
            got.extend(s.finish());
            assert_eq!(merge(got), merge(expected.clone()), "step {step}");
        }
        merge(expected)
    }

    fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        for p in pieces {
            match (out.last_mut(), p) {
                (Some(Piece::Reasoning(a)), Piece::Reasoning(b)) | (Some(Piece::Answer(a)), Piece::Answer(b)) => a.push_str(&b),
                (_, p) => out.push(p),
            }
        }
        out
    }

    #[test]
    fn a_tool_call_in_the_answer_is_its_own_piece() {
        let pieces = split_every_way(
            "Need the PV.</think>Let me compute.\n<tool_call>\n{\"name\": \"calculate\", \"arguments\": {\"expression\": \"1000/1.05^2\"}}\n</tool_call>",
        );
        assert_eq!(
            pieces,
            vec![
                Piece::Reasoning("Need the PV.".into()),
                Piece::Answer("Let me compute.".into()),
                Piece::ToolCall("\n{\"name\": \"calculate\", \"arguments\": {\"expression\": \"1000/1.05^2\"}}\n".into()),
            ]
        );
    }

    #[test]
    fn a_tool_call_in_code_is_text_and_an_unclosed_one_is_kept() {
        assert_eq!(
            split_every_way("x</think>Write `<tool_call>` to call."),
            vec![Piece::Reasoning("x".into()), Piece::Answer("Write `<tool_call>` to call.".into())]
        );
        assert_eq!(
            split_every_way("x</think><tool_call>{\"name\": \"calc"),
            vec![Piece::Reasoning("x".into()), Piece::UnclosedToolCall("{\"name\": \"calc".into())]
        );
    }
}

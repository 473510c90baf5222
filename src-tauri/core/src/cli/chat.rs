use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use fin_r1_engine::{
    CancelToken, ChatMessage, ContextPolicy, Engine, GenerationEvent, GenerationRequest, SamplingParams,
};
use fin_r1_core::terminal::{usage_line, TerminalView};

use super::EngineArgs;

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// The question; without it, an interactive session reads questions from standard input.
    prompt: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// System prompt (default: the model's recommended one; "" for none).
    #[arg(long)]
    system: Option<String>,
    /// 0 is greedy decoding (default: the model's recommendation).
    #[arg(long)]
    temperature: Option<f32>,
    #[arg(long)]
    top_p: Option<f32>,
    /// 0 disables top-k.
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long)]
    repeat_penalty: Option<f32>,
    /// The same seed gives the same text.
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Stop when the output contains this text (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Leave the oldest turns out of the prompt when the conversation outgrows the context
    /// (default: refuse with an error).
    #[arg(long)]
    drop_old_turns: bool,
    /// One JSON object per event and line: reasoning, answer, usage, done, error.
    #[arg(long)]
    json: bool,
}

impl ChatArgs {
    fn sampling(&self, defaults: SamplingParams) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature.unwrap_or(defaults.temperature),
            top_p: self.top_p.unwrap_or(defaults.top_p),
            top_k: self.top_k.unwrap_or(defaults.top_k),
            repetition_penalty: self.repeat_penalty.unwrap_or(defaults.repetition_penalty),
            max_tokens: self.max_tokens.unwrap_or(defaults.max_tokens),
            seed: self.seed.or(defaults.seed),
            stop: if self.stop.is_empty() { defaults.stop } else { self.stop.clone() },
        }
    }
}

/// What one turn produced, for the conversation's history.
struct Turn {
    reasoning: String,
    answer: String,
    failed: bool,
}

pub fn run(a: ChatArgs) -> anyhow::Result<i32> {
    let interactive_out = std::io::stdout().is_terminal();
    if interactive_out && !a.json {
        eprintln!("Loading {} …", a.engine.model.display());
    }
    let engine = match Engine::load(&a.engine.model, a.engine.load_options()) {
        Ok(e) => e,
        Err(e) => {
            if a.json {
                println!("{}", serde_json::to_string(&GenerationEvent::error(&e))?);
            } else {
                eprintln!("fin-r1: {}: {e}", a.engine.model.display());
            }
            return Ok(1);
        }
    };
    let sampling = a.sampling(engine.info().default_sampling());
    let current: Arc<Mutex<Option<CancelToken>>> = Arc::default();
    {
        let current = current.clone();
        // First Ctrl-C stops the answer in progress; with none running it quits.
        ctrlc::set_handler(move || match current.lock().ok().and_then(|c| c.clone()) {
            Some(token) => token.cancel(),
            None => std::process::exit(130),
        })
        .context("installing the Ctrl-C handler")?;
    }
    let mut history: Vec<ChatMessage> = Vec::new();
    let ask = |history: &[ChatMessage]| -> anyhow::Result<Turn> {
        let request = GenerationRequest {
            messages: history.to_vec(),
            system: a.system.clone(),
            sampling: Some(sampling.clone()),
            context_policy: if a.drop_old_turns { ContextPolicy::DropOldestTurns } else { ContextPolicy::Error },
        };
        let mut generation = engine.generate(request);
        if let Ok(mut c) = current.lock() {
            *c = Some(generation.cancel_token());
        }
        let mut view = TerminalView::new(std::io::stdout().lock(), a.json, interactive_out);
        let mut turn = Turn { reasoning: String::new(), answer: String::new(), failed: false };
        while let Some(ev) = generation.blocking_next() {
            view.show(&ev)?;
            match &ev {
                GenerationEvent::Reasoning { text } => turn.reasoning.push_str(text),
                GenerationEvent::Answer { text } => turn.answer.push_str(text),
                GenerationEvent::Usage(u) if !a.json => eprintln!("[{}]", usage_line(u)),
                GenerationEvent::Done(d) if !a.json => {
                    if d.reasoning_unterminated {
                        eprintln!("[the output ended inside the reasoning: no answer was given ({})]", d.reason.as_str());
                    } else if d.reason.as_str() != "end" {
                        eprintln!("[stopped: {}]", d.reason.as_str());
                    }
                    if d.dropped_turns > 0 {
                        eprintln!("[{} oldest turn(s) left out to fit the context]", d.dropped_turns);
                    }
                }
                GenerationEvent::Error { message, .. } => {
                    turn.failed = true;
                    if !a.json {
                        eprintln!("fin-r1: {message}");
                    }
                }
                _ => {}
            }
        }
        if let Ok(mut c) = current.lock() {
            *c = None;
        }
        Ok(turn)
    };

    if let Some(prompt) = &a.prompt {
        history.push(ChatMessage::user(prompt.clone()));
        let turn = ask(&history)?;
        return Ok(i32::from(turn.failed));
    }

    let stdin = std::io::stdin();
    let interactive_in = stdin.is_terminal();
    if interactive_in {
        eprintln!("Ask a question (/reset starts over, /exit or Ctrl-D quits, Ctrl-C stops an answer).");
    }
    let mut lines = stdin.lock().lines();
    loop {
        if interactive_in {
            eprint!("\n> ");
            std::io::stderr().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let question = line.trim();
        match question {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.clear();
                engine.reset_cache();
                eprintln!("(new conversation)");
                continue;
            }
            _ => {}
        }
        history.push(ChatMessage::user(question));
        let turn = ask(&history)?;
        if turn.failed {
            history.pop();
        } else {
            history.push(ChatMessage::assistant(turn.answer, Some(turn.reasoning)));
        }
    }
    Ok(0)
}

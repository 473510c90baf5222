use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use std::collections::BTreeMap;

use fin_r1_core::remote::{RemoteConfig, RemoteEngine};
use fin_r1_core::scenario::{Lang, Library};
use fin_r1_core::terminal::{usage_line, TerminalView};
use fin_r1_engine::{
    CancelToken, ChatMessage, ContextPolicy, Engine, Generation, GenerationEvent, GenerationRequest, ModelFamily,
    SamplingParams,
};

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
    /// Chat through a remote OpenAI-compatible server (vLLM, fin-r1 serve) instead of a local
    /// model, e.g. http://gpu-server:8000/v1.
    #[arg(long, conflicts_with = "model")]
    remote: Option<String>,
    /// The remote server's model name (vLLM's --served-model-name).
    #[arg(long, default_value = "Fin-R1")]
    remote_model: String,
    /// API key for the remote server.
    #[arg(long, env = "FIN_R1_REMOTE_API_KEY", hide_env_values = true)]
    remote_api_key: Option<String>,
    /// A scenario preset (`fin-r1 scenarios list`): its system prompt, sampling and form.
    #[arg(long)]
    scenario: Option<String>,
    /// A form field of the scenario, NAME=VALUE (repeatable); the question fills `{question}`.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Data folder holding the user's presets (default: the platform's app data folder).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// Where answers come from: the in-process engine or a remote server, one event stream either way.
enum Backend {
    Local(Engine),
    Remote { engine: RemoteEngine, defaults: SamplingParams, _runtime: tokio::runtime::Runtime },
}

impl Backend {
    fn generate(&self, request: GenerationRequest) -> Generation {
        match self {
            Backend::Local(e) => e.generate(request),
            Backend::Remote { engine, defaults, .. } => engine.generate(request, defaults),
        }
    }
    fn reset_cache(&self) {
        if let Backend::Local(e) = self {
            e.reset_cache();
        }
    }
    fn default_sampling(&self) -> SamplingParams {
        match self {
            Backend::Local(e) => e.info().default_sampling(),
            Backend::Remote { defaults, .. } => defaults.clone(),
        }
    }
}

fn open_backend(a: &ChatArgs, interactive_out: bool) -> anyhow::Result<Result<Backend, (String, String)>> {
    if let Some(url) = &a.remote {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("starting the network runtime")?;
        let mut config = RemoteConfig::new(url.clone(), a.remote_model.clone());
        config.api_key = a.remote_api_key.clone().filter(|k| !k.is_empty());
        let engine = match RemoteEngine::new(config, runtime.handle().clone()) {
            Ok(e) => e,
            Err(e) => return Ok(Err(("invalid_request".into(), e.to_string()))),
        };
        let family = ModelFamily::detect(Some(&a.remote_model), &a.remote_model);
        return Ok(Ok(Backend::Remote { engine, defaults: family.default_sampling(), _runtime: runtime }));
    }
    let path = a.engine.path()?;
    if interactive_out && !a.json {
        eprintln!("Loading {} …", path.display());
    }
    Ok(Engine::load(path, a.engine.load_options())
        .map(Backend::Local)
        .map_err(|e| (e.kind().to_owned(), format!("{}: {e}", path.display()))))
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
    let engine = match open_backend(&a, interactive_out)? {
        Ok(e) => e,
        Err((kind, message)) => {
            if a.json {
                let ev = GenerationEvent::Error { kind, message };
                println!("{}", serde_json::to_string(&ev)?);
            } else {
                eprintln!("fin-r1: {message}");
            }
            return Ok(1);
        }
    };
    let preset = match &a.scenario {
        None => None,
        Some(id) => {
            let dir = a.data_dir.clone().unwrap_or_else(super::scenarios::default_data_dir).join("scenarios");
            match Library::load(Some(&dir)).get(id) {
                Ok(s) => Some(s.clone()),
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    return Ok(1);
                }
            }
        }
    };
    let mut form = BTreeMap::new();
    for f in &a.fields {
        let Some((k, v)) = f.split_once('=') else {
            eprintln!("fin-r1: --field wants NAME=VALUE, got {f:?}");
            return Ok(1);
        };
        form.insert(k.trim().to_owned(), v.to_owned());
    }
    if preset.is_none() && !form.is_empty() {
        eprintln!("fin-r1: --field needs --scenario");
        return Ok(1);
    }
    // Explicit flags win over the scenario's sampling, which wins over the model's defaults.
    let sampling = a.sampling(preset.as_ref().map(|p| p.sampling.to_params()).unwrap_or_else(|| engine.default_sampling()));
    let system = a.system.clone().or_else(|| preset.as_ref().map(|p| p.system_prompt.trim().to_owned()));
    // The first question goes through the scenario's form; follow-ups are asked as typed.
    let fill = |question: &str| -> Result<String, String> {
        match &preset {
            Some(p) => p.fill(question, &form, Lang::Zh).map_err(|e| format!("scenario {}: {e}", p.id)),
            None => Ok(question.to_owned()),
        }
    };
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
            system: system.clone(),
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
        match fill(prompt) {
            Ok(q) => history.push(ChatMessage::user(q)),
            Err(e) => {
                eprintln!("fin-r1: {e}");
                return Ok(1);
            }
        }
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
        let question = if history.is_empty() {
            match fill(question) {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    continue;
                }
            }
        } else {
            question.to_owned()
        };
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

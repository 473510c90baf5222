use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use fin_r1_core::backend::Backend;
use fin_r1_core::runner::{Runner, SamplingOverrides, TurnRequest, TurnSink, TurnStarted};
use fin_r1_core::store::{MessageStatus, Store};
use fin_r1_core::terminal::{usage_line, TerminalView};
use fin_r1_core::tools::{Approval, ApprovalRequest};
use fin_r1_engine::{CancelToken, ContextPolicy, Engine, GenerationEvent};

use super::{EngineArgs, RemoteArgs};

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
    /// A tool the model may call, over the preset's: `calculator` (exact arithmetic and finance
    /// functions), or `mcp:NAME` for the tools of an MCP server in the data folder's mcp.json
    /// (each call is asked on the terminal first: once, always, or no). Repeatable.
    #[arg(long = "tool", value_name = "NAME", value_parser = tool_name)]
    tools: Vec<String>,
    /// Ask the library (`fin-r1 library add`): the parts that best match each question go with
    /// it, numbered, and the answer cites them as [n] (listed with file and page after it).
    #[arg(long)]
    library: bool,
    /// With --library: one folder of it (its id in `fin-r1 library list`).
    #[arg(long, value_name = "ID", requires = "library")]
    library_folder: Option<i64>,
    /// Ask one collection of the library (`fin-r1 library collection add NAME FILE…`).
    #[arg(long, value_name = "NAME")]
    library_collection: Option<String>,
    /// One JSON object per event and line: started (the stored conversation's and messages' ids),
    /// prefill (prompt tokens read so far), reasoning, answer, usage, done, error.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
    /// A scenario preset (`fin-r1 scenarios list`): its system prompt, sampling and form.
    #[arg(long)]
    scenario: Option<String>,
    /// A document for the (first) question: CSV, .xlsx/.xls/.ods or .docx (repeatable). What
    /// does not fit the context goes in as the parts that best match the question, and the
    /// terminal says which (`fin-r1 documents extract FILE` shows it all).
    #[arg(long = "attach", value_name = "FILE")]
    attach: Vec<std::path::PathBuf>,
    /// A form field of the scenario, NAME=VALUE (repeatable); the question fills `{question}`.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Data folder: the conversation store and the user's presets (default: the platform's app
    /// data folder, or $FIN_R1_DATA_DIR).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Continue a stored conversation: its id, or `latest` (`fin-r1 conversations list`).
    #[arg(long, conflicts_with = "scenario")]
    conversation: Option<String>,
}

fn open_backend(a: &ChatArgs, store: &Store, runtime: &tokio::runtime::Runtime, interactive_out: bool) -> Result<Backend, (fin_r1_engine::ErrorKind, String)> {
    if let Some(config) = a.remote.config() {
        return Backend::remote(config, runtime.handle().clone()).map_err(|e| (fin_r1_engine::ErrorKind::InvalidRequest, e.to_string()));
    }
    let path = a.engine.path().map_err(|e| (fin_r1_engine::ErrorKind::InvalidRequest, e.to_string()))?;
    if interactive_out && !a.json {
        eprintln!("Loading {} …", path.display());
    }
    // Cached prompt prefixes are keyed by the file's hash: hashed once, then recorded (the
    // answer's provenance needs it anyway), so a short-lived process finds its prefixes.
    let sha256 = runtime.block_on(store.model_sha256(path)).ok();
    let options = fin_r1_engine::LoadOptions { prefix_cache: Some(fin_r1_core::paths::prefix_cache(sha256)), ..a.engine.load_options() };
    Engine::load(path, options).map(|e| Backend::Local(Arc::new(e))).map_err(|e| (e.kind(), format!("{}: {e}", path.display())))
}

impl ChatArgs {
    fn overrides(&self) -> SamplingOverrides {
        SamplingOverrides {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            repetition_penalty: self.repeat_penalty,
            max_tokens: self.max_tokens,
            seed: self.seed,
            stop: (!self.stop.is_empty()).then(|| self.stop.clone()),
        }
    }
}

fn tool_name(s: &str) -> Result<String, String> {
    if fin_r1_core::tools::is_tool_name(s) {
        Ok(s.to_owned())
    } else {
        Err("a tool is `calculator` or `mcp:NAME` (an MCP server in mcp.json)".into())
    }
}

/// The sources an answer was given: those it cited first, then a count of the rest; a
/// citation of a number it was not given is named.
fn source_lines(answer: &str, sources: &[fin_r1_core::store::AnswerSource]) {
    if sources.is_empty() {
        return;
    }
    let cited = fin_r1_core::filings::citations(answer, sources.len());
    let mut shown = std::collections::BTreeSet::new();
    for c in &cited {
        if !c.known {
            eprintln!("[cites [{}], which it was not given]", c.n);
        } else if shown.insert(c.n) {
            if let Some(s) = sources.iter().find(|s| s.n == i64::from(c.n)) {
                eprintln!("[{}] {} · sha256 {}", s.n, s.label, &s.sha256.get(..12).unwrap_or(""));
            }
        }
    }
    let uncited = sources.len().saturating_sub(shown.len());
    if uncited > 0 {
        eprintln!("[{} of the {} library passages given were not cited]", uncited, sources.len());
    }
}

/// Standard input, a line at a time, read on one thread: the question loop and an MCP call's
/// approval take lines from it in turn, and an approval given up (timed out, stopped) takes
/// none, so the analyst's next question is not eaten.
fn input() -> &'static Mutex<std::sync::mpsc::Receiver<String>> {
    static INPUT: std::sync::OnceLock<Mutex<std::sync::mpsc::Receiver<String>>> = std::sync::OnceLock::new();
    INPUT.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            loop {
                let mut line = String::new();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Mutex::new(rx)
    })
}

/// The analyst's answer to an MCP call: the next line of input (typed, or a script's line);
/// the end of input is no.
fn approval_of(line: &str) -> Approval {
    match line.trim().to_lowercase().as_str() {
        "o" | "once" | "y" | "yes" => Approval::Once,
        "a" | "always" => Approval::Always,
        _ => Approval::Deny,
    }
}

/// The terminal as a turn's sink; remembers how to stop the answer in progress.
struct Terminal {
    view: TerminalView<std::io::Stdout>,
    json: bool,
    current: Arc<Mutex<Option<CancelToken>>>,
    conversation: Option<i64>,
    /// A "reading the prompt" line is on stderr (a terminal) and must be cleared.
    progress_line: bool,
    /// The answer so far, for its calculation check when it ends.
    written: (String, String),
    /// The library's parts the answer was given, listed after it with what it cited.
    sources: Vec<fin_r1_core::store::AnswerSource>,
    /// The library is asked with each question (`--library`, `--library-collection`).
    asks_library: bool,
}

impl TurnSink for Terminal {
    fn started(&mut self, t: &TurnStarted) {
        if let Ok(mut c) = self.current.lock() {
            *c = Some(t.cancel.clone());
        }
        self.conversation = Some(t.conversation.id);
        self.sources = t.sources.clone();
        if self.json {
            let line = json!({
                "type": "started",
                "conversation_id": t.conversation.id,
                "conversation_uid": t.conversation.uid,
                "question_id": t.question.id,
                "answer_id": t.answer.id,
                "attachments": t.attachments,
                "notices": t.notices,
                "sources": t.sources,
            });
            println!("{line}");
        } else {
            for a in &t.attachments {
                eprintln!("[{}: {}]", a.meta.file_name, a.included_summary);
                // What the reader left out or changed, said where the analyst reads the answer.
                for n in &a.meta.notes {
                    eprintln!("[{}: ⚠ {n}]", a.meta.file_name);
                }
            }
            for n in &t.notices {
                eprintln!("[{n}]");
            }
            // Said before the answer: it comes from the model alone (which is told so too).
            if self.asks_library && t.sources.is_empty() {
                eprintln!("[no library passage matches this question: the answer is the model's own, with nothing to cite]");
            }
        }
    }

    fn event(&mut self, ev: &GenerationEvent) {
        if let GenerationEvent::Prefill { done, total } = ev {
            if !self.json && std::io::stderr().is_terminal() {
                eprint!("\r[reading the prompt: {done} / {total} tokens]");
                self.progress_line = true;
            }
        } else if std::mem::take(&mut self.progress_line) {
            eprint!("\r\x1b[K");
        }
        // A closed stdout (the reader went away) must not stop the answer being saved.
        let _ = self.view.show(ev);
        if self.json {
            return;
        }
        match ev {
            GenerationEvent::Reasoning { text } => self.written.0.push_str(text),
            GenerationEvent::Answer { text } => self.written.1.push_str(text),
            GenerationEvent::Usage(u) => eprintln!("[{}]", usage_line(u)),
            GenerationEvent::Done(d) => {
                let (reasoning, answer) = std::mem::take(&mut self.written);
                calc_lines(&reasoning, &answer);
                source_lines(&answer, &std::mem::take(&mut self.sources));
                if d.reasoning_unterminated {
                    eprintln!("[the output ended inside the reasoning: no answer was given ({})]", d.reason.as_str());
                } else if d.reason.as_str() != "end" {
                    eprintln!("[stopped: {}]", d.reason.as_str());
                }
                if d.dropped_turns > 0 {
                    eprintln!("[{} oldest turn(s) left out to fit the context]", d.dropped_turns);
                }
            }
            GenerationEvent::Error { message, .. } => eprintln!("fin-r1: {message}"),
            _ => {}
        }
    }

    fn approve(&mut self, r: &ApprovalRequest) -> Option<tokio::sync::oneshot::Receiver<Approval>> {
        if self.json {
            println!("{}", json!({ "type": "approval", "request": r }));
        } else {
            eprintln!("\n[the model asks to run {} on MCP server {:?} with {}]", r.tool, r.server, r.call.arguments);
            eprint!("Allow? [o]nce / [a]lways for this tool / [N]o (not run after {} s): ", r.timeout_secs);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<Approval>();
        // Waits on its own thread, so the turn can time out or be stopped meanwhile; once the
        // turn stops waiting, so does this, without taking a line.
        std::thread::spawn(move || loop {
            if tx.is_closed() {
                break;
            }
            let got = match input().lock() {
                Ok(lines) => lines.recv_timeout(std::time::Duration::from_millis(100)),
                Err(_) => Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
            };
            match got {
                Ok(line) => {
                    let _ = tx.send(approval_of(&line));
                    break;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = tx.send(Approval::Deny);
                    break;
                }
            }
        });
        Some(rx)
    }
}

/// The answer's calculations checked, under it: a count, and each differing result recomputed.
fn calc_lines(reasoning: &str, answer: &str) {
    let mut summary = fin_r1_calc::Summary::default();
    let mut differing = Vec::new();
    for (part, text) in [("reasoning", reasoning), ("answer", answer)] {
        let findings = fin_r1_calc::check(text);
        summary.add(fin_r1_calc::summarise(&findings));
        for f in findings.iter().filter(|f| f.verdict == fin_r1_calc::Verdict::Differs) {
            differing.push(format!("  ≠ {part}: {}  (exact: {})", f.statement_text(text), f.recomputed));
        }
    }
    if summary.checked > 0 {
        eprintln!("[calculations: {} checked · {} agree · {} differ]", summary.checked, summary.agree, summary.differ);
        for d in differing {
            eprintln!("{d}");
        }
    }
}

fn report_error(json: bool, kind: fin_r1_engine::ErrorKind, message: &str) {
    if json {
        let ev = GenerationEvent::Error { kind, message: message.to_owned() };
        if let Ok(line) = serde_json::to_string(&ev) {
            println!("{line}");
        }
    } else {
        eprintln!("fin-r1: {message}");
    }
}

/// Reads an attached file as the app does: in the reader child (this program run as
/// `documents extract --child`), so a file that crashes or exhausts a reader takes only the
/// child with it, never the chat holding the store.
fn read_document(path: &std::path::Path) -> Result<fin_r1_core::documents::Document, fin_r1_core::documents::DocumentError> {
    use fin_r1_core::documents::child::{extract_in_child, reader_program, ChildLimits};
    let never = std::sync::atomic::AtomicBool::new(false);
    extract_in_child(&reader_program(), path, ChildLimits::default(), &mut |_, _| {}, &never)
}

pub fn run(a: ChatArgs) -> anyhow::Result<i32> {
    let interactive_out = std::io::stdout().is_terminal();
    let runtime = fin_r1_core::rt::io("fin-r1-chat").context("starting the async runtime")?;
    // Read before anything is stored: an unreadable file is refused with nothing lost.
    let mut documents = Vec::new();
    for f in &a.attach {
        match read_document(f) {
            Ok(d) => documents.push(d),
            Err(e) => {
                report_error(a.json, e.kind(), &e.to_string());
                return Ok(1);
            }
        }
    }
    let mut form = BTreeMap::new();
    for f in &a.fields {
        let Some((k, v)) = f.split_once('=') else {
            eprintln!("fin-r1: --field wants NAME=VALUE, got {f:?}");
            return Ok(1);
        };
        form.insert(k.trim().to_owned(), v.to_owned());
    }
    // A preset's file field takes a path: the file is attached, the form keeps its name.
    if let Some(id) = &a.scenario {
        if let Ok(s) = fin_r1_core::scenario::Library::load(Some(&super::data_dir(&a.data_dir).join("scenarios"))).get(id) {
            for f in s.fields.iter().filter(|f| f.kind == fin_r1_core::scenario::FieldKind::File) {
                let Some(path) = form.get(&f.name).filter(|v| !v.trim().is_empty()).map(std::path::PathBuf::from) else { continue };
                match read_document(&path) {
                    Ok(d) => {
                        form.insert(f.name.clone(), d.meta.file_name.clone());
                        documents.push(d);
                    }
                    Err(e) => {
                        report_error(a.json, e.kind(), &e.to_string());
                        return Ok(1);
                    }
                }
            }
        }
    }
    let documents = std::cell::RefCell::new(documents);
    if a.scenario.is_none() && !form.is_empty() {
        eprintln!("fin-r1: --field needs --scenario");
        return Ok(1);
    }
    let data_dir = super::data_dir(&a.data_dir);
    let store = match runtime.block_on(Store::open_or_recover(&data_dir)) {
        Ok((store, report)) => {
            if report.interrupted > 0 && !a.json {
                eprintln!("({} answer(s) cut off by an earlier exit were kept, marked interrupted)", report.interrupted);
            }
            if let Some(r) = &report.recovered {
                eprintln!("fin-r1: {}", r.notice());
            }
            store
        }
        Err(e) => {
            report_error(a.json, e.kind(), &e.to_string());
            return Ok(1);
        }
    };
    let mut conversation = match &a.conversation {
        None => None,
        Some(reference) => match runtime.block_on(store.resolve(reference)) {
            Ok(c) => Some(c.id),
            Err(e) => {
                report_error(a.json, e.kind(), &e.to_string());
                return Ok(1);
            }
        },
    };
    // So is a collection that does not exist.
    let collection = match &a.library_collection {
        Some(name) => match runtime.block_on(fin_r1_core::filings::collection_named(&store, name)) {
            Ok(c) => Some(c.id),
            Err(e) => {
                report_error(a.json, e.kind(), &e.to_string());
                return Ok(1);
            }
        },
        None => None,
    };
    // A preset that does not exist is refused before a model is loaded.
    if let Some(id) = &a.scenario {
        if let Err(e) = fin_r1_core::scenario::Library::load(Some(&data_dir.join("scenarios"))).get(id) {
            eprintln!("fin-r1: {e}");
            return Ok(1);
        }
    }
    let backend = match open_backend(&a, &store, &runtime, interactive_out) {
        Ok(b) => Arc::new(b),
        Err((kind, message)) => {
            report_error(a.json, kind, &message);
            return Ok(1);
        }
    };
    let runner = Runner::new(store.clone(), backend.clone(), Some(data_dir.join("scenarios"))).with_mcp(Arc::new(fin_r1_core::mcp::McpHub::new(&data_dir)));
    // The sampling defaults set in the app's Settings apply here too (same data folder).
    let user_sampling = runtime.block_on(fin_r1_core::settings::load(&store)).map(|l| l.settings.sampling).unwrap_or_default();

    let current: Arc<Mutex<Option<CancelToken>>> = Arc::default();
    {
        let current = current.clone();
        // First Ctrl-C stops the answer in progress (it is saved as cancelled); with none
        // running it quits.
        ctrlc::set_handler(move || match current.lock().ok().and_then(|c| c.clone()) {
            Some(token) => token.cancel(),
            None => std::process::exit(130),
        })
        .context("installing the Ctrl-C handler")?;
    }
    let mut terminal = Terminal {
        view: TerminalView::new(std::io::stdout(), a.json, interactive_out),
        json: a.json,
        current: current.clone(),
        conversation,
        progress_line: false,
        written: Default::default(),
        sources: Vec::new(),
        asks_library: a.library || a.library_collection.is_some(),
    };
    let policy = if a.drop_old_turns { ContextPolicy::DropOldestTurns } else { ContextPolicy::Error };
    // Returns whether the turn failed.
    let ask = |conversation: Option<i64>, question: &str, terminal: &mut Terminal| -> bool {
        let req = TurnRequest {
            scenario: a.scenario.clone(),
            system: a.system.clone(),
            form: form.clone(),
            sampling: a.overrides(),
            defaults: user_sampling.clone(),
            context_policy: policy,
            // The documents go with the first question.
            attachments: std::mem::take(&mut *documents.borrow_mut()),
            tools: a.tools.clone(),
            library: (a.library || collection.is_some()).then_some(fin_r1_core::runner::LibraryScope { folder: a.library_folder, collection }),
            ..TurnRequest::ask(conversation, question)
        };
        let result = runtime.block_on(runner.run(req, terminal));
        if let Ok(mut c) = current.lock() {
            *c = None;
        }
        match result {
            Err(e) => {
                report_error(a.json, e.kind(), &e.to_string());
                true
            }
            Ok(r) => {
                if let Some(e) = &r.save_error {
                    report_error(a.json, e.kind(), &format!("the answer was shown but not saved: {e}"));
                } else if !a.json && interactive_out {
                    eprintln!("[saved in conversation {}]", r.conversation_id);
                }
                r.save_error.is_some() || r.answer.status == MessageStatus::Error
            }
        }
    };

    if let Some(prompt) = &a.prompt {
        let failed = ask(conversation, prompt, &mut terminal);
        runtime.block_on(store.close());
        return Ok(i32::from(failed));
    }

    let stdin = std::io::stdin();
    let interactive_in = stdin.is_terminal();
    if interactive_in {
        eprintln!("Ask a question (/new starts a new conversation, /exit or Ctrl-D quits, Ctrl-C stops an answer).");
    }
    loop {
        if interactive_in {
            eprint!("\n> ");
            std::io::stderr().flush()?;
        }
        // From the one reader of stdin: an MCP call's approval takes lines from it too.
        let next = input().lock().map_err(|_| anyhow::anyhow!("standard input's reader failed"))?.recv();
        let Ok(line) = next else { break };
        let question = line.trim();
        match question {
            "" => continue,
            "/exit" | "/quit" => break,
            "/new" | "/reset" => {
                conversation = None;
                terminal.conversation = None;
                backend.reset_cache();
                eprintln!("(new conversation)");
                continue;
            }
            _ => {}
        }
        ask(conversation, question, &mut terminal);
        conversation = terminal.conversation;
    }
    runtime.block_on(store.close());
    Ok(0)
}

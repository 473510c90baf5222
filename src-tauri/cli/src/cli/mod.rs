mod backup;
mod bench;
mod chat;
mod check;
mod conversations;
mod documents;
mod eval;
mod export;
mod inspect;
mod library;
mod mcp;
mod models;
mod render;
mod scenarios;
mod serve;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use fin_r1_engine::DeviceChoice;

#[derive(Parser, Debug)]
#[command(
    name = "fin-r1",
    version,
    about = "Fin-R1 Desktop's engine on the command line: chat with a local GGUF reasoning model, inspect and benchmark model files"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask a question (or, without one, talk in a loop); the reasoning streams apart from the answer.
    Chat(chat::ChatArgs),
    /// Stored conversations: list, show, search, rename, delete, restore.
    Conversations(conversations::ConversationsArgs),
    /// Models: download from a hub (resumable, hash-checked).
    Models(models::ModelsArgs),
    /// A conversation as a report (Markdown, HTML, PDF) or a conversation file (JSON).
    Export(export::ExportArgs),
    /// Import a conversation file written by `export --format json`.
    Import(export::ImportArgs),
    /// Describe a GGUF model file and check that it loads.
    Inspect(inspect::InspectArgs),
    /// Measure load time, prefill and decode speed and peak memory.
    Bench(bench::BenchArgs),
    /// Serve the model on an OpenAI-compatible API (loopback by default).
    Serve(serve::ServeArgs),
    /// Scenario presets: list, show, validate, import, export.
    Scenarios(scenarios::ScenariosArgs),
    /// Benchmarks: run a model on finance benchmark files, score outputs, compare runs.
    Eval(eval::EvalArgs),
    /// Markdown on standard input to sanitised HTML (tables, math as MathML, highlighted code).
    Render(render::RenderArgs),
    /// Check the calculations a text states: each result recomputed exactly, compared at the
    /// precision it was written in (exit code 1 where one differs).
    Check(check::CheckArgs),
    /// Serve Fin-R1 to other agents over MCP (stdio): ask under a preset, search and fetch
    /// conversations, check calculations, the finance calculator.
    Mcp(mcp::McpArgs),
    /// Documents for the conversation: what the model will see of a file.
    Documents(documents::DocumentsArgs),
    /// Backups of the conversation store: list, create, restore.
    Backup(backup::BackupArgs),
    /// The library of filings: folders read once, searched for each question asked of it
    /// (`chat --library`), answers citing the page.
    Library(library::LibraryArgs),
}

/// Answers from an OpenAI-compatible server instead of a local model: one set of options for
/// every command that can ask one (chat, eval run).
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// A remote OpenAI-compatible server (vLLM, fin-r1 serve) instead of --model, up to /v1,
    /// e.g. http://gpu-server:8000/v1.
    #[arg(long, conflicts_with = "model")]
    pub remote: Option<String>,
    /// The remote server's model name (vLLM's --served-model-name).
    #[arg(long, default_value = "Fin-R1")]
    pub remote_model: String,
    /// API key for the remote server.
    #[arg(long, env = "FIN_R1_REMOTE_API_KEY", hide_env_values = true)]
    pub remote_api_key: Option<String>,
}

impl RemoteArgs {
    /// The server to ask, when one is named.
    pub fn config(&self) -> Option<fin_r1_core::remote::RemoteConfig> {
        let url = self.remote.as_ref()?;
        let mut config = fin_r1_core::remote::RemoteConfig::new(url.clone(), self.remote_model.clone());
        config.api_key = self.remote_api_key.clone().filter(|k| !k.is_empty());
        Some(config)
    }
}

/// Options shared by the commands that load a model.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// GGUF model file.
    #[arg(long, short = 'm')]
    pub model: Option<PathBuf>,
    /// cpu, cuda or metal.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Context size in tokens (default: the model's, at most 16384).
    #[arg(long)]
    pub ctx_size: Option<usize>,
    /// A Hugging Face tokenizer.json to use instead of the model file's own tokenizer.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

impl EngineArgs {
    pub fn path(&self) -> anyhow::Result<&Path> {
        self.model.as_deref().ok_or_else(|| anyhow::anyhow!("a model is needed: --model FILE.gguf"))
    }

    pub fn load_options(&self) -> fin_r1_engine::LoadOptions {
        fin_r1_engine::LoadOptions {
            device: self.device,
            context: self.ctx_size,
            tokenizer: self.tokenizer.clone(),
            prefix_cache: Some(fin_r1_core::paths::prefix_cache(None)),
        }
    }
}

/// `--data-dir`, else `$FIN_R1_DATA_DIR`, else the platform's app data folder.
pub fn data_dir(given: &Option<PathBuf>) -> PathBuf {
    given.clone().unwrap_or_else(fin_r1_core::paths::default_data_dir)
}

/// Opens the conversation store (a damaged one kept aside and its newest backup restored, as
/// the app does), or says why not (and the command exits 1).
pub async fn open_store(data_dir: &Path) -> Option<fin_r1_core::store::Store> {
    match fin_r1_core::store::Store::open_or_recover(data_dir).await {
        Ok((s, report)) => {
            if let Some(r) = &report.recovered {
                eprintln!("fin-r1: {}", r.notice());
            }
            Some(s)
        }
        Err(e) => {
            eprintln!("fin-r1: {e}");
            None
        }
    }
}

impl Cli {
    pub fn threads(&self) -> Option<usize> {
        match &self.command {
            Command::Chat(a) => a.engine.threads,
            Command::Bench(a) => a.engine.threads,
            Command::Serve(a) => a.engine.threads,
            Command::Mcp(a) => a.engine.threads,
            Command::Eval(_) => None,
            Command::Inspect(_)
            | Command::Export(_)
            | Command::Import(_)
            | Command::Models(_)
            | Command::Conversations(_)
            | Command::Scenarios(_)
            | Command::Render(_)
            | Command::Check(_)
            | Command::Documents(_)
            | Command::Backup(_)
            | Command::Library(_) => None,
        }
    }
}

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Chat(a) => chat::run(a),
        Command::Conversations(a) => conversations::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => export::run_import(a),
        Command::Models(a) => models::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Scenarios(a) => scenarios::run(a),
        Command::Render(a) => render::run(a),
        Command::Check(a) => check::run(a),
        Command::Mcp(a) => mcp::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Documents(a) => documents::run(a),
        Command::Backup(a) => backup::run(a),
        Command::Library(a) => library::run(a),
    }
}

/// An argument given by its kebab-case name, as the core's enums are serialized (the core does
/// not depend on clap).
pub fn kebab<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

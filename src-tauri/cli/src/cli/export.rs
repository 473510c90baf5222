use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use fin_r1_core::store::Store;
use fin_r1_report::{self as report, Format, ReasoningMode, ReportOptions};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Data folder holding the conversations (default: the platform's app data folder, or
    /// $FIN_R1_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A conversation id, or `latest` (the most recently updated).
    #[arg(long, conflicts_with = "all")]
    conversation: Option<String>,
    /// Every conversation, one report each, into the folder given with -o.
    #[arg(long)]
    all: bool,
    /// md, html, pdf, docx (Word) or json (json holds every branch and imports back with
    /// `fin-r1 import`).
    #[arg(long, default_value = "md")]
    format: String,
    /// The reasoning chain: full, collapsed (a fold the reader opens) or none.
    #[arg(long, default_value = "full")]
    reasoning: ReasoningMode,
    /// A title over the conversation's own.
    #[arg(long)]
    title: Option<String>,
    /// The report file (a folder with --all).
    #[arg(short, long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A conversation file written by `fin-r1 export --format json`.
    file: PathBuf,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

async fn one(store: &Store, data_dir: &Path, id: i64, a: &ExportArgs, format: Format, out: &Path) -> anyhow::Result<()> {
    let opts = ReportOptions { reasoning: a.reasoning, title: a.title.clone(), messages: None };
    let bytes = report::export(store, id, Some(&fin_r1_core::paths::scenario_dir(data_dir)), format, &opts).await?;
    report::write_atomic(out, &bytes)?;
    Ok(())
}

fn safe_name(title: &str) -> String {
    let s: String = fin_r1_core::title::first_line(title).chars().map(|c| if c.is_alphanumeric() || c == '_' { c } else { '-' }).collect();
    // " - " in a title is one dash in the name, not three.
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    s.chars().take(60).collect()
}

pub fn run(a: ExportArgs) -> anyhow::Result<i32> {
    let format: Format = match a.format.parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fin-r1: --{e}");
            return Ok(2);
        }
    };
    let ext = format.extension();
    let runtime = fin_r1_core::rt::local()?;
    let data_dir = super::data_dir(&a.data_dir);
    runtime.block_on(async {
        let Some(store) = super::open_store(&data_dir).await else { return Ok(1) };
        if a.all {
            std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
            let list = store.list_conversations(i64::MAX).await?;
            for s in &list {
                let c = &s.conversation;
                let file = a.out.join(format!("{:04}-{}.{ext}", c.id, safe_name(&c.title)));
                one(&store, &data_dir, c.id, &a, format, &file).await?;
                println!("{}", file.display());
            }
            eprintln!("{} conversation(s) exported to {}", list.len(), a.out.display());
            return Ok(0);
        }
        let reference = a.conversation.clone().unwrap_or_else(|| "latest".into());
        let c = match store.resolve(&reference).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("fin-r1: {e}");
                return Ok(1);
            }
        };
        one(&store, &data_dir, c.id, &a, format, &a.out).await?;
        println!("{}", a.out.display());
        Ok(0)
    })
}

pub fn run_import(a: ImportArgs) -> anyhow::Result<i32> {
    let file = match report::read_file(&a.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fin-r1: {}: {e}", a.file.display());
            return Ok(1);
        }
    };
    let runtime = fin_r1_core::rt::local()?;
    let data_dir = super::data_dir(&a.data_dir);
    runtime.block_on(async {
        let Some(store) = super::open_store(&data_dir).await else { return Ok(1) };
        match report::import(&store, &file).await {
            Ok(c) => {
                println!("{}", c.id);
                eprintln!("Imported “{}” as conversation {} ({} messages).", fin_r1_core::title::short(&c.title, 60), c.id, file.messages.len());
                Ok(0)
            }
            Err(e) => {
                eprintln!("fin-r1: {}: {e}", a.file.display());
                Ok(1)
            }
        }
    })
}

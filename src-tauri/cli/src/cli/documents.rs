use std::path::PathBuf;

use clap::{Args, Subcommand};
use fin_r1_core::documents::child::{self, ChildLimits};

#[derive(Args, Debug)]
pub struct DocumentsArgs {
    #[command(subcommand)]
    command: DocumentsCommand,
}

#[derive(Subcommand, Debug)]
enum DocumentsCommand {
    /// Print exactly what the model will see of FILE (CSV, .xlsx/.xls/.ods, .docx): its text
    /// and its tables as Markdown tables; notes (hidden sheets left out, the encoding) first.
    Extract {
        file: PathBuf,
        /// The document as JSON: file, type, size, SHA-256, notes and blocks.
        #[arg(long)]
        json: bool,
        /// Run as the app's reader child: JSON messages a line (progress, then the document or
        /// the error), under the limits below.
        #[arg(long, hide = true)]
        child: bool,
        #[arg(long, hide = true, default_value_t = 4096)]
        max_memory_mb: u64,
        #[arg(long, hide = true, default_value_t = 300)]
        max_cpu_seconds: u64,
    },
}

pub fn run(a: DocumentsArgs) -> anyhow::Result<i32> {
    match a.command {
        DocumentsCommand::Extract { file, child: true, max_memory_mb, max_cpu_seconds, .. } => {
            let limits = ChildLimits { memory_bytes: max_memory_mb << 20, cpu_seconds: max_cpu_seconds, ..ChildLimits::default() };
            Ok(child::serve(&file, limits, &mut std::io::stdout().lock()))
        }
        DocumentsCommand::Extract { file, json, .. } => match fin_r1_core::documents::extract(&file) {
            Ok(doc) if json => {
                println!("{}", serde_json::to_string_pretty(&doc)?);
                Ok(0)
            }
            Ok(doc) => {
                print!("{}", doc.to_markdown());
                Ok(0)
            }
            Err(e) => {
                eprintln!("fin-r1: {e}");
                Ok(1)
            }
        },
    }
}

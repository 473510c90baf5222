use std::path::PathBuf;

use clap::{Args, Subcommand};

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
    },
}

pub fn run(a: DocumentsArgs) -> anyhow::Result<i32> {
    match a.command {
        DocumentsCommand::Extract { file, json } => match fin_r1_core::documents::extract(&file) {
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

//! `fin-r1 library add|list|files|remove|reindex|search`: the library of filings the app and
//! `fin-r1 chat --library` answer from (the same store, the same data folder).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use fin_r1_core::filings::{self, ScanProgress, ScanReport};
use fin_r1_core::store::Store;

#[derive(Args, Debug)]
pub struct LibraryArgs {
    #[command(subcommand)]
    command: LibraryCommand,
    /// Data folder holding the store (default: the platform's app data folder, or
    /// $FIN_R1_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum LibraryCommand {
    /// Add a folder and read it (PDF, Word, workbooks, CSV, in folders below it too).
    Add { folder: PathBuf },
    /// The folders, with their files, pages and parts.
    List,
    /// A folder's files: read, refused (with the reason) or gone.
    Files { id: i64 },
    /// Remove a folder and what was read from it (answers keep the sources they cited).
    Remove { id: i64 },
    /// Read again what changed in a folder (all folders without an id).
    Reindex { id: Option<i64> },
    /// The parts that best match a question, as `chat --library` would give them.
    Search {
        question: String,
        /// One folder only.
        #[arg(long)]
        folder: Option<i64>,
        /// Tokens the parts may take.
        #[arg(long, default_value_t = 4000)]
        budget: usize,
    },
}

fn progress_line(p: &ScanProgress) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K[{}/{} files · {} pages · {:.1} s] {}", p.done, p.total, p.pages, p.ms as f64 / 1000.0, p.file);
        let _ = std::io::stderr().flush();
    }
}

fn print_report(r: &ScanReport, json: bool) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    if r.folder_missing {
        println!("folder {}: gone (what was read from it is kept until it is removed)", r.folder_id);
        return;
    }
    let secs = r.ms as f64 / 1000.0;
    let rate = if secs > 0.0 { f64::from(r.pages) / secs } else { 0.0 };
    println!(
        "folder {}: {} added, {} updated, {} unchanged, {} refused, {} gone; {} pages in {secs:.1} s ({rate:.1} pages/s)",
        r.folder_id, r.added, r.updated, r.unchanged, r.refused, r.missing, r.pages
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
}

async fn scan(store: &Store, id: i64, json: bool) -> anyhow::Result<ScanReport> {
    let stop = Arc::new(AtomicBool::new(false));
    let report = filings::scan(store, id, filings::child_reader(), &mut progress_line, &stop).await?;
    print_report(&report, json);
    Ok(report)
}

pub fn run(a: LibraryArgs) -> anyhow::Result<i32> {
    let runtime = fin_r1_core::rt::local().context("starting the async runtime")?;
    let data_dir = super::data_dir(&a.data_dir);
    runtime.block_on(async {
        let Some(store) = super::open_store(&data_dir).await else { return Ok(1) };
        let code = match a.command {
            LibraryCommand::Add { folder } => match filings::add_folder(&store, &folder).await {
                Ok(f) => {
                    if !a.json {
                        println!("folder {}: {}", f.id, f.path);
                    }
                    let r = scan(&store, f.id, a.json).await?;
                    let _ = r;
                    0
                }
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    1
                }
            },
            LibraryCommand::List => {
                let folders = store.library_folders().await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&folders)?);
                } else if folders.is_empty() {
                    println!("The library is empty: fin-r1 library add FOLDER");
                } else {
                    for f in &folders {
                        let gone = if f.status == "missing" { "  (folder gone)" } else { "" };
                        println!(
                            "{:>4}  {}  {} files ({} read, {} refused) · {} pages · {} parts{gone}",
                            f.id, f.path, f.files, f.indexed, f.refused, f.pages, f.parts
                        );
                    }
                }
                0
            }
            LibraryCommand::Files { id } => {
                let files = store.library_files(id).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&files)?);
                } else {
                    for f in &files {
                        let pages = f.pages.map(|p| format!("{p} pages")).unwrap_or_default();
                        match f.status.as_str() {
                            "refused" => println!("refused  {}  {}", f.path, f.error.as_deref().unwrap_or("")),
                            "missing" => println!("gone     {}", f.path),
                            _ => println!("read     {}  {pages}  {} parts", f.path, f.parts),
                        }
                        for n in &f.notes {
                            println!("         note: {n}");
                        }
                    }
                }
                0
            }
            LibraryCommand::Remove { id } => {
                if store.remove_library_folder(id).await? {
                    println!("folder {id} removed");
                    0
                } else {
                    eprintln!("fin-r1: no library folder has id {id}");
                    1
                }
            }
            LibraryCommand::Reindex { id } => {
                let ids: Vec<i64> = match id {
                    Some(id) => vec![id],
                    None => store.library_folders().await?.iter().map(|f| f.id).collect(),
                };
                let mut code = 0;
                for id in ids {
                    match scan(&store, id, a.json).await {
                        Ok(_) => {}
                        Err(e) => {
                            eprintln!("fin-r1: {e}");
                            code = 1;
                        }
                    }
                }
                code
            }
            LibraryCommand::Search { question, folder, budget } => {
                let hits = filings::retrieve(&store, folder, &question, budget).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&hits)?);
                } else if hits.is_empty() {
                    println!("No part of the library matches.");
                } else {
                    for (i, h) in hits.iter().enumerate() {
                        let text: String = h.text.split_whitespace().collect::<Vec<_>>().join(" ");
                        let short: String = text.chars().take(160).collect();
                        println!("[{}] {}\n    {short}{}", i + 1, h.label, if short.len() < text.len() { "…" } else { "" });
                    }
                }
                0
            }
        };
        store.close().await;
        Ok(code)
    })
}

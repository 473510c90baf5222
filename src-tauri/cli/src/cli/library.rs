//! `fin-r1 library add|list|files|remove|reindex|search|collection`: the library of filings the app and
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
        /// One collection only (its name).
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
        /// Tokens the parts may take.
        #[arg(long, default_value_t = 4000)]
        budget: usize,
    },
    /// Collections: hand-picked sets of the library's files, asked with
    /// `chat --library-collection NAME`.
    Collection {
        #[command(subcommand)]
        command: CollectionCommand,
    },
}

#[derive(Subcommand, Debug)]
enum CollectionCommand {
    /// The collections and their files.
    List,
    /// Add files the library holds to a collection (made if new).
    Add {
        name: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Take files out of a collection (they stay in the library).
    Remove {
        name: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Delete a collection (its files stay in the library).
    Delete { name: String },
}

/// "1 page", "2 pages".
fn count(n: impl Into<i64>, one: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn print_collection(c: &fin_r1_core::store::LibraryCollection) {
    println!("{} ({})", c.name, count(i64::try_from(c.files.len()).unwrap_or(i64::MAX), "file"));
    for f in &c.files {
        println!("  {}{}", f.path, if f.status == "indexed" { String::new() } else { format!(" · {}", f.status) });
    }
}

fn progress_line(p: &ScanProgress) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K[{}/{} files · {} · {:.1} s] {}", p.done, p.total, count(p.pages, "page"), p.ms as f64 / 1000.0, p.file);
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

async fn collection(store: &Store, command: CollectionCommand, json: bool) -> Result<(), filings::FilingsError> {
    match command {
        CollectionCommand::List => {
            let all = store.library_collections().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else if all.is_empty() {
                println!("No collections: `fin-r1 library collection add NAME FILE…` makes one.");
            }
            if !json {
                all.iter().for_each(print_collection);
            }
        }
        CollectionCommand::Add { name, files } => {
            let c = filings::add_to_collection(store, &name, &files).await?;
            if json {
                println!("{}", serde_json::to_string(&c).unwrap_or_default());
            } else {
                print_collection(&c);
            }
        }
        CollectionCommand::Remove { name, files } => {
            let c = filings::collection_named(store, &name).await?;
            // A file gone from the library can still be taken out by the path it had.
            let paths: Vec<String> = files
                .iter()
                .map(|f| {
                    let given = f.to_string_lossy().into_owned();
                    let real = std::fs::canonicalize(f).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| given.clone());
                    if c.files.iter().any(|m| m.path == given) {
                        given
                    } else {
                        real
                    }
                })
                .collect();
            let absent = store.remove_from_collection(c.id, &paths).await?;
            if !json {
                print_collection(&filings::collection_named(store, &name).await?);
            }
            if !absent.is_empty() {
                return Err(filings::FilingsError::NotInCollection { name: c.name, paths: absent.join(", ") });
            }
        }
        CollectionCommand::Delete { name } => {
            let c = filings::collection_named(store, &name).await?;
            store.delete_collection(c.id).await?;
            if !json {
                println!("deleted the collection {} (its files stay in the library)", c.name);
            }
        }
    }
    Ok(())
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
                            "{:>4}  {}  {} ({} read, {} refused) · {} · {}{gone}",
                            f.id,
                            f.path,
                            count(f.files, "file"),
                            f.indexed,
                            f.refused,
                            count(f.pages, "page"),
                            count(f.parts, "part")
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
            LibraryCommand::Collection { command } => match collection(&store, command, a.json).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    1
                }
            },
            LibraryCommand::Search { question, folder, collection, budget } => {
                let collection = match collection {
                    Some(name) => match filings::collection_named(&store, &name).await {
                        Ok(c) => Some(c.id),
                        Err(e) => {
                            eprintln!("fin-r1: {e}");
                            store.close().await;
                            return Ok(1);
                        }
                    },
                    None => None,
                };
                let hits = filings::retrieve(&store, fin_r1_core::store::LibraryScope { folder, collection }, &question, budget).await?;
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

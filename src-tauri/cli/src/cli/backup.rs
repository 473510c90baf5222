//! `fin-r1 backup list|create|restore`: the conversation store's backups (the app makes one a
//! day and before each migration; Settings lists the same files).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use fin_r1_core::store::backup::{self, BackupReason};
use fin_r1_core::store::{Store, DB_FILE};

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: BackupCommand,
    /// Data folder holding the conversation store (default: the platform's app data folder, or
    /// $FIN_R1_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum BackupCommand {
    /// The backups, newest first.
    List,
    /// A backup now (SQLite's consistent copy; answers being written go on).
    Create,
    /// Put a backup in the store's place (checked first; the store it replaces is kept aside).
    /// The app must be closed.
    Restore {
        /// A backup file (`fin-r1 backup list`), or `latest`.
        backup: String,
    },
}

pub fn run(a: BackupArgs) -> anyhow::Result<i32> {
    let runtime = fin_r1_core::rt::local().context("starting the async runtime")?;
    let data_dir = super::data_dir(&a.data_dir);
    let store_path = data_dir.join(DB_FILE);
    let dir = backup::backups_dir(&store_path);
    match a.command {
        BackupCommand::List => {
            let list = backup::list(&dir);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No backups in {}", dir.display());
            } else {
                for b in &list {
                    println!("{}  {:>9}  {:<9}  {}", fin_r1_report::local_time(b.created_ms), size(b.size), b.reason.as_str(), b.path.display());
                }
            }
            Ok(0)
        }
        BackupCommand::Create => runtime.block_on(async {
            let Some(store) = super::open_store(&data_dir).await else { return Ok(1) };
            let made = store.backup(BackupReason::Manual).await;
            store.close().await;
            match made {
                Ok(b) => {
                    if a.json {
                        println!("{}", serde_json::to_string_pretty(&b)?);
                    } else {
                        println!("Backed up to {} ({})", b.path.display(), size(b.size));
                    }
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    Ok(1)
                }
            }
        }),
        BackupCommand::Restore { backup: which } => {
            let chosen = if which.eq_ignore_ascii_case("latest") {
                match backup::list(&dir).into_iter().next() {
                    Some(b) => b.path,
                    None => {
                        eprintln!("fin-r1: no backups in {}", dir.display());
                        return Ok(1);
                    }
                }
            } else {
                PathBuf::from(which)
            };
            let Some(_lock) = app_closed(&data_dir)? else {
                eprintln!("fin-r1: Fin-R1 Desktop is open on {}: close it first (or restore from its Settings)", data_dir.display());
                return Ok(1);
            };
            runtime.block_on(async {
                match backup::restore(&store_path, &chosen).await {
                    Ok(r) => {
                        if a.json {
                            println!("{}", serde_json::to_string_pretty(&r)?);
                        } else {
                            println!("Restored {}", r.from.display());
                            if let Some(k) = &r.kept_aside {
                                println!("The store it replaced was kept as {}", k.display());
                            }
                        }
                        // Opened once, so a backup of an earlier schema is migrated now.
                        match Store::open(&data_dir).await {
                            Ok((s, _)) => {
                                s.close().await;
                                Ok(0)
                            }
                            Err(e) => {
                                eprintln!("fin-r1: {e}");
                                Ok(1)
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("fin-r1: {e}");
                        Ok(1)
                    }
                }
            })
        }
    }
}

/// The app's one-instance lock, taken: `None` while the app holds it.
fn app_closed(data_dir: &Path) -> anyhow::Result<Option<File>> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join("instance.lock");
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

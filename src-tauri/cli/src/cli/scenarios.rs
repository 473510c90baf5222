use std::path::PathBuf;

use clap::{Args, Subcommand};
use fin_r1_core::scenario::{self, Lang, Library, Origin};

#[derive(Args, Debug)]
pub struct ScenariosArgs {
    #[command(subcommand)]
    command: ScenariosCommand,
    /// Data folder (default: the platform's app data folder).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Show names in English instead of Chinese.
    #[arg(long, global = true)]
    english: bool,
}

#[derive(Subcommand, Debug)]
enum ScenariosCommand {
    /// The built-in and imported presets.
    List,
    /// One preset in full, as TOML.
    Show { id: String },
    /// Check a preset file; errors name the field and the fix.
    Validate { file: PathBuf },
    /// Validate a preset file and add it to the user's presets.
    Import { file: PathBuf },
    /// Write a preset as a file to share (standard output without -o).
    Export {
        id: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// The platform's data folder for the app (`--data-dir` overrides it everywhere).
pub fn run(a: ScenariosArgs) -> anyhow::Result<i32> {
    let data = super::data_dir(&a.data_dir);
    let dir = data.join("scenarios");
    let lang = if a.english { Lang::En } else { Lang::Zh };
    match a.command {
        ScenariosCommand::List => {
            let lib = Library::load(Some(&dir));
            for (s, origin) in &lib.scenarios {
                let from = match origin {
                    Origin::BuiltIn => "built-in".to_owned(),
                    Origin::User(p) => p.display().to_string(),
                };
                println!("{} {:<20} {}  ({from})", s.icon, s.id, s.name.get(lang));
                println!("     {}", s.description.get(lang));
            }
            for e in &lib.broken {
                eprintln!("fin-r1: skipped: {e}");
            }
            Ok(0)
        }
        ScenariosCommand::Show { id } => {
            let lib = Library::load(Some(&dir));
            match lib.get(&id) {
                Ok(s) => {
                    print!("{}", s.to_toml());
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    Ok(1)
                }
            }
        }
        ScenariosCommand::Validate { file } => match scenario::read_file(&file) {
            Ok(s) => {
                println!("{}: valid scenario {:?} ({} / {})", file.display(), s.id, s.name.zh, s.name.en);
                Ok(0)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(1)
            }
        },
        ScenariosCommand::Import { file } => match Library::import(&dir, &file) {
            Ok((s, dest)) => {
                println!("imported {:?} as {}", s.id, dest.display());
                Ok(0)
            }
            Err(e) => {
                eprintln!("fin-r1: {e}");
                Ok(1)
            }
        },
        ScenariosCommand::Export { id, output } => {
            let lib = Library::load(Some(&dir));
            let s = match lib.get(&id) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("fin-r1: {e}");
                    return Ok(1);
                }
            };
            let text = format!("# Fin-R1 Desktop scenario preset (format {})\n{}", scenario::FORMAT_VERSION, s.to_toml());
            match output {
                Some(path) => {
                    std::fs::write(&path, text)?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(0)
        }
    }
}

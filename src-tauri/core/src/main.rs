//! `fin-r1`: a thin command-line front end over the engine and the core.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    // candle sizes its work split from RAYON_NUM_THREADS; it must be set before any worker runs.
    if let Some(n) = args.threads() {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    match cli::run(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("fin-r1: {e:#}");
            std::process::exit(1);
        }
    }
}

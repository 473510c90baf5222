//! `fin-r1`: a thin command-line front end over the engine and the core.
#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() {
    // The CPU check ran before main (it exits with one clear line on a CPU without AVX2).
    fin_r1_engine::cpu_check_linked();
    // The reader child of the app and of `chat --attach` (`documents extract --child`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = fin_r1_core::documents::child::serve_if_asked(&args) {
        std::process::exit(code);
    }
    let args = cli::Cli::parse();
    fin_r1_engine::init_threads(args.threads());
    match cli::run(args) {
        Ok(code) => std::process::exit(code),
        // Output piped into `head` and the like: the reader is gone, nothing to report.
        Err(e) if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) => std::process::exit(0),
        Err(e) => {
            eprintln!("fin-r1: {e:#}");
            std::process::exit(1);
        }
    }
}

//! Writes a tiny Qwen2 GGUF with the real Qwen2 tokenizer, for trying the app and CLI without
//! a 4.7 GB download: `make-tiny-qwen2 HEADER.gguf-part OUT.gguf [--thinking]`.
#![forbid(unsafe_code)]

use fin_r1_tests::{write_tiny_qwen2, TinySpec, THINKING_SCRIPT};

const USAGE: &str = "usage: make-tiny-qwen2 HEADER.gguf-part OUT.gguf [--thinking]

Writes a tiny Qwen2 model (random weights) with the tokenizer and chat template of HEADER, the
first part of a real Qwen2 GGUF (scripts/fetch-fixtures.sh fetches one). --thinking makes it
answer with a reasoning chain first.";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(header), Some(out), None) = (files.first(), files.get(1), files.get(2)) else {
        eprintln!("{USAGE}");
        return std::process::ExitCode::from(2);
    };
    if let Some(unknown) = args.iter().find(|a| a.starts_with("--") && *a != "--thinking") {
        eprintln!("make-tiny-qwen2: unknown option {unknown}\n\n{USAGE}");
        return std::process::ExitCode::from(2);
    }
    let spec = if args.iter().any(|a| a == "--thinking") { TinySpec::thinking(THINKING_SCRIPT) } else { TinySpec::default() };
    match write_tiny_qwen2(header.as_ref(), out.as_ref(), &spec) {
        Ok(()) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-tiny-qwen2: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

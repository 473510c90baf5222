//! Writes a tiny Qwen2 GGUF with the real Qwen2 tokenizer, for trying the app and CLI without
//! a 4.7 GB download: `make-tiny-qwen2 HEADER.gguf-part OUT.gguf [--thinking]`.
#![forbid(unsafe_code)]

use anyhow::Context;
use fin_r1_tests::{write_tiny_qwen2, TinySpec, THINKING_SCRIPT};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let header = args.first().context("usage: make-tiny-qwen2 HEADER OUT [--thinking]")?;
    let out = args.get(1).context("usage: make-tiny-qwen2 HEADER OUT [--thinking]")?;
    let spec = if args.iter().any(|a| a == "--thinking") { TinySpec::thinking(THINKING_SCRIPT) } else { TinySpec::default() };
    write_tiny_qwen2(header.as_ref(), out.as_ref(), &spec)?;
    println!("{out}");
    Ok(())
}

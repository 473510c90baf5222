use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// GGUF model file.
    file: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Skip the SHA-256 (it reads the whole file).
    #[arg(long)]
    no_hash: bool,
}

pub fn run(a: InspectArgs) -> anyhow::Result<i32> {
    let r = match fin_r1_engine::inspect::inspect(&a.file, !a.no_hash) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fin-r1: {}: {e}", a.file.display());
            return Ok(1);
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(0);
    }
    let hp = &r.hparams;
    println!("file           {} ({:.1} MB, GGUF v{})", r.path, r.file_size as f64 / 1e6, r.gguf_version);
    println!("name           {}", r.name.as_deref().unwrap_or("(none)"));
    println!("architecture   {}", r.architecture);
    println!("parameters     {:.1} M", r.n_params as f64 / 1e6);
    let types: Vec<String> = r
        .quantization
        .iter()
        .map(|(t, c)| format!("{t} ×{} ({:.1} MB)", c.tensors, c.bytes as f64 / 1e6))
        .collect();
    println!("tensor types   {}", types.join(", "));
    println!(
        "shape          {} layers, hidden {}, ffn {}, {} heads / {} kv heads, head dim {}, vocab {}{}",
        hp.n_layer,
        hp.hidden,
        hp.ffn,
        hp.n_head,
        hp.n_head_kv,
        hp.head_dim,
        hp.n_vocab,
        if hp.tied_embeddings { ", tied embeddings" } else { "" }
    );
    println!("context        {} tokens (rope base {})", r.context_length, hp.rope_base);
    let t = &r.tokenizer;
    println!(
        "tokenizer      {} {} (pre {}), {} tokens, {} merges, {} control, {} added; bos {:?}, eos {:?}",
        t.source, t.model, t.pre, t.vocab_size, t.merges, t.control_tokens, t.user_defined_tokens, t.bos, t.eos
    );
    println!("chat template  {}", if r.chat_template { "from the model" } else { "none (ChatML fallback)" });
    if let Some(h) = &r.sha256 {
        println!("sha256         {h}");
    }
    Ok(0)
}

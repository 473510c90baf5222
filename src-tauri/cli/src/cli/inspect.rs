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
    /// Use this Hugging Face tokenizer.json instead of the file's own tokenizer.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
}

pub fn run(a: InspectArgs) -> anyhow::Result<i32> {
    let r = match fin_r1_engine::inspect::inspect(&a.file, !a.no_hash, a.tokenizer.as_deref()) {
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
    let types: Vec<String> = r.quantization.iter().map(|(t, c)| format!("{t} ×{} ({:.1} MB)", c.tensors, c.bytes as f64 / 1e6)).collect();
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
        if t.source == "gguf" { "from the GGUF:" } else { "from tokenizer.json:" },
        t.model,
        t.pre,
        t.vocab_size,
        t.merges,
        t.control_tokens,
        t.user_defined_tokens,
        t.bos,
        t.eos
    );
    if let Some(p) = &t.unused_beside {
        println!("               {p} lies beside the model and is not used (--tokenizer uses it)");
    }
    println!("chat template  {}", if r.chat_template { "from the model" } else { "none (ChatML fallback)" });
    if let Some(h) = &r.sha256 {
        println!("sha256         {h}");
    }
    Ok(0)
}

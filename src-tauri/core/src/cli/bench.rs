use std::time::Instant;

use clap::Args;
use fin_r1_engine::{CancelToken, Runtime};
use serde::Serialize;

use super::EngineArgs;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Prompt length to prefill.
    #[arg(long, default_value_t = 512)]
    prompt_tokens: usize,
    /// Tokens to decode after the prompt (end-of-sequence ignored).
    #[arg(long, default_value_t = 128)]
    gen_tokens: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct BenchResult {
    model: String,
    device: String,
    threads: usize,
    prompt_tokens: usize,
    gen_tokens: usize,
    load_s: f64,
    prefill_tok_s: f64,
    decode_tok_s: f64,
    peak_rss_bytes: Option<u64>,
}

/// A financial text, repeated to the requested length: realistic token statistics.
const TEXT: &str = "The company's revenue grew 12.5% year over year to $4.82 billion, while operating margin \
contracted by 140 basis points because of higher input costs. 公司营业收入同比增长12.5%，毛利率下降。 \
| Year | Revenue | EBITDA |\n|---|---|---|\n| 2023 | 4,286 | 912 |\n| 2024 | 4,822 | 987 |\n";

pub fn run(a: BenchArgs) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    let mut rt = match Runtime::load(&a.engine.model, &a.engine.load_options()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fin-r1: {}: {e}", a.engine.model.display());
            return Ok(1);
        }
    };
    let load_s = t0.elapsed().as_secs_f64();
    let context = rt.info().context;
    if a.prompt_tokens == 0 || a.prompt_tokens + a.gen_tokens > context {
        anyhow::bail!("{} prompt + {} generated tokens do not fit the {context}-token context", a.prompt_tokens, a.gen_tokens);
    }
    let unit = rt.tokenizer().encode(TEXT)?;
    let prompt: Vec<u32> = unit.iter().copied().cycle().take(a.prompt_tokens).collect();

    let t1 = Instant::now();
    let cancel = CancelToken::default();
    let (mut logits, _) = rt.prefill(&prompt, &cancel)?.ok_or_else(|| anyhow::anyhow!("cancelled"))?;
    let prefill_s = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    for _ in 0..a.gen_tokens {
        let next = fin_r1_engine::model::argmax(&logits);
        logits = rt.forward(&[next])?;
    }
    let decode_s = t2.elapsed().as_secs_f64();

    let r = BenchResult {
        model: a.engine.model.display().to_string(),
        device: a.engine.device.as_str().into(),
        threads: std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        prompt_tokens: a.prompt_tokens,
        gen_tokens: a.gen_tokens,
        load_s,
        prefill_tok_s: a.prompt_tokens as f64 / prefill_s,
        decode_tok_s: if decode_s > 0.0 { a.gen_tokens as f64 / decode_s } else { 0.0 },
        peak_rss_bytes: peak_rss(),
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("model        {} on {} ({} threads)", r.model, r.device, r.threads);
        println!("load         {:.2} s", r.load_s);
        println!("prefill      {:.1} tok/s ({} tokens)", r.prefill_tok_s, r.prompt_tokens);
        println!("decode       {:.1} tok/s ({} tokens)", r.decode_tok_s, r.gen_tokens);
        if let Some(b) = r.peak_rss_bytes {
            println!("peak memory  {:.0} MB", b as f64 / 1e6);
        }
    }
    Ok(0)
}

/// The process's peak resident set (Linux: VmHWM).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

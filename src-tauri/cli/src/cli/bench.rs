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
    /// Measure turn 2 of a conversation: first run a history of this many tokens, then time the
    /// prompt tokens that follow it up to the first generated token (prefix reuse at work).
    #[arg(long, default_value_t = 0)]
    history_tokens: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct BenchResult {
    model: String,
    device: String,
    /// The CPU kernels the engine chose (the instruction set, the types with its own kernels).
    kernels: String,
    /// The CPU's SIMD features, as the engine's detection sees them.
    cpu_features: Vec<&'static str>,
    threads: usize,
    prompt_tokens: usize,
    gen_tokens: usize,
    load_s: f64,
    prefill_tok_s: f64,
    decode_tok_s: f64,
    peak_rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history_tokens: Option<usize>,
    /// Seconds from sending turn 2 (its new prompt tokens) to the first generated token.
    #[serde(skip_serializing_if = "Option::is_none")]
    turn2_ttft_s: Option<f64>,
    /// Seconds the history itself took to prefill (what turn 2 would cost without reuse).
    #[serde(skip_serializing_if = "Option::is_none")]
    history_prefill_s: Option<f64>,
}

/// A financial text, repeated to the requested length: realistic token statistics.
const TEXT: &str = "The company's revenue grew 12.5% year over year to $4.82 billion, while operating margin \
contracted by 140 basis points because of higher input costs. 公司营业收入同比增长12.5%，毛利率下降。 \
| Year | Revenue | EBITDA |\n|---|---|---|\n| 2023 | 4,286 | 912 |\n| 2024 | 4,822 | 987 |\n";

pub fn run(a: BenchArgs) -> anyhow::Result<i32> {
    let path = a.engine.path()?.to_owned();
    let t0 = Instant::now();
    // In-memory prefix reuse only: a prefix folder would hash the whole model file on a thread
    // of its own while prefill is timed (measured: a third of the CPU samples on 2 cores), and
    // a file cached by an earlier run would stand in for the prefill being measured.
    let options = fin_r1_engine::LoadOptions { prefix_cache: None, ..a.engine.load_options() };
    let mut rt = match Runtime::load(&path, &options) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fin-r1: {}: {e}", path.display());
            return Ok(1);
        }
    };
    let load_s = t0.elapsed().as_secs_f64();
    let context = rt.info().context;
    let total = a.history_tokens + a.prompt_tokens + a.gen_tokens;
    if a.prompt_tokens == 0 || total > context {
        anyhow::bail!("{total} history, prompt and generated tokens do not fit the {context}-token context");
    }
    let unit = rt.tokenizer().encode(TEXT)?;
    let stream: Vec<u32> = unit.iter().copied().cycle().take(a.history_tokens + a.prompt_tokens).collect();
    let cancel = CancelToken::default();

    let mut history_prefill_s = None;
    if a.history_tokens > 0 {
        let t = Instant::now();
        rt.prefill(&stream[..a.history_tokens], &cancel)?.ok_or_else(|| anyhow::anyhow!("cancelled"))?;
        history_prefill_s = Some(t.elapsed().as_secs_f64());
    }

    // With a history, `prefill` finds it cached and runs only the new prompt tokens.
    let t1 = Instant::now();
    let (mut logits, _) = rt.prefill(&stream, &cancel)?.ok_or_else(|| anyhow::anyhow!("cancelled"))?;
    let prefill_s = t1.elapsed().as_secs_f64();
    let first = fin_r1_engine::model::argmax(&logits);
    let ttft_s = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let mut next = first;
    for _ in 0..a.gen_tokens {
        logits = rt.forward(&[next])?;
        next = fin_r1_engine::model::argmax(&logits);
    }
    let decode_s = t2.elapsed().as_secs_f64();

    let r = BenchResult {
        model: path.display().to_string(),
        device: a.engine.device.as_str().into(),
        kernels: fin_r1_engine::kernels::describe(),
        cpu_features: cpu_features(),
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
        history_tokens: (a.history_tokens > 0).then_some(a.history_tokens),
        turn2_ttft_s: history_prefill_s.map(|_| ttft_s),
        history_prefill_s,
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("model        {} on {} ({} threads)", r.model, r.device, r.threads);
        println!("kernels      {} (CPU: {})", r.kernels, r.cpu_features.join(" "));
        println!("load         {:.2} s", r.load_s);
        println!("prefill      {:.1} tok/s ({} tokens)", r.prefill_tok_s, r.prompt_tokens);
        println!("decode       {:.1} tok/s ({} tokens)", r.decode_tok_s, r.gen_tokens);
        if let (Some(h), Some(t), Some(hs)) = (r.history_tokens, r.turn2_ttft_s, r.history_prefill_s) {
            println!("turn 2       first token {t:.2} s after a {h}-token history (the history itself took {hs:.1} s)");
        }
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

/// The SIMD features a fair comparison names: what this CPU has of those the kernels could use.
fn cpu_features() -> Vec<&'static str> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! has {
            ($($f:tt),*) => { $( if std::arch::is_x86_feature_detected!($f) { out.push($f); } )* };
        }
        has!("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avxvnni");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! has {
            ($($f:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($f) { out.push($f); } )* };
        }
        has!("neon", "dotprod", "i8mm");
    }
    out
}

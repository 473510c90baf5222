use std::io::Read;
use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The text (a model's reasoning and answer); standard input without it.
    file: Option<PathBuf>,
    /// One JSON object per statement instead of lines of text.
    #[arg(long)]
    json: bool,
}

/// What is read of a text; the check itself looks at its first 2 MiB.
const MAX_READ: u64 = 4 << 20;

/// Exit code 1 where a stated result differs from its exact value, as `diff` does on a difference.
pub fn run(a: CheckArgs) -> anyhow::Result<i32> {
    let mut raw = Vec::new();
    match &a.file {
        Some(p) => std::fs::File::open(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?.take(MAX_READ + 1).read_to_end(&mut raw)?,
        None => std::io::stdin().take(MAX_READ + 1).read_to_end(&mut raw)?,
    };
    if raw.len() as u64 > MAX_READ {
        raw.truncate(MAX_READ as usize);
        eprintln!("fin-r1 check: only the first {} MiB are checked", MAX_READ >> 20);
    }
    let text = String::from_utf8_lossy(&raw);
    let findings = fin_r1_calc::check(&text);
    // Line numbers counted as the findings go, not from the start for each.
    let (mut line, mut counted_to) = (1usize, 0usize);
    for f in &findings {
        let at = f.stated.start.max(counted_to);
        line += text[counted_to..at].matches('\n').count();
        counted_to = at;
        let statement = f.statement_text(&text);
        let verdict = match f.verdict {
            fin_r1_calc::Verdict::Agrees => "agrees",
            fin_r1_calc::Verdict::Differs => "differs",
        };
        if a.json {
            let line = serde_json::json!({
                "statement": statement,
                "stated": &text[f.stated.clone()],
                "verdict": verdict,
                "recomputed": f.recomputed,
                "exact": f.exact.normalize().to_string(),
                "start": f.statement().start,
                "end": f.statement().end,
            });
            println!("{line}");
        } else {
            println!("{line}: {verdict:<7} {statement}  (exact: {})", f.recomputed);
        }
    }
    let s = fin_r1_calc::summarise(&findings);
    if !a.json {
        eprintln!("{} calculations checked · {} agree · {} differ", s.checked, s.agree, s.differ);
    }
    Ok(i32::from(s.differ > 0))
}

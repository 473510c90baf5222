//! Every input a fuzzer found a crash or hang with (tests/fuzz/regressions/TARGET/*), replayed
//! through the very code the fuzz target runs (tests/fuzz/src/targets.rs): each must now end
//! in a value or a clear error, within seconds. `scripts/fuzz.sh` finds them; RELIABILITY.md
//! says what each was.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    for f in &files {
        let data = std::fs::read(f).expect("regression input");
        let t = Instant::now();
        run(&data);
        assert!(t.elapsed() < Duration::from_secs(20), "{} took {:?}", f.display(), t.elapsed());
    }
    files.len()
}

#[test]
fn the_inputs_fuzzing_found_are_read_safely_now() {
    let mut n = 0;
    n += replay("gguf", targets::gguf);
    n += replay("conversation_json", targets::conversation_json);
    n += replay("preset_toml", targets::preset_toml);
    n += replay("markdown", targets::markdown);
    n += replay("openai_request", targets::openai_request);
    n += replay("eval_adapters", targets::eval_adapters);
    n += replay("document_pdf", |d| targets::document("pdf", d));
    n += replay("document_docx", |d| targets::document("docx", d));
    n += replay("document_csv", |d| targets::document("csv", d));
    n += replay("document_workbook", targets::document_workbook);
    eprintln!("{n} inputs replayed");
    assert!(n > 0, "no inputs found under tests/fuzz/regressions: the folder moved?");
}

/// The renderer check the markdown target makes is itself sound: it passes what the
/// renderer writes for ordinary answers and catches what could run.
#[test]
fn the_inert_check_catches_what_could_run() {
    assert!(targets::inert("<p>a &lt;script&gt; b</p><a href=\"https://x\" rel=\"noopener\">x</a>").is_ok());
    assert!(targets::inert("<td style=\"text-align: right\">1</td>").is_ok());
    for bad in [
        "<script>alert(1)</script>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\" JaVa\tscript:alert(1)\">x</a>",
        "<p onclick=\"x\">x</p>",
        "<p style=\"background:url(x)\">x</p>",
        "<img src=\"https://tracker\">",
    ] {
        assert!(targets::inert(bad).is_err(), "{bad}");
    }
    let answer = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/markdown/answer.md")).expect("seed");
    let html = fin_r1_report::render::render(&answer);
    assert!(targets::inert(&html).is_ok(), "{:?}\n{html}", targets::inert(&html));
    targets::markdown(answer.as_bytes());
}

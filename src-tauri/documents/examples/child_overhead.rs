//! What reading in the child costs over reading in-process: `cargo run --release -p
//! fin-r1-documents --example child_overhead -- target/release/fin-r1 FILE…` prints, per file,
//! the median of five reads each way.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use fin_r1_documents::child::{extract_in_child, ChildLimits};
use fin_r1_documents::extract;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let Some(program) = args.next() else {
        eprintln!("usage: child_overhead FIN_R1_BINARY FILE…");
        std::process::exit(2);
    };
    for file in args {
        let (mut inside, mut child) = (Vec::new(), Vec::new());
        let mut pages = None;
        for _ in 0..5 {
            let t = Instant::now();
            let d = extract(&file).unwrap_or_else(|e| panic!("{e}"));
            inside.push(t.elapsed().as_secs_f64());
            pages = d.meta.pages;
            let t = Instant::now();
            extract_in_child(&program, &file, ChildLimits::default(), &mut |_, _| {}, &AtomicBool::new(false)).unwrap_or_else(|e| panic!("{e}"));
            child.push(t.elapsed().as_secs_f64());
        }
        let (a, b) = (median(inside), median(child));
        println!(
            "{} ({} pages): in-process {:.3} s, child {:.3} s, overhead {:.3} s ({:+.0}%)",
            file.display(),
            pages.unwrap_or(0),
            a,
            b,
            b - a,
            (b / a - 1.0) * 100.0
        );
    }
}

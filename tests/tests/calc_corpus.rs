//! The calculation check over its corpus (tests/fixtures/calc): every expected verdict, and
//! nothing found where nothing is a calculation. Prints precision and recall.

use std::path::Path;

use fin_r1_calc::{check, Verdict};

#[derive(serde::Deserialize)]
struct Item {
    id: String,
    lang: String,
    text: String,
    expected: Vec<Expected>,
}

#[derive(serde::Deserialize)]
struct Expected {
    stated: String,
    verdict: String,
}

#[derive(Default, Debug)]
struct Counts {
    expected: u32,
    found: u32,
    matched: u32,
    /// A differing result flagged as differing.
    tp: u32,
    /// Flagged as differing, but correct or no calculation at all.
    fp: u32,
    /// A differing result not flagged.
    fn_: u32,
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        1.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

#[test]
fn the_check_finds_the_corpus_verdicts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/calc");
    let mut by_lang: std::collections::BTreeMap<String, Counts> = Default::default();
    let mut misses = Vec::new();
    let mut items = 0;
    for file in ["convfinqa.jsonl", "handwritten.jsonl"] {
        let body = std::fs::read_to_string(dir.join(file)).expect("corpus file");
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let item: Item = serde_json::from_str(line).expect("corpus line");
            items += 1;
            let found: Vec<(String, Verdict)> = check(&item.text).into_iter().map(|f| (item.text[f.stated.clone()].to_owned(), f.verdict)).collect();
            let c = by_lang.entry(item.lang.clone()).or_default();
            let mut used = vec![false; found.len()];
            c.expected += item.expected.len() as u32;
            c.found += found.len() as u32;
            for e in &item.expected {
                let differs = e.verdict == "differs";
                match found.iter().enumerate().position(|(i, (s, _))| !used[i] && *s == e.stated) {
                    Some(i) => {
                        used[i] = true;
                        c.matched += 1;
                        let flagged = found[i].1 == Verdict::Differs;
                        match (differs, flagged) {
                            (true, true) => c.tp += 1,
                            (true, false) => c.fn_ += 1,
                            (false, true) => c.fp += 1,
                            (false, false) => {}
                        }
                        if differs != flagged {
                            misses.push(format!("{}: {:?} expected {}, found {:?}", item.id, e.stated, e.verdict, found[i].1));
                        }
                    }
                    None => {
                        if differs {
                            c.fn_ += 1;
                        }
                        misses.push(format!("{}: {:?} ({}) not found; found {:?}", item.id, e.stated, e.verdict, found));
                    }
                }
            }
            for (i, (s, v)) in found.iter().enumerate() {
                if !used[i] {
                    if *v == Verdict::Differs {
                        c.fp += 1;
                    }
                    misses.push(format!("{}: {s:?} ({v:?}) found where nothing was expected", item.id));
                }
            }
        }
    }
    let mut all = Counts::default();
    println!("items: {items}");
    println!("| lang | statements | found | matched | statement recall | statement precision | differs: precision | differs: recall |");
    for (lang, c) in &by_lang {
        println!(
            "| {lang} | {} | {} | {} | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} ({}/{}) |",
            c.expected,
            c.found,
            c.matched,
            ratio(c.matched, c.expected),
            ratio(c.matched, c.found),
            ratio(c.tp, c.tp + c.fp),
            c.tp,
            c.tp + c.fp,
            ratio(c.tp, c.tp + c.fn_),
            c.tp,
            c.tp + c.fn_
        );
        all.expected += c.expected;
        all.found += c.found;
        all.matched += c.matched;
        all.tp += c.tp;
        all.fp += c.fp;
        all.fn_ += c.fn_;
    }
    println!(
        "| all | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
        all.expected,
        all.found,
        all.matched,
        ratio(all.matched, all.expected),
        ratio(all.matched, all.found),
        ratio(all.tp, all.tp + all.fp),
        ratio(all.tp, all.tp + all.fn_)
    );
    for m in misses.iter().take(40) {
        println!("miss: {m}");
    }
    assert!(items > 400, "the corpus is read whole");
    assert!(all.tp > 100, "the corpus has differing results to find");
    assert!(ratio(all.tp, all.tp + all.fp) >= 0.97, "precision of 'differs' fell: {all:?}");
    assert!(ratio(all.tp, all.tp + all.fn_) >= 0.95, "recall of 'differs' fell: {all:?}");
    assert!(ratio(all.matched, all.expected) >= 0.95, "statements missed: {all:?}");
    assert!(ratio(all.matched, all.found) >= 0.97, "statements found where none were expected: {all:?}");
}

//! The tests' loopback hub as a program, for trying the model manager by hand and for the
//! README's screenshots: `loopback-hub REPO FILE=PATH… [--pace BYTES_PER_SEC] [--cut-at OFFSET:AFTER]`.
//! Prints its endpoint, then serves until standard input closes.
#![forbid(unsafe_code)]

use anyhow::Context;
use fin_r1_tests::hub::Hub;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loopback-hub REPO FILE=PATH… [--pace BYTES_PER_SEC] [--cut-at OFFSET:AFTER]";
    let repo = args.first().context(usage)?;
    let hub = Hub::start();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--pace" => {
                hub.pace(args.get(i + 1).context(usage)?.parse()?);
                i += 1;
            }
            "--cut-at" => {
                let (a, b) = args.get(i + 1).and_then(|v| v.split_once(':')).context(usage)?;
                hub.cut_once(a.parse()?, b.parse()?);
                i += 1;
            }
            spec => {
                let (file, path) = spec.split_once('=').context(usage)?;
                hub.add(repo, file, std::fs::read(path).with_context(|| format!("reading {path}"))?);
            }
        }
        i += 1;
    }
    println!("{}", hub.endpoint());
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    Ok(())
}

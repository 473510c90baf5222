//! `fin-r1 serve` on loopback for the server tests, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::fin_r1_bin;

/// A server process and its base URL (`http://127.0.0.1:PORT/v1`).
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `fin-r1 serve --port 0 --served-model-name Fin-R1 --model MODEL EXTRA…` and waits
/// until it says where it listens.
pub fn serve(model: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(fin_r1_bin())
        .args(["serve", "--port", "0", "--served-model-name", "Fin-R1", "--model"])
        .arg(model)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start fin-r1 serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("fin-r1 serve exited before listening").expect("read stderr");
        if let Some(rest) = line.split(" at ").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    Server { child, base }
}

/// `n` items of the normalised JSON Lines form (`fin-r1 eval run --bench jsonl`), each asking a
/// present value whose answer is 907.
pub fn eval_items(n: usize) -> String {
    (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("q{i}"), "bench": "own", "category": "pv", "kind": "numeric", "question": format!("PV {i}?"), "answer": "907"})
                .to_string()
                + "\n"
        })
        .collect()
}

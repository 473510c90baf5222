//! What re-rendering a growing answer costs: the chat view re-renders the whole answer on each
//! batch of tokens, so this bounds how often it can. A benchmark, not a test:
//!
//! ```sh
//! cargo run --release -p fin-r1-report --example render_cost
//! ```
//!
//! The figures `fin_r1_report::render`'s docs quote come from here.

use std::time::Instant;

use fin_r1_report::render::render;

fn main() {
    let unit = "## Step\n\nThe present value of $500 a year for 2 years at 5% is \\(\\frac{500}{1.05} + \\frac{500}{1.05^2}\\).\n\n| Year | CF |\n|--|--:|\n| 1 | 476.19 |\n\n```python\nprint(500 / 1.05)\n```\n\n";
    let mut answer = String::new();
    while answer.len() < 10_000 {
        answer.push_str(unit);
    }
    // The first render highlights the code blocks (cached by content afterwards).
    let start = Instant::now();
    render(&answer);
    let first = start.elapsed();
    let reps = 50;
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(render(&answer));
    }
    let per = start.elapsed() / reps;
    println!(
        "{}-character answer: first render {:.1} ms, re-render {:.2} ms (mean of {reps})",
        answer.len(),
        first.as_secs_f64() * 1e3,
        per.as_secs_f64() * 1e3
    );
}

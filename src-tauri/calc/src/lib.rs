//! Exact decimal arithmetic for finance: finding the calculations a model states in its
//! reasoning and answer and checking each (`check`), over one expression evaluator (`expr`) that
//! reads what models write — thousands separators, percentages, `万`/`亿` and million/billion,
//! brackets for negatives, LaTeX (`\frac`, `\times`, `\boxed`), Chinese and full-width forms.
//!
//! Decimal, not f64: `0.1 + 0.2 = 0.3` must agree, and a stated `907.03` is compared with the
//! exact value at the precision it was written in.

#![forbid(unsafe_code)]

pub mod check;
pub mod expr;
pub mod finance;
mod lex;
pub mod tool;

pub use check::{check, summarise, Finding, Summary, Verdict};
pub use expr::{evaluate, EvalError};
pub use rust_decimal::Decimal;

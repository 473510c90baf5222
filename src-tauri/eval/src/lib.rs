//! The evaluation harness, as Fin-R1's authors evaluated: benchmark files read through adapters
//! into one item form, a seeded per-category sample, prompts per kind, rule scoring of what
//! follows the reasoning, and runs on disk that resume. The CLI (`fin-r1 eval`) drives it.

#![forbid(unsafe_code)]

pub mod adapters;
pub mod item;
pub mod judge;
pub mod plan;
pub mod prompt;
pub mod record;
pub mod report;
pub mod run;
pub mod runs;
pub mod sample;
pub mod score;

pub use adapters::{load, Bench};
pub use item::{Item, Kind};
pub use record::{JudgeConfig, Prediction, Review, RunConfig, RunError};

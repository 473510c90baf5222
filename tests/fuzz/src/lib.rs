//! AFL++ targets for the parsers of files and requests from outside (see `targets`).
pub mod targets;
pub use targets::*;

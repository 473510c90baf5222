//! The Tauri-free core of Fin-R1 Desktop: what the command-line tool and the app share. How a
//! generation's events are shown in a terminal, the OpenAI-compatible server over the engine,
//! and the remote engine that talks to such a server (vLLM) with the same event stream.
#![forbid(unsafe_code)]

pub mod backend;
pub mod catalog;
pub mod filings;
pub mod filings_watch;
/// The document readers live in their own crate (they parse untrusted files; nothing of the
/// store is theirs to touch); the core's paths to them stay.
pub use fin_r1_documents as documents;
pub mod hardware;
pub mod hub;
pub mod library;
pub mod mcp;
pub mod model_jobs;
pub mod openai;
pub mod paths;
pub mod remote;
pub mod rt;
pub mod runner;
pub mod scenario;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod store;
pub mod terminal;
pub mod title;
pub mod tools;

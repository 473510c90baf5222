//! The commands the UI invokes: thin adapters over the core, grouped by the page that uses
//! them. Those that touch the disk, the network or the model are `async`, so the GTK thread
//! never waits.

pub mod chat;
pub mod export;
pub mod models;
pub mod settings;
pub mod system;

pub use chat::*;

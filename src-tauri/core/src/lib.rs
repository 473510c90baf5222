//! The Tauri-free core of Fin-R1 Desktop. For now it holds the command-line front end's
//! pieces that the app will share: how a generation's events are shown in a terminal.

pub mod terminal;

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(e) = fin_r1_desktop::run() {
        eprintln!("Fin-R1 Desktop could not start: {e:#}");
        std::process::exit(1);
    }
}

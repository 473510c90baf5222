// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
#![forbid(unsafe_code)]

fn main() {
    // The CPU check ran before main: on a CPU without AVX2 it showed a dialog and exited.
    fin_r1_engine::cpu_check_linked();
    // The app is its own document reader child: nothing of the window starts for that.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = fin_r1_core::documents::child::serve_if_asked(&args) {
        std::process::exit(code);
    }
    fin_r1_engine::init_threads(None);
    if let Err(e) = fin_r1_desktop::run() {
        eprintln!("Fin-R1 Desktop could not start: {e:#}");
        std::process::exit(1);
    }
}

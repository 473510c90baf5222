//! Diagnostics, the About page, and handing links and files to the system.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::PathBuf;

use fin_r1_core::hardware::Hardware;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// Opens a link or a file with the system's own program, never inside the app.
pub fn open_with_system(target: &OsStr) -> CmdResult<()> {
    #[cfg(target_os = "linux")]
    let mut cmd = std::process::Command::new("xdg-open");
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = std::process::Command::new("explorer");
    let shown = target.to_string_lossy();
    let mut child = cmd.arg(target).spawn().map_err(CommandError::io(format!("cannot open {shown}")))?;
    // xdg-open hands over and exits; a failure (no application for the type) comes back as its
    // status within a moment. Still running after that: a viewer took it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(_)) => return Err(CommandError::Invalid(format!("no application on this computer opened {shown}; the file is there to open by hand"))),
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(100)),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Opens an http(s) or mailto link in the system's browser or mail program, never in the app.
#[tauri::command]
#[specta::specta]
pub async fn open_external(url: String) -> CmdResult<()> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")) || url.contains(char::is_whitespace) {
        return Err(CommandError::Invalid(format!("not an http(s) or mailto link: {url}")));
    }
    super::off_thread(move || open_with_system(OsStr::new(&url))).await
}

/// The newest log file, where the diagnostics point the user.
pub fn current_log(data_dir: &std::path::Path) -> Option<PathBuf> {
    let dir = fin_r1_core::paths::log_dir(data_dir);
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("fin-r1.") && e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    logs.sort();
    logs.pop().map(|(_, p)| p)
}

#[tauri::command]
#[specta::specta]
pub async fn open_log_folder(state: State<'_, AppState>) -> CmdResult<PathBuf> {
    let dir = fin_r1_core::paths::log_dir(&state.data_dir);
    super::off_thread(move || {
        std::fs::create_dir_all(&dir).map_err(CommandError::io(dir.display()))?;
        open_with_system(dir.as_os_str())?;
        Ok(dir)
    })
    .await
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|k| k.trim().to_owned());
    format!(
        "{} {}{}{}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        pretty.map(|p| format!(", {p}")).unwrap_or_default(),
        kernel.map(|k| format!(", kernel {k}")).unwrap_or_default()
    )
}

fn cpu() -> String {
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())))
        .unwrap_or_else(|| "unknown".into());
    #[allow(unused_mut)]
    let mut features: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    for (f, on) in [
        ("avx", is_x86_feature_detected!("avx")),
        ("avx2", is_x86_feature_detected!("avx2")),
        ("fma", is_x86_feature_detected!("fma")),
        ("f16c", is_x86_feature_detected!("f16c")),
        ("avx512f", is_x86_feature_detected!("avx512f")),
    ] {
        if on {
            features.push(f);
        }
    }
    #[cfg(target_arch = "aarch64")]
    features.push("neon");
    format!("{name} [{}]", features.join(" "))
}

/// Everything support needs, as text the user pastes: versions, system, hardware, the model's
/// metadata, settings (no keys), and the latest errors. No prompt or answer text.
#[tauri::command]
#[specta::specta]
pub async fn diagnostics(state: State<'_, AppState>) -> CmdResult<String> {
    let hw = Hardware::detect_off_thread().await;
    let s = state.settings().await;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Fin-R1 Desktop {} ({} build{})",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        match (cfg!(feature = "cuda"), cfg!(feature = "metal")) {
            (true, _) => ", CUDA",
            (_, true) => ", Metal",
            _ => "",
        }
    );
    let _ = writeln!(t, "OS: {}", os_name());
    let _ = writeln!(t, "CPU: {} · {} cores · {} rayon threads", cpu(), hw.cores, rayon::current_num_threads());
    let _ = writeln!(t, "Memory: {:.1} GB ({:.1} GB available)", hw.memory_bytes as f64 / 1e9, hw.available_bytes as f64 / 1e9);
    if hw.gpus.is_empty() {
        let _ = writeln!(t, "GPU: none found");
    }
    for g in &hw.gpus {
        let _ = writeln!(t, "GPU: {} ({:.1} GB)", g.name, g.memory_bytes as f64 / 1e9);
    }
    match state.local_summary().await {
        Some(m) => {
            let _ = writeln!(
                t,
                "Local model: {} · {} · {} · {:.2} B params · {:.2} GB · context {} · {}",
                m.file_name,
                m.name.as_deref().unwrap_or("-"),
                m.quantization.as_deref().unwrap_or("-"),
                m.n_params as f64 / 1e9,
                m.file_size as f64 / 1e9,
                m.context,
                m.path.display()
            );
            let listed = state.store.models().await.unwrap_or_default();
            if let Some(sha) = listed.iter().find(|x| std::path::Path::new(&x.path) == m.path).and_then(|x| x.sha256.clone()) {
                let _ = writeln!(t, "Model SHA-256: {sha}");
            }
        }
        None => {
            let _ = writeln!(t, "Local model: none loaded");
        }
    }
    let _ = writeln!(
        t,
        "Engine: {}",
        if s.remote.enabled { format!("remote {} (model {})", s.remote.base_url, s.remote.model) } else { format!("local, device {}", s.device) }
    );
    let server = state.server_status().await;
    let _ = writeln!(
        t,
        "API server: {}",
        match (&server.address, &server.error) {
            (Some(a), _) =>
                format!("on at {a}, {} requests ({} completed, {} cancelled, {} failed)", server.received, server.completed, server.cancelled, server.failed),
            (None, Some(e)) => format!("off: {e}"),
            _ => "off".into(),
        }
    );
    let _ = writeln!(
        t,
        "Theme {} · language {} · threads {}",
        s.theme,
        s.lang.map_or("system", |l| l.as_str()),
        s.threads.map(|n| n.to_string()).unwrap_or_else(|| "auto".into())
    );
    let _ = writeln!(t, "Data folder: {}", state.data_dir.display());
    let _ = writeln!(t, "Log folder: {}", fin_r1_core::paths::log_dir(&state.data_dir).display());
    let _ = writeln!(t, "Log file: {}", current_log(&state.data_dir).map(|p| p.display().to_string()).unwrap_or_else(|| "none yet".into()));
    let errors = state.recent_errors();
    let _ = writeln!(t, "Latest errors ({}):", errors.len());
    for e in errors.iter().rev().take(10) {
        let _ = writeln!(t, "  {e}");
    }
    Ok(t)
}

#[derive(Debug, Serialize, Deserialize, specta::Type)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub license: String,
    #[serde(default)]
    pub repository: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, specta::Type)]
pub struct Licences {
    pub rust: Vec<Dependency>,
    pub npm: Vec<Dependency>,
    #[serde(default)]
    pub fonts: Vec<Dependency>,
}

#[derive(Debug, Serialize, specta::Type)]
pub struct About {
    pub version: &'static str,
    pub licence: &'static str,
    pub licences: Licences,
    pub citation: &'static str,
    pub model_card: &'static str,
}

/// Written by scripts/licences.py from Cargo.lock and the UI's package-lock (a test checks it
/// is current).
const LICENCES: &str = include_str!("../../licences.json");

pub const CITATION: &str = "@article{liu2025finr1,
  title   = {Fin-R1: A Large Language Model for Financial Reasoning through Reinforcement Learning},
  author  = {Liu, Zhaowei and Guo, Xin and Yang, Zhi and Lou, Fangqi and Zeng, Lingfeng and Li, Mengping and Qi, Qi and Liu, Zhiqiang and Han, Yiyang and Cheng, Dongpo and Feng, Xingdong and Wang, Huixia Judy and Shi, Chengchun and Zhang, Liwen},
  journal = {arXiv preprint arXiv:2503.16252},
  year    = {2025}
}";

#[tauri::command]
#[specta::specta]
pub async fn about() -> CmdResult<About> {
    let licences: Licences =
        super::off_thread(|| serde_json::from_str(LICENCES).map_err(|e| CommandError::Task(format!("the licence list is damaged: {e}")))).await?;
    Ok(About {
        version: env!("CARGO_PKG_VERSION"),
        licence: env!("CARGO_PKG_LICENSE"),
        licences,
        citation: CITATION,
        model_card: "https://github.com/SUFE-AIFLM-Lab/Fin-R1",
    })
}

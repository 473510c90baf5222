//! The desktop app end to end, as an analyst uses it: a real window under Xvfb, driven through
//! `tauri-driver` and WebKitWebDriver. Start a chat from the calculation preset with a tiny
//! reasoning model, see reasoning and answer arrive in their places, stop a long answer, restart
//! the app and find the conversation again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fin_r1_tests::webdriver::Session;
use fin_r1_tests::{fin_r1_bin, fixture, scratch_dir, tiny_qwen2, TinySpec, SMOLLM2_FILE, THINKING_SCRIPT};

/// Kills its process when dropped, so a failed test leaves no Xvfb or driver behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).chain([home.join(".cargo/bin")]) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is missing: scripts/test.sh installs it (cargo install tauri-driver; apt webkit2gtk-driver xvfb)")
}

fn screenshot(display: &str, out: &Path) {
    // WebDriver's screenshot endpoint hangs on WebKitGTK; ImageMagick reads the X screen.
    let _ = Command::new("import").args(["-display", display, "-window", "root"]).arg(out).status();
}

#[test]
fn chat_from_a_preset_stop_an_answer_and_find_it_after_a_restart() {
    let app = fin_r1_bin().with_file_name(format!("fin-r1-desktop{}", std::env::consts::EXE_SUFFIX));
    assert!(app.is_file(), "{} is missing: build it with `cargo build --workspace --bins`", app.display());
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = scratch_dir().join(format!("desktop-e2e-{}", std::process::id()));
    let shots = scratch_dir().join("screenshots");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&shots).expect("screenshots dir");

    let n = 90 + std::process::id() % 60;
    let display = format!(":{n}");
    let _xvfb = Guard(
        Command::new(tool("Xvfb"))
            .args([display.as_str(), "-screen", "0", "1440x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb"),
    );
    std::thread::sleep(Duration::from_millis(800));
    let port = 4400 + std::process::id() % 500;
    let _driver = Guard(
        Command::new(tool("tauri-driver"))
            .args(["--port", &port.to_string(), "--native-port", &(port + 500).to_string()])
            .env("DISPLAY", &display)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("FIN_R1_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver"),
    );
    let driver = format!("http://127.0.0.1:{port}");
    let mut started = None;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(s) = Session::start(&driver, &app, &[]) {
            started = Some(s);
            break;
        }
    }
    let s = started.expect("a WebDriver session with the app");
    let long = Duration::from_secs(120);

    // No model yet: the window says so in line.
    s.wait_for("#no-model", long).expect("the no-model notice");
    let path = s.find("#model-path").expect("model path");
    s.type_into(&path, &thinking.to_string_lossy()).expect("type path");
    s.click_css("#model-load").expect("load");
    let name = thinking.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", long, |t| t.contains(&name)).expect("model loaded");

    // The calculation preset: its card, its form, a question.
    s.click_css("#scenario-calculation").expect("preset card");
    let rate = s.wait_for("input[name=rate]", long).expect("the preset's form");
    s.type_into(&rate, "5").expect("rate");
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "两年后收到1000元的现值是多少？").expect("question");
    s.click_css("#send").expect("send");
    s.wait_for(".msg.answer[data-status=complete]", long).expect("a complete answer");
    screenshot(&display, &shots.join("desktop-answer.png"));
    let answer = s.wait_text(".msg.answer .answer-body", long, |t| !t.is_empty()).expect("answer");
    assert_eq!(answer.trim(), "The present value is about $907");
    let label = s.wait_text(".reasoning-label", long, |t| !t.is_empty()).expect("reasoning label");
    assert!(label.starts_with("已思考") || label.starts_with("Thought for"), "{label}");
    s.click_css(".reasoning-toggle").expect("open the reasoning");
    let reasoning = s.wait_text(".reasoning-text", long, |t| !t.is_empty()).expect("reasoning text");
    assert_eq!(reasoning.trim(), "Discount the cash flow twice at five percent");
    let title = s.wait_text("#conversation-title", long, |t| !t.is_empty()).expect("title");
    assert_eq!(title, "两年后收到1000元的现值是多少？");

    // A long answer from SmolLM2, stopped mid-way.
    let path = s.find("#model-path").expect("model path");
    s.clear(&path).expect("clear");
    s.type_into(&path, &fixture(SMOLLM2_FILE).to_string_lossy()).expect("type path");
    s.click_css("#model-load").expect("load");
    s.wait_text("#model-current", long, |t| t.contains(SMOLLM2_FILE)).expect("SmolLM2 loaded");
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "Write a long, detailed essay on how central banks set interest rates.").expect("question");
    s.click_css("#send").expect("send");
    s.wait_for("#stop", long).expect("a stop button while streaming");
    s.wait_text(".status-streaming .answer-body", long, |t| t.split_whitespace().count() >= 5).expect("text streaming");
    screenshot(&display, &shots.join("desktop-streaming.png"));
    s.click_css("#stop").expect("stop");
    s.wait_for(".msg.answer[data-status=cancelled]", long).expect("a cancelled answer");
    s.wait_for("#send", long).expect("ready again");
    s.end().expect("close the app");

    // Restart: the conversation is in the sidebar, and opens with both answers.
    let s = Session::start(&driver, &app, &[]).expect("second session");
    let item = s.wait_for(".item .item-title", long).expect("a conversation in the sidebar");
    s.wait_text(".item .item-title", long, |t| t == "两年后收到1000元的现值是多少？").expect("its title");
    s.click(&item).expect("open it");
    s.wait_for(".msg.answer[data-status=cancelled]", long).expect("the stopped answer kept");
    assert_eq!(s.find_all(".msg.answer").expect("answers").len(), 2);
    screenshot(&display, &shots.join("desktop-restart.png"));
    s.end().expect("close");
}

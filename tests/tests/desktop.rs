//! The desktop app end to end, as an analyst uses it: a real window under Xvfb, driven through
//! `tauri-driver` and WebKitWebDriver. First run to a first answer; settings that survive a
//! restart and a damaged settings row; chat from a preset with reasoning in its panel, a long
//! answer stopped, a PDF exported from the dialog, the conversation found after a restart; the
//! model manager downloading Fin-R1's catalog entry from a loopback hub with a live progress
//! bar, cut and resumed, then chatting with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use fin_r1_core::settings::Settings;
use fin_r1_tests::webdriver::Session;
use fin_r1_tests::{fin_r1_bin, fixture, scratch_dir, tiny_qwen2, TinySpec, SMOLLM2_FILE, THINKING_SCRIPT};

const LONG: Duration = Duration::from_secs(120);

/// One window at a time: three WebKit processes at once on a 2-core machine only slow each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Kills its process when dropped, so a failed test leaves no Xvfb or driver behind. The
/// process leads its own group (see `spawn_group`) and the whole group goes: tauri-driver's
/// WebKitWebDriver outlived a kill of tauri-driver alone, one orphan per test run.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> std::io::Result<Child> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    cmd.spawn()
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

fn app_binary() -> PathBuf {
    let app = fin_r1_bin().with_file_name(format!("fin-r1-desktop{}", std::env::consts::EXE_SUFFIX));
    assert!(app.is_file(), "{} is missing: build it with `cargo build --workspace --bins`", app.display());
    app
}

#[test]
fn a_display_left_locked_by_a_killed_xvfb_is_skipped() {
    let n = 7000 + std::process::id() % 500 * 2;
    let lock = format!("/tmp/.X{n}-lock");
    std::fs::write(&lock, "   12345\n").expect("a stale lock");
    let chosen = fin_r1_tests::free_display(n);
    let _ = std::fs::remove_file(&lock);
    assert_ne!(chosen, n);
    assert!(chosen > n);
}

/// Xvfb and tauri-driver for one test; the app started by each session sees `env`.
struct Desktop {
    _xvfb: Guard,
    _driver: Guard,
    driver: String,
    display: String,
    app: PathBuf,
    shots: PathBuf,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Desktop {
    fn start(slot: u32, data: &Path, env: &[(&str, &Path)]) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let n = fin_r1_tests::free_display(90 + (std::process::id() % 50) * 3 + slot);
        let display = format!(":{n}");
        let xvfb = Guard(
            spawn_group(
                Command::new(tool("Xvfb"))
                    .args([display.as_str(), "-screen", "0", "1440x900x24", "-nolisten", "tcp"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )
            .expect("Xvfb"),
        );
        std::thread::sleep(Duration::from_millis(800));
        let port = 4400 + (std::process::id() % 150) * 3 + slot;
        let mut cmd = Command::new(tool("tauri-driver"));
        cmd.args(["--port", &port.to_string(), "--native-port", &(port + 1000).to_string()])
            .env("DISPLAY", &display)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("FIN_R1_DATA_DIR", data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Guard(spawn_group(&mut cmd).expect("tauri-driver"));
        let shots = scratch_dir().join("screenshots");
        std::fs::create_dir_all(&shots).expect("screenshots dir");
        Self { _xvfb: xvfb, _driver: driver, driver: format!("http://127.0.0.1:{port}"), display, app: app_binary(), shots, _turn: turn }
    }

    /// Launches the app in a new WebDriver session (the first after boot can take a while).
    fn session(&self) -> Session {
        for _ in 0..120 {
            if let Ok(s) = Session::start(&self.driver, &self.app, &[]) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("no WebDriver session with the app")
    }

    fn screenshot(&self, name: &str) {
        // WebDriver's screenshot endpoint hangs on WebKitGTK; ImageMagick reads the X screen.
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("import").args(["-display", &self.display, "-window", "root"]).arg(self.shots.join(name)).status();
    }
}

/// Records each text the waiting line shows (`window.__reading`): a prompt's reading can be
/// over before a poll would see it.
const WATCH_READING: &str = "window.__reading = []; new MutationObserver(() => { const t = document.querySelector('.typing'); \
    if (t && window.__reading[window.__reading.length - 1] !== t.textContent) window.__reading.push(t.textContent); }) \
    .observe(document.body, { subtree: true, childList: true, characterData: true }); return true;";

fn fresh_data(name: &str) -> PathBuf {
    let data = scratch_dir().join(format!("desktop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    data
}

/// Settings written before the app starts (as a finished first run would leave them).
fn seed_settings(data: &Path, edit: impl FnOnce(&mut Settings)) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (store, _) = fin_r1_core::store::Store::open(data).await.expect("store");
        let mut s = Settings { first_run_done: true, lang: Some(fin_r1_core::scenario::Lang::En), ..Settings::default() };
        edit(&mut s);
        fin_r1_core::settings::save(&store, &s).await.expect("save settings");
    });
}

fn write_raw_setting(data: &Path, key: &str, text: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("conversations.sqlite3").display())).await.expect("sqlite");
        sqlx::query("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(text)
            .execute(&pool)
            .await
            .expect("write");
        pool.close().await;
    });
}

fn ask(s: &Session, question: &str) -> String {
    let composer = s.wait_for("#composer", LONG).expect("composer");
    s.type_into(&composer, question).expect("question");
    s.click_css("#send").expect("send");
    s.wait_for(".msg.answer[data-status=complete]", LONG).expect("a complete answer");
    // A finished answer first shows the live view's last render, which on a loaded machine can
    // lag the text (CI once read "The"): read it until two reads agree.
    let mut last = String::new();
    for _ in 0..100 {
        let text = s.wait_text(".msg.answer .answer-body", LONG, |t| !t.is_empty()).expect("answer");
        if text == last {
            return text;
        }
        last = text;
        std::thread::sleep(Duration::from_millis(300));
    }
    last
}

#[test]
fn first_run_to_a_first_answer_then_settings_survive_a_restart() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("first-run");
    let d = Desktop::start(0, &data, &[]);
    let s = d.session();

    // 1. Language.
    s.wait_for("#fr-language", LONG).expect("the first-run setup on a fresh install");
    d.screenshot("first-run-1-language.png");
    s.click_css("#fr-en").expect("English");
    // 2. Folders: where the data lives.
    let folders = s.wait_text("#fr-folders", LONG, |t| !t.is_empty()).expect("folders step");
    assert!(folders.contains(&data.display().to_string()), "{folders}");
    d.screenshot("first-run-2-folders.png");
    s.click_css("#fr-next").expect("next");
    // 3. This machine.
    let hw = s.wait_text("#fr-hardware", LONG, |t| t.contains("Suggested")).expect("hardware step");
    assert!(hw.contains("cores") && hw.contains("Memory"), "{hw}");
    d.screenshot("first-run-3-hardware.png");
    s.click_css("#fr-next").expect("next");
    // 4. A GGUF already on disk.
    let path = s.wait_for("#fr-model-path", LONG).expect("model step");
    s.type_into(&path, &thinking.to_string_lossy()).expect("type the path");
    s.click_css("#fr-model-load").expect("load");
    s.wait_for("#fr-model-ready", LONG).expect("the model loads");
    d.screenshot("first-run-4-model.png");
    s.click_css("#fr-finish").expect("start");
    s.wait_until("return !document.querySelector('#first-run')", LONG).expect("setup closes");
    assert_eq!(ask(&s, "What is the present value?").trim(), "The present value is about $907");

    // Settings: Chinese and the dark theme.
    s.click_css("#nav-settings").expect("settings");
    s.wait_for("#settings-save", LONG).expect("settings page");
    s.select("#set-lang", "zh").expect("language");
    s.select("#set-theme", "dark").expect("theme");
    s.click_css("#settings-save").expect("save");
    s.wait_text("#settings-status", LONG, |t| t == "已保存").expect("saved, in Chinese");
    // Copy diagnostics names the log file, which exists.
    s.click_css("#nav-about").expect("about");
    s.wait_for("#copy-diagnostics", LONG).expect("about page");
    s.click_css("#copy-diagnostics").expect("copy diagnostics");
    let diag = s.wait_until("const e = document.querySelector('#diagnostics'); return e ? e.value : null", LONG).expect("diagnostics");
    let diag = diag.as_str().expect("text").to_owned();
    let log = diag.lines().find_map(|l| l.strip_prefix("Log file: ")).expect("a log file line").to_owned();
    assert!(Path::new(&log).is_file() && log.starts_with(&data.display().to_string()), "{diag}");
    // The answer's figures are logged, never the question or the answer.
    let logged = std::fs::read_to_string(&log).expect("the log");
    assert!(logged.contains("answer finished") && logged.contains("answer_tokens="), "{logged}");
    assert!(!logged.contains("present value") && !logged.contains("$907"), "{logged}");
    let licences = s.find_all("#licences tbody tr").expect("licence rows").len();
    assert!(licences > 100, "the third-party licence list: {licences} rows");
    d.screenshot("about.png");
    s.end().expect("close");

    // A restart: no setup again, the language and theme kept.
    let s = d.session();
    s.wait_text("#new-chat", LONG, |t| t.contains("新对话")).expect("the Chinese UI after a restart");
    assert!(s.find("#first-run").is_err(), "the setup never comes back");
    s.wait_until("return document.documentElement.dataset.theme === 'dark'", LONG).expect("the dark theme kept");
    s.end().expect("close");

    // A damaged settings row: the app starts, keeps what it can read, and says so.
    write_raw_setting(&data, "app.settings", r#"{"first_run_done":true,"lang":"en","theme":"neon","device":"cpu"}"#);
    let s = d.session();
    let banner = s.wait_text(".banner", LONG, |t| t.contains("theme")).expect("a notice about the damaged setting");
    assert!(banner.contains("reset to their defaults"), "{banner}");
    s.wait_text("#new-chat", LONG, |t| t.contains("New chat")).expect("the readable language kept");
    assert!(s.find("#first-run").is_err());
    d.screenshot("settings-recovered.png");
    s.end().expect("close");
}

#[test]
fn chat_from_a_preset_export_a_pdf_stop_an_answer_and_find_it_after_a_restart() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("chat");
    seed_settings(&data, |s| s.lang = None);
    // The stop and "jump to latest" checks need SmolLM2 still writing its essay: on the
    // portable kernels and one thread it writes at the pace these steps were written for
    // (about 28 tokens/s); with the SIMD kernels it could finish before the stop (seen in CI).
    let d = Desktop::start(1, &data, &[("FIN_R1_SCALAR_KERNELS", Path::new("1")), ("RAYON_NUM_THREADS", Path::new("1"))]);
    let s = d.session();

    // No model yet: the window says so in line.
    s.wait_for("#no-model", LONG).expect("the no-model notice");
    s.click_css("#model-menu-toggle").expect("the model menu");
    let path = s.wait_for("#model-path", LONG).expect("model path");
    s.type_into(&path, &thinking.to_string_lossy()).expect("type path");
    s.click_css("#model-load").expect("load");
    let name = thinking.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("model loaded");

    // The calculation preset: its card, its form, a question.
    s.click_css("#scenario-calculation").expect("preset card");
    let rate = s.wait_for("input[name=rate]", LONG).expect("the preset's form");
    s.type_into(&rate, "5").expect("rate");
    let answer = ask(&s, "两年后收到1000元的现值是多少？");
    d.screenshot("desktop-answer.png");
    assert_eq!(answer.trim(), "The present value is about $907");
    let label = s.wait_text(".reasoning-label", LONG, |t| !t.is_empty()).expect("reasoning label");
    assert!(label.starts_with("已思考") || label.starts_with("Thought for"), "{label}");
    s.click_css(".reasoning-toggle").expect("open the reasoning");
    let reasoning = s.wait_text(".reasoning-text", LONG, |t| !t.is_empty()).expect("reasoning text");
    assert_eq!(reasoning.trim(), "Discount the cash flow twice at five percent");
    let title = s.wait_text("#conversation-title", LONG, |t| !t.is_empty()).expect("title");
    assert_eq!(title, "两年后收到1000元的现值是多少？");

    // The export dialog: PDF, reasoning in full, a title of the analyst's own.
    s.click_css("#export-open-dialog").expect("export");
    s.wait_for("#export-dialog", LONG).expect("the export dialog");
    let memo = data.join("现值备忘录.pdf");
    let path = s.find("#export-path").expect("path field");
    s.clear(&path).expect("clear");
    s.type_into(&path, &memo.to_string_lossy()).expect("path");
    let t = s.find("#export-title").expect("title field");
    s.clear(&t).expect("clear");
    s.type_into(&t, "现值计算备忘录 PV memo").expect("title");
    s.click_css("input[name=export-reasoning][value=full]").expect("reasoning in full");
    d.screenshot("export-dialog.png");
    s.click_css("#export-go").expect("export");
    let done = s.wait_text("#export-result", LONG, |t| !t.is_empty()).expect("a result");
    assert!(done.contains(&memo.display().to_string()), "{done}");
    let text = Command::new("pdftotext").arg(&memo).arg("-").output().expect("pdftotext");
    // pdftotext puts spaces between Chinese and digits: compare without spaces.
    let text: String = String::from_utf8_lossy(&text.stdout).split_whitespace().collect();
    for want in ["现值计算备忘录PVmemo", "两年后收到1000元的现值是多少？", "Discountthecashflowtwice", "仅供参考"] {
        assert!(text.contains(want), "{want:?} in the PDF:\n{text}");
    }
    s.click_css("#export-dialog .modal-actions button").expect("close the dialog");

    // A long answer from SmolLM2, stopped mid-way.
    // The model menu: the model in use and the one before at hand, a file picker, the manager.
    s.click_css("#model-menu-toggle").expect("the model menu");
    s.wait_for("#model-menu #model-open-file", LONG).expect("Open file…");
    s.wait_for("#model-menu #model-manage", LONG).expect("Manage models…");
    // Listed from the library once the menu has read it: with its quantization and fit.
    s.wait_text("#model-menu .model-option.current", LONG, |t| t.contains('✓') && t.contains("Q8_0") && t.contains("fits"))
        .expect("the model in use, listed with its fit");
    d.screenshot("desktop-model-menu.png");
    let path = s.wait_for("#model-path", LONG).expect("model path");
    s.clear(&path).expect("clear");
    s.type_into(&path, &fixture(SMOLLM2_FILE).to_string_lossy()).expect("type path");
    s.click_css("#model-load").expect("load");
    s.wait_text("#model-current", LONG, |t| t.contains(SMOLLM2_FILE)).expect("SmolLM2 loaded");
    // A seed of the conversation's own: the same essay from run to run on one machine.
    s.click_css("#sampling-toggle").expect("sampling panel");
    let seed = s.wait_for(".sampling input[name=seed]", LONG).expect("the seed field");
    s.type_into(&seed, "2024\u{E004}").expect("a seed");
    s.wait_until("return !document.querySelector('#sampling-error') && document.querySelector('.sampling input[name=seed]').value === '2024'", LONG)
        .expect("the seed taken");
    s.click_css("#sampling-toggle").expect("close the panel");
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "Write a long, detailed essay on how central banks set interest rates.").expect("question");
    s.click_css("#send").expect("send");
    s.wait_for("#stop", LONG).expect("a stop button while streaming");
    s.wait_text(".status-streaming .answer-body", LONG, |t| t.split_whitespace().count() >= 5).expect("text streaming");
    d.screenshot("desktop-streaming.png");
    // The view follows the answer as it grows past the window...
    let gap = "const m = document.querySelector('#messages'); return m.scrollHeight - m.scrollTop - m.clientHeight;";
    s.wait_until("const m = document.querySelector('#messages'); return m.scrollHeight > m.clientHeight + 200;", LONG).expect("an answer taller than the view");
    s.wait_until("return !!document.querySelector('.status-streaming')", LONG).expect("still streaming");
    let behind = s.script(gap).expect("gap").as_f64().unwrap_or(f64::MAX);
    assert!(behind <= 60.0, "the view stayed {behind}px above the end of a streaming answer");
    // ...stops when the analyst scrolls up to read, and "Jump to latest" brings it back.
    s.script("const m = document.querySelector('#messages'); m.scrollTop = 0; return true;").expect("scroll up");
    if let Err(e) = s.wait_for("#jump-latest", LONG) {
        // What the view was then: this once failed in CI with nothing to go on.
        let state = s.script(
            "const m = document.querySelector('#messages'); return JSON.stringify({top: m.scrollTop, height: m.scrollHeight, view: m.clientHeight, \
             streaming: !!document.querySelector('.status-streaming'), answer: document.querySelector('.msg.answer:last-of-type')?.innerText.length})",
        );
        d.screenshot("desktop-no-jump-button.png");
        panic!("a jump-to-latest button: {e:#}\nthe view: {state:?}");
    }
    let grown = s.script("return document.querySelector('#messages').scrollHeight").expect("height").as_f64().unwrap_or(0.0);
    s.wait_until(&format!("return document.querySelector('#messages').scrollHeight > {grown} + 40 || !document.querySelector('.status-streaming')"), LONG)
        .expect("more text");
    let top = s.script("return document.querySelector('#messages').scrollTop").expect("top").as_f64().unwrap_or(f64::MAX);
    assert!(top < 5.0, "the view was pulled away from where the analyst was reading ({top}px)");
    d.screenshot("desktop-reading-above.png");
    s.click_css("#jump-latest").expect("jump to latest");
    s.wait_until("const m = document.querySelector('#messages'); return m.scrollHeight - m.scrollTop - m.clientHeight <= 60;", LONG).expect("back at the end");
    // Stopped, the answer is drawn by the stored view: its text must not vanish meanwhile.
    s.script(
        r#"const m = document.querySelector('#messages');
           const answers = document.querySelectorAll('.msg.answer');
           const id = answers[answers.length - 1].dataset.id;
           window.__emptied = false;
           new MutationObserver(() => {
             const body = document.querySelector(`.msg.answer[data-id="${id}"] .answer-body`);
             if (!body || !body.innerHTML.trim()) window.__emptied = true;
           }).observe(m, { childList: true, subtree: true, characterData: true });
           return true;"#,
    )
    .expect("watch the answer");
    s.click_css("#stop").expect("stop");
    s.wait_for(".msg.answer[data-status=cancelled]", LONG).expect("a cancelled answer");
    s.wait_for("#send", LONG).expect("ready again");
    let emptied = s.script("return window.__emptied").expect("watched");
    assert_eq!(emptied.as_bool(), Some(false), "the answer's text vanished as it stopped");
    s.end().expect("close the app");

    // Restart: the conversation is in the sidebar, and opens with both answers.
    let s = d.session();
    let item = s.wait_for(".item .item-title", LONG).expect("a conversation in the sidebar");
    s.wait_text(".item .item-title", LONG, |t| t == "两年后收到1000元的现值是多少？").expect("its title");
    s.click(&item).expect("open it");
    s.wait_for(".msg.answer[data-status=cancelled]", LONG).expect("the stopped answer kept");
    assert_eq!(s.find_all(".msg.answer").expect("answers").len(), 2);
    d.screenshot("desktop-restart.png");
    // The form's value under the preset's label, not its key.
    let form = s.wait_text(".form-values", LONG, |t| !t.is_empty()).expect("the form's values");
    assert!(form.contains("Discount or interest rate (%)") && !form.contains("rate\n"), "{form}");
    // The header names the preset as the preset does, not by its id.
    let preset = s.wait_text("#conversation-preset", LONG, |t| !t.is_empty()).expect("the preset's name");
    assert!(preset != "calculation" && preset.to_lowercase().contains("calculation"), "{preset}");
    // The sampling panel says what an empty field means.
    s.click_css("#sampling-toggle").expect("sampling panel");
    let placeholders: Vec<String> = serde_json::from_value(
        s.script("return ['temperature', 'max_tokens', 'seed'].map((n) => document.querySelector(`.sampling input[name=${n}]`).placeholder)")
            .expect("placeholders"),
    )
    .expect("strings");
    assert!(placeholders[0].starts_with("default 0") && placeholders[1].starts_with("default ") && placeholders[2] == "random", "{placeholders:?}");
    // The conversation's own seed, kept with it.
    let seed = s.script("return document.querySelector('.sampling input[name=seed]').value").expect("seed");
    assert_eq!(seed.as_str(), Some("2024"));
    s.click_css("#sampling-toggle").expect("close it");
    // Rename: the box takes the keys at once, and the open conversation's header follows.
    s.click_css(".item.active .item-menu").expect("item menu");
    s.click_css(".item .menu button").expect("rename");
    s.wait_until("return document.activeElement && document.activeElement.classList.contains('rename')", LONG).expect("the rename box focused");
    let rename = s.find(".rename").expect("rename box");
    // The old title is selected: typing replaces it.
    s.type_into(&rename, "PV memo").expect("a new title");
    s.type_into(&rename, "\u{E007}").expect("Enter");
    s.wait_text("#conversation-title", LONG, |t| t == "PV memo").expect("the header renamed");
    s.wait_text(".item .item-title", LONG, |t| t == "PV memo").expect("the sidebar renamed");
    // Search lands on the version that matched: the first question edited (a second version)...
    s.click_css(".msg.question .actions button.link").expect("edit the first question");
    let edit = s.wait_for(".edit-box", LONG).expect("the edit box");
    s.script("const e = document.querySelector('.edit-box'); e.scrollIntoView({ block: 'center' }); e.focus(); e.select(); return true;")
        .expect("select the old text");
    s.type_into(&edit, "What is the present value of a two-year annuity at 5%?").expect("new question");
    s.click_css(".msg.question.editing .actions button.primary").expect("send it again");
    s.wait_for("#stop", LONG).expect("answering");
    s.click_css("#stop").expect("stop");
    s.wait_for("#send", LONG).expect("ready");
    // ...the first version put back on show...
    s.click_css(".msg.question .branch-nav button.icon").expect("the previous version");
    s.wait_text(".msg.question .question-text", LONG, |t| t.contains("两年后")).expect("version 1 on show");
    // ...then found: listed once, the word marked, opened at version 2 and brought into view.
    let search = s.find("#search").expect("search");
    s.type_into(&search, "annuity").expect("search");
    s.wait_text(".hit mark", LONG, |t| t.eq_ignore_ascii_case("annuity")).expect("the word marked");
    assert_eq!(s.find_all(".hit").expect("hits").len(), 1);
    s.click_css(".hit").expect("open the hit");
    s.wait_text(".msg.question .question-text", LONG, |t| t.contains("annuity")).expect("the version that matched");
    s.wait_for(".msg.found", LONG).expect("the matching message marked");
    d.screenshot("desktop-search-hit.png");
    // A word in the title, the questions and every answer: still one line for the conversation.
    s.clear(&search).expect("clear");
    s.type_into(&search, "present").expect("search");
    s.wait_for(".hit", LONG).expect("a hit");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.find_all(".hit").expect("hits").len(), 1);
    s.type_into(&search, "\u{E00C}").expect("Escape");
    s.wait_for(".item .item-title", LONG).expect("the list again");
    // Ctrl+N: a new chat, its composer taking the keys at once.
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "\u{E009}n\u{E000}").expect("Ctrl+N");
    s.wait_until("return !document.querySelector('#conversation-title') && document.activeElement && document.activeElement.id === 'composer'", LONG)
        .expect("a new chat, its composer focused");
    // A preset's required fields, left empty, are refused beside the form before anything is sent.
    s.click_css("#scenario-compliance").expect("the compliance preset");
    let composer = s.wait_for("#composer", LONG).expect("composer");
    s.type_into(&composer, "Is this trade allowed?").expect("question");
    s.click_css("#send").expect("send");
    let told = s.wait_text("#form-missing", LONG, |t| !t.is_empty()).expect("the missing fields named");
    assert!(told.contains("Regulation or policy text") && told.contains("Business facts"), "{told}");
    assert_eq!(s.find_all(".form .field.missing").expect("marked").len(), 2);
    assert!(s.find_all(".msg.question").expect("questions").is_empty(), "nothing was sent");
    s.wait_until("return document.activeElement && document.activeElement.name === 'rule'", LONG).expect("the first empty field takes the keys");
    d.screenshot("desktop-required-fields.png");
    // Filled in, it goes; the preset's long prompt is read with its progress shown, not a bare "…".
    s.script(WATCH_READING).expect("watch the reading");
    let rule = s.find("textarea[name=rule]").expect("rule");
    s.type_into(&rule, &"Article 3: A fund distributor shall not promise returns or guarantee principal to investors. ".repeat(6)).expect("rule");
    let facts = s.find("textarea[name=facts]").expect("facts");
    s.type_into(&facts, "A salesman wrote on social media that the fund guarantees 8% a year.").expect("facts");
    s.click_css("#send").expect("send");
    s.wait_for(".msg.question", LONG).expect("sent");
    s.wait_until("return window.__reading.some((t) => /Reading the prompt… \\d+ \\/ \\d+ tokens/.test(t))", LONG).expect("the reading's progress");
    s.wait_for(".answer-body", LONG).expect("the answer begins");
    s.click_css("#stop").ok();
    s.wait_for("#send", LONG).expect("ready");
    s.end().expect("close");
}

#[test]
fn the_model_manager_downloads_fin_r1_with_progress_resumes_after_a_cut_and_chats() {
    let data = fresh_data("models");
    let cache = data.join("hf-cache");
    let hub = fin_r1_tests::hub::Hub::start();
    // SmolLM2 stands in for the 4.7 GB file under the catalog's repository and quantization.
    let bytes = std::fs::read(fixture(SMOLLM2_FILE)).expect("SmolLM2");
    let size = bytes.len() as u64;
    hub.add("mradermacher/Fin-R1-GGUF", "Fin-R1.Q4_K_M.gguf", bytes);
    hub.pace(6_000_000);
    // The connection drops in the ninth 8 MiB chunk, once the app has finished a chunk from the
    // start of the file (hf-hub starts chunks in no fixed order).
    hub.cut_once_held(8 * 8 * 1024 * 1024, 1_000_000);
    let endpoint = hub.endpoint();
    seed_settings(&data, |s| s.hub_endpoint = Some(endpoint));
    let d = Desktop::start(2, &data, &[("HF_HOME", &cache)]);
    let s = d.session();

    s.click_css("#nav-models").expect("models page");
    let advice = s.wait_text("#hardware-advice", LONG, |t| t.contains("Suggested")).expect("hardware advice");
    assert!(advice.contains("Fin-R1"), "{advice}");
    // Each catalog entry against this machine: fits / slow / too big, and its speed here.
    assert!(advice.contains("estimated from the engine's benchmark"), "no answer measured here yet: {advice}");
    let card = s.wait_text(".model-card.suggested", LONG, |t| t.contains("tok/s here")).expect("a speed on the suggested card");
    assert!(card.contains("fits this machine"), "{card}");
    // The catalog filtered as the analyst types; the hub searched on Enter.
    let filter = s.find("#model-filter").expect("the filter");
    s.type_into(&filter, "q8").expect("type");
    s.wait_until("return document.querySelectorAll('#catalog .model-card').length === 1", LONG).expect("only the Q8_0 entry");
    s.clear(&filter).expect("clear");
    s.type_into(&filter, "fin-r1").expect("type");
    s.click_css("#hub-search").expect("search the hub");
    s.wait_text("#hub-results", LONG, |t| t.contains("mradermacher/Fin-R1-GGUF")).expect("the hub's repository");
    s.click_css(".hub-repo[data-repo='mradermacher/Fin-R1-GGUF'] .hub-files-toggle").expect("its files");
    let row = s.wait_text(".hub-files tr[data-file='Fin-R1.Q4_K_M.gguf']", LONG, |t| t.contains("tok/s")).expect("the file with its fit and speed");
    assert!(row.contains("Q4_K_M") && row.contains("98.4 MB") && row.contains("fits"), "{row}");
    d.screenshot("models-search.png");
    s.clear(&filter).expect("clear");
    s.click_css(".model-card.suggested button").expect("download the suggested model");
    s.wait_until("const p = document.querySelector('#job-progress'); return p && p.value > 3", LONG).expect("a moving progress bar");
    let numbers = s.wait_text("#job-numbers", LONG, |t| t.contains("MB/s")).expect("bytes and rate");
    assert!(numbers.contains("98.4 MB") && numbers.contains("left"), "{numbers}");
    d.screenshot("models-downloading.png");
    let deadline = std::time::Instant::now() + LONG;
    while fin_r1_tests::hub::committed_bytes(&cache, size) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    hub.release_cut();
    let cut = s.wait_text("#job-result", LONG, |t| !t.is_empty()).expect("the cut");
    assert!(cut.contains("run it again to resume"), "{cut}");

    // The result shows a moment before the job's slot frees: a click on the still-disabled
    // button did nothing once, and the test waited for a download that never started.
    s.wait_until("const b = document.querySelector('.model-card.suggested button'); return b && !b.disabled", LONG).expect("the button free again");
    s.click_css(".model-card.suggested button").expect("download again");
    // Either the job shows where it picked up, or it ended: say how, if it did.
    s.wait_until(
        "const n = document.querySelector('#job-numbers'); return !!document.querySelector('#job-result') || !!(n && n.innerText.includes('resumed at'))",
        LONG,
    )
    .expect("the second download under way or ended");
    let resumed = s.wait_text("#job-numbers", Duration::from_secs(1), |t| !t.is_empty()).unwrap_or_else(|_| {
        let ended = s.wait_text("#job-result", Duration::from_secs(1), |_| true).unwrap_or_default();
        d.screenshot("models-resume-failed.png");
        panic!("the second download did not show a resume; the panel says: {ended:?}")
    });
    assert!(resumed.contains("resumed at"), "{resumed}");
    assert!(!resumed.contains("resumed at 0 B"), "{resumed}");
    d.screenshot("models-resumed.png");
    s.wait_text("#job-result", LONG, |t| t.contains("Fin-R1.Q4_K_M.gguf")).expect("ready, its SHA-256 checked");
    // How much the first try keeps depends on which chunks hf-hub had finished in order
    // (models_download checks the byte counts); here: it picked up after some and the file is whole.
    let served = hub.state.bytes_served.load(std::sync::atomic::Ordering::Relaxed);
    assert!(served >= size, "{served} bytes served for a {size}-byte file");
    let listed = s.wait_text("#library", LONG, |t| t.contains("Fin-R1.Q4_K_M.gguf")).expect("in the library");
    assert!(listed.contains("download"), "{listed}");

    // Import: a file that is not a model is refused with its reason, the library unchanged.
    let rows = s.find_all("#library tbody tr").expect("rows").len();
    let junk = data.join("not-a-model.gguf");
    std::fs::write(&junk, b"GGUF but nothing else").expect("junk file");
    let field = s.find("#import-path").expect("import field");
    s.type_into(&field, &junk.to_string_lossy()).expect("path");
    // The hub's results above pushed the form to the page's foot.
    s.script("document.querySelector('#import-go').scrollIntoView({ block: 'center' }); return true;").expect("scroll");
    s.click_css("#import-go").expect("import");
    let refused = s.wait_text("#import-result", LONG, |t| !t.is_empty()).expect("a reason");
    assert!(refused.contains("not-a-model.gguf"), "{refused}");
    assert_eq!(s.find_all("#library tbody tr").expect("rows").len(), rows, "the library as it was");

    // Quantize: a (tiny) safetensors Qwen2 checkpoint into a GGUF that joins the library.
    let checkpoint = data.join("tiny-checkpoint");
    fin_r1_tests::checkpoint::write_tiny_hf_qwen2(&fixture(fin_r1_tests::QWEN_HEADER_FILE), &checkpoint, 7).expect("checkpoint");
    let field = s.find("#quantize-dir").expect("checkpoint field");
    s.type_into(&field, &checkpoint.to_string_lossy()).expect("path");
    s.select("#quantize-target", "q8_0").expect("Q8_0");
    s.click_css("#quantize-go").expect("quantize");
    let done = s.wait_text("#job-result", LONG, |t| t.contains("tiny-checkpoint-Q8_0.gguf")).expect("quantized");
    assert!(done.contains("Ready"), "{done}");
    let listed = s.wait_text("#library", LONG, |t| t.contains("tiny-checkpoint-Q8_0.gguf")).expect("in the library");
    assert!(listed.contains("quantize"), "{listed}");
    s.wait_for("#job-result #job-use", LONG).expect("use button");
    let use_download = s.script(
        "const row = [...document.querySelectorAll('#library tbody tr')].find(r => r.innerText.includes('Fin-R1.Q4_K_M.gguf')); row.querySelector('button').click(); return true;",
    );
    use_download.expect("use the downloaded model");
    s.wait_text("#model-current", LONG, |t| t.contains("Fin-R1.Q4_K_M.gguf")).expect("loaded");
    let answer = ask(&s, "In one sentence: what is a bond?");
    assert!(answer.split_whitespace().count() >= 3, "{answer}");
    s.end().expect("close");
}

#[test]
fn the_evaluate_page_runs_a_benchmark_shows_progress_and_opens_a_wrong_answer() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("evaluate");
    seed_settings(&data, |_| {});
    // The analyst's own items (JSONL); the scripted model always answers "about $907".
    let items = data.join("my-items.jsonl");
    let lines = [
        r#"{"id":"pv-1","bench":"mine","category":"valuation","kind":"numeric","question":"What is the present value of $1,000 in two years at 5%?","answer":"907"}"#,
        r#"{"id":"pv-2","bench":"mine","category":"valuation","kind":"numeric","question":"What is the present value of $1,000 in one year at 5%?","answer":"952.38"}"#,
        r#"{"id":"rate-1","bench":"mine","category":"rates","kind":"numeric","question":"A bond pays $50 a year on $1,000 face value. What is its coupon rate?","answer":"5%"}"#,
    ];
    // Forty more the model gets right: enough that the run lasts a few seconds to watch.
    let more = (0..40).map(|i| format!(r#"{{"id":"vol-{i}","bench":"mine","category":"volume","kind":"numeric","question":"Item {i}: what is $1,000 discounted twice at 5%?","answer":"907"}}"#));
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).chain(more).collect();
    std::fs::write(&items, text.join("\n") + "\n").expect("items");
    let d = Desktop::start(3, &data, &[]);
    let s = d.session();
    s.wait_for("#model-menu-toggle", LONG).expect("the model menu");
    s.click_css("#model-menu-toggle").expect("open it");
    let path = s.wait_for("#model-path", LONG).expect("model path");
    s.type_into(&path, &thinking.to_string_lossy()).expect("type path");
    s.click_css("#model-load").expect("load");
    let name = thinking.file_name().expect("file name").to_string_lossy().into_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("model loaded");

    s.click_css("#nav-evaluate").expect("evaluate page");
    s.wait_for("#eval-runs-empty", LONG).expect("no runs yet");
    // Empty and wrong input: told, nothing started.
    s.click_css("#eval-start").expect("start with no file");
    let told = s.wait_text("#eval-message", LONG, |t| !t.is_empty()).expect("a reason");
    assert!(told.contains("Choose a benchmark file"), "{told}");
    s.select("#eval-bench", "jsonl").expect("own items");
    let field = s.find("#eval-data").expect("data field");
    s.type_into(&field, &items.to_string_lossy()).expect("data path");
    let limit = s.find("#eval-limit").expect("limit");
    s.clear(&limit).expect("clear");
    s.type_into(&limit, "0").expect("limit 0");
    s.click_css("#eval-start").expect("start with limit 0");
    s.wait_text("#eval-message", LONG, |t| t.contains("at least 1")).expect("the limit refused");
    s.clear(&limit).expect("clear");
    s.type_into(&limit, "50").expect("limit");
    // The tiny model answers in milliseconds: every state of the progress line is recorded as
    // the page shows it, rather than hoping a poll lands mid-run.
    s.script(
        "window.__progress = []; new MutationObserver(() => { const n = document.querySelector('#eval-numbers'); \
         if (n && window.__progress[window.__progress.length - 1] !== n.innerText) window.__progress.push(n.innerText); }) \
         .observe(document.body, { subtree: true, childList: true, characterData: true }); return true;",
    )
    .expect("watch the progress line");
    s.click_css("#eval-start").expect("start");
    let done = s.wait_text("#eval-message", LONG, |t| t.contains("finished")).expect("the run finished");
    assert!(done.contains("jsonl-"), "{done}");
    let seen: Vec<String> = serde_json::from_value(s.script("return window.__progress").expect("progress seen")).expect("strings");
    let counts: Vec<usize> = seen.iter().filter_map(|l| l.split(" / 43 items").next()?.trim().parse().ok()).collect();
    assert!(counts.len() >= 10 && counts.windows(2).all(|w| w[0] <= w[1]) && counts.last() == Some(&43), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("accuracy") && l.contains("tok/s") && l.contains("left")), "{seen:?}");

    // Scores per category as a chart: valuation 1 of 2, rates 0 of 1, volume 40 of 40; all 41 of 43.
    let chart = s.wait_text("#eval-chart", LONG, |t| t.contains("valuation")).expect("the chart");
    for want in ["rates\n0.0%", "valuation\n50.0%", "volume\n100.0%", "all\n95.3%"] {
        assert!(chart.replace('\t', "\n").contains(want), "{want:?} in {chart:?}");
    }
    let runs = s.wait_text("#eval-runs", LONG, |t| t.contains("jsonl-")).expect("the run listed");
    assert!(runs.contains("43 / 43") && runs.contains("95.3%"), "{runs}");
    assert_eq!(s.find_all(".wrong-answer").expect("wrong answers").len(), 2);
    s.click_css(".wrong-answer[data-id=pv-2] summary").expect("open a wrong answer");
    let opened = s.wait_text(".wrong-answer[data-id=pv-2]", LONG, |t| t.contains("Discount the cash flow")).expect("its reasoning");
    assert!(opened.contains("952.38") && opened.contains("907") && opened.contains("one year"), "{opened}");
    d.screenshot("evaluate-wrong-answer.png");

    // The run as a report with its provenance.
    let out = data.join("eval-report.html");
    let target = s.find("#eval-export-path").expect("export path");
    s.clear(&target).expect("clear");
    s.type_into(&target, &out.to_string_lossy()).expect("path");
    s.click_css("#eval-export").expect("export");
    // Said beside its button, where the analyst is looking.
    s.wait_text("#eval-export-result", LONG, |t| t.contains("Report saved")).expect("exported");
    let html = std::fs::read_to_string(&out).expect("the report");
    for want in ["Provenance", "Model SHA-256", "my-items.jsonl", "pv-2", "Discount the cash flow", "仅供参考"] {
        assert!(html.contains(want), "{want:?} in the report");
    }
    s.end().expect("close");

    // The run as a crash or a Stop leaves it: three items answered, none scored.
    let run_dir = std::fs::read_dir(data.join("eval-runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("config.json").exists())
        .expect("the run's folder");
    let predictions = std::fs::read_to_string(run_dir.join("predictions.jsonl")).expect("predictions");
    std::fs::write(run_dir.join("predictions.jsonl"), predictions.lines().take(3).map(|l| format!("{l}\n")).collect::<String>()).expect("cut");
    std::fs::remove_file(run_dir.join("report.json")).expect("unscored");
    // After a restart the run is still listed; Resume asks the other 40 in its own folder.
    let s = d.session();
    s.click_css("#nav-evaluate").expect("evaluate page");
    s.wait_text("#eval-runs", LONG, |t| t.contains("3 / 43")).expect("the stopped run kept");
    s.click_css("#eval-runs .open-run").expect("open it");
    let resume = s.wait_text("#eval-resume", LONG, |t| !t.is_empty()).expect("a Resume");
    assert!(resume.contains("40 items left"), "{resume}");
    d.screenshot("evaluate-resume.png");
    s.click_css("#eval-resume").expect("resume");
    s.wait_text("#eval-message", LONG, |t| t.contains("finished")).expect("the run went on to its end");
    s.wait_text("#eval-runs", LONG, |t| t.contains("43 / 43") && t.contains("95.3%")).expect("the same run, scored");
    let runs = std::fs::read_dir(data.join("eval-runs")).expect("runs").flatten().filter(|e| e.path().join("config.json").exists()).count();
    assert_eq!(runs, 1, "resumed in its own folder, not a new one");
    s.wait_text("#eval-chart", LONG, |t| t.contains("valuation")).expect("its chart");
    // A seed that is not a number is refused before anything starts.
    let field = s.find("#eval-data").expect("data field");
    s.clear(&field).expect("clear");
    s.type_into(&field, &items.to_string_lossy()).expect("data path");
    let seed = s.find("#eval-seed").expect("the seed field");
    s.type_into(&seed, "-3").expect("a bad seed");
    s.click_css("#eval-start").expect("start");
    s.wait_text("#eval-message", LONG, |t| t.contains("seed")).expect("the seed refused");
    s.clear(&seed).expect("clear");

    // A run made by the CLI elsewhere joins the list and compares side by side.
    let cli_run = data.join("cli-run");
    let cli = Command::new(fin_r1_bin())
        .args(["eval", "run", "--bench", "jsonl", "--limit", "1", "--max-tokens", "64", "--data"])
        .arg(&items)
        .arg("--model")
        .arg(&thinking)
        .arg("--out")
        .arg(&cli_run)
        .output()
        .expect("fin-r1 eval run");
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let field = s.find("#eval-add-path").expect("add field");
    s.type_into(&field, &data.join("no-such-run").to_string_lossy()).expect("path");
    s.click_css("#eval-add").expect("add a folder that is not a run");
    s.wait_text("#eval-message", LONG, |t| t.contains("not an evaluation run")).expect("refused");
    s.clear(&field).expect("clear");
    s.type_into(&field, &cli_run.to_string_lossy()).expect("path");
    s.click_css("#eval-add").expect("add the CLI's run");
    s.wait_text("#eval-runs", LONG, |t| t.contains("cli-run")).expect("listed");
    s.script("document.querySelectorAll('#eval-runs tbody input[type=checkbox]').forEach((c) => c.click()); return true;").expect("choose both");
    s.click_css("#eval-compare").expect("compare");
    let table = s.wait_text("#eval-compare-view", LONG, |t| t.contains("cli-run")).expect("side by side");
    // One item per category in the CLI run: three in all, beside the 43 of the first.
    assert!(table.contains("valuation") && table.contains("95.3%") && table.contains("n=43") && table.contains("n=3"), "{table}");
    assert!(s.find("#eval-compare-warning").is_err(), "the same benchmark: no warning");
    d.screenshot("evaluate-compare.png");
    s.end().expect("close");
}

/// Issue 17 in Chinese, as an analyst starts the day: a preset's long prompt read with its
/// progress shown, the second conversation of the preset starting from the cached prefix, the
/// model menu, and a broken model file refused in Chinese without losing the model in use.
#[test]
fn in_chinese_a_preset_reads_with_progress_reuses_its_prefix_and_the_model_menu_explains_errors() {
    let data = fresh_data("zh");
    let cache = data.join("cache");
    seed_settings(&data, |s| s.lang = Some(fin_r1_core::scenario::Lang::Zh));
    let model = fixture(SMOLLM2_FILE);
    let d = Desktop::start(4, &data, &[("FIN_R1_MODEL", model.as_path()), ("FIN_R1_CACHE_DIR", cache.as_path())]);
    let s = d.session();
    s.wait_text("#model-current", LONG, |t| t.contains(SMOLLM2_FILE)).expect("SmolLM2 loaded");
    let rule = "第三十条：不得向投资者承诺本金不受损失或者承诺最低收益。第三十二条：基金销售机构不得以任何方式承诺收益。";
    let compliance = |facts: &str, shot: &str| {
        s.click_css("#scenario-compliance").expect("the compliance preset");
        let r = s.wait_for("textarea[name=rule]", LONG).expect("the form");
        s.type_into(&r, rule).expect("rule");
        s.type_into(&s.find("textarea[name=facts]").expect("facts"), facts).expect("facts");
        s.script(WATCH_READING).expect("watch the reading");
        let composer = s.find("#composer").expect("composer");
        s.type_into(&composer, "是否合规？").expect("question");
        s.click_css("#send").expect("send");
        s.wait_until("return window.__reading.some((t) => t.startsWith('正在读取提示词'))", LONG).expect("the reading's progress, in Chinese");
        d.screenshot(shot);
        s.wait_for(".answer-body", LONG).expect("the answer begins");
        serde_json::from_value::<Vec<String>>(s.script("return window.__reading").expect("reading")).expect("strings")
    };
    let first = compliance("某基金销售人员在朋友圈宣传产品“保本保收益、年化8%”。", "zh-reading-the-prompt.png");
    assert!(first.iter().any(|t| t.contains(" / ") && t.contains("个 token")), "{first:?}");
    // Ctrl+N while the answer is being written: a new chat at once, the answer going on.
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "\u{E009}n\u{E000}").expect("Ctrl+N");
    s.wait_until("return !document.querySelector('#conversation-title') && document.activeElement && document.activeElement.id === 'composer'", LONG)
        .expect("a new chat, its composer focused");
    // Back in it from the sidebar: still being written (its text grows there, and it can be
    // stopped there), or, a short answer, finished in the background meanwhile.
    s.click_css(".item .item-title").expect("the first conversation");
    let status = s
        .wait_until(
            "const a = document.querySelector('.msg.answer'); const t = a?.querySelector('.answer-body')?.textContent ?? ''; \
             return a && (a.dataset.status !== 'streaming' || t.length > 0) ? a.dataset.status : null",
            LONG,
        )
        .expect("its answer");
    if status.as_str() == Some("streaming") {
        let grown = s.wait_text(".status-streaming .answer-body", LONG, |t| !t.is_empty()).expect("its text").chars().count();
        s.wait_until(
            &format!(
                "const a = document.querySelector('.msg.answer'); \
                 return a.dataset.status !== 'streaming' || Array.from(a.querySelector('.answer-body')?.textContent ?? '').length > {grown}"
            ),
            LONG,
        )
        .expect("still being written");
        if s.find("#stop-background").is_ok() {
            s.click_css("#stop-background").ok();
            s.wait_for(".msg.answer[data-status=cancelled], .msg.answer[data-status=complete]", LONG).expect("stopped");
        }
    } else {
        assert_eq!(status.as_str(), Some("complete"), "the answer went on to its end");
        s.wait_text(".msg.answer .answer-body", LONG, |t| !t.is_empty()).expect("its text");
    }
    // A new chat of the same preset: the preset's own text comes from the cache.
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "\u{E009}n\u{E000}").expect("Ctrl+N");
    s.wait_until("return !document.querySelector('#conversation-title')", LONG).expect("a new chat");
    let second = compliance("某理财经理通过邮件向客户保证本金安全，年化收益不低于6%。", "zh-reading-from-the-cache.png");
    s.click_css("#stop").ok();
    s.wait_for("#send", LONG).expect("ready");
    assert!(second.iter().any(|t| t.contains("个来自缓存")), "the second conversation of the preset reused its prefix: {second:?}");

    // The model menu, in Chinese; a truncated file is refused in Chinese, the model in use kept.
    let broken = data.join("截断的模型.gguf");
    let bytes = std::fs::read(&model).expect("model");
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).expect("truncated copy");
    s.click_css("#model-menu-toggle").expect("the model menu");
    s.wait_text("#model-menu #model-open-file", LONG, |t| t.contains("打开文件")).expect("打开文件…");
    s.wait_text("#model-menu #model-manage", LONG, |t| t.contains("管理模型")).expect("管理模型…");
    s.wait_text("#model-menu .model-option.current", LONG, |t| t.contains("可运行")).expect("the model in use, with its fit");
    d.screenshot("zh-model-menu.png");
    let path = s.find("#model-path").expect("path");
    s.type_into(&path, &broken.to_string_lossy()).expect("path");
    s.click_css("#model-load").expect("load");
    let err = s.wait_text("#error-line", LONG, |t| !t.is_empty()).expect("the refusal");
    assert!(err.starts_with("模型文件"), "{err}");
    s.wait_text("#model-current", LONG, |t| t.contains(SMOLLM2_FILE)).expect("the model in use kept");
    d.screenshot("zh-broken-model.png");

    // A dropped PDF's chip in Chinese: its pages, and a locked PDF refused in Chinese words.
    let pdf = fin_r1_tests::repo_data("documents/annual-report.pdf");
    let locked = fin_r1_tests::repo_data("documents/encrypted.pdf");
    let paths = serde_json::to_string(&[pdf.to_string_lossy(), locked.to_string_lossy()]).expect("json");
    s.script(&format!(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {{ target: {{ kind: 'Webview', label: 'main' }}, event: 'tauri://drag-drop', payload: {{ paths: {paths}, position: {{ x: 400, y: 300 }} }} }}); return true;"
    ))
    .expect("drop");
    s.wait_text(".chip.pending-doc.ready", LONG, |t| t.contains("5 页")).expect("the PDF's chip with its pages in Chinese");
    s.wait_text(".chip.pending-doc.error", LONG, |t| t.contains("encrypted.pdf")).expect("the locked PDF refused");
    d.screenshot("zh-documents.png");
    // Its original, in Chinese: the tabs and the page drawn.
    s.click_css(".chip.pending-doc.ready .doc-open").expect("open the PDF's view");
    s.wait_text("#doc-tab-original", LONG, |t| t.contains("原文件")).expect("原文件");
    s.click_css("#doc-tab-original").expect("the original tab");
    s.wait_text("#doc-original #page-number", LONG, |t| t.contains("第 1 页，共 5 页")).expect("the pages, in Chinese");
    d.screenshot("zh-original.png");
    s.click_css("#document-view .close").expect("close the view");
    s.click_css(".chip.pending-doc.error .doc-remove").expect("drop it");
    s.click_css(".chip.pending-doc .doc-remove").expect("and the other");
    // The Models page in Chinese: each entry's fit and its speed here.
    s.click_css("#nav-models").expect("models page");
    let card = s.wait_text(".model-card.suggested", LONG, |t| t.contains("词元/秒")).expect("a speed, in Chinese");
    assert!(card.contains("本机可运行"), "{card}");
    s.wait_text("#speed-basis", LONG, |t| t.contains("基准测试")).expect("what the speeds come from");
    d.screenshot("zh-models.png");
    s.end().expect("close");
}

/// Issue 18: a conversation whose question came with documents (attached on the command line)
/// opens in the window with a chip per document, and a word only a document holds finds it.
#[test]
fn a_conversation_with_documents_shows_their_chips_and_is_found_by_them() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("documents");
    seed_settings(&data, |_| {});
    let out = Command::new(fin_r1_bin())
        .env("FIN_R1_CACHE_DIR", data.join("cache"))
        .args(["chat", "--temperature", "0", "--max-tokens", "64", "--data-dir"])
        .arg(&data)
        .arg("--model")
        .arg(&thinking)
        .arg("--attach")
        .arg(fin_r1_tests::repo_data("documents/income.xlsx"))
        .arg("--attach")
        .arg(fin_r1_tests::repo_data("documents/loans-gbk.csv"))
        .arg("What was the operating margin in 2024?")
        .output()
        .expect("chat");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = Desktop::start(5, &data, &[("FIN_R1_MODEL", thinking.as_path())]);
    let s = d.session();
    s.wait_for(".item .item-title", LONG).expect("the conversation");
    s.click_css(".item .item-title").expect("open it");
    s.wait_text(".msg.question .chip.attachment", LONG, |t| t.contains("income.xlsx") && t.contains("XLSX")).expect("the workbook's chip");
    assert_eq!(s.find_all(".msg.question .chip.attachment").expect("chips").len(), 2);
    d.screenshot("documents-chips.png");
    let search = s.find("#search").expect("search");
    s.type_into(&search, "华东制造").expect("a word only the CSV holds");
    s.wait_text(".hit .hit-field", LONG, |t| t == "Document").expect("found in a document");
    let snippet = s.wait_text(".hit .hit-snippet", LONG, |t| !t.is_empty()).expect("snippet");
    assert!(snippet.starts_with("loans-gbk.csv: "), "{snippet}");
    s.end().expect("close");
}

/// Issue 18 in the window: files dropped on it (the drop event the window's webview gets from
/// GTK, emitted to it as GTK would) are read into chips — a 5-page PDF with its pages, a
/// workbook, and a file the core does not read with the reason; a chip opens what the model
/// will see, tables rendered; the question goes with the files, the answer streams, the
/// question keeps the chips, they survive a restart, and the report lists the documents.
#[test]
fn documents_dropped_on_the_window_go_with_the_question_and_stay_with_it() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("drop-documents");
    seed_settings(&data, |_| {});
    let pdf = fin_r1_tests::repo_data("documents/annual-report.pdf");
    let xlsx = fin_r1_tests::repo_data("documents/income.xlsx");
    let odd = data.join("scan.bmp");
    std::fs::write(&odd, [0x42, 0x4D, 0, 0]).expect("bmp");
    let d = Desktop::start(6, &data, &[("FIN_R1_MODEL", thinking.as_path()), ("FIN_R1_CACHE_DIR", data.join("cache").as_path())]);
    let s = d.session();
    s.wait_for("#composer:not([disabled])", LONG).expect("a model, ready");
    let paths = serde_json::to_string(&[pdf.to_string_lossy(), xlsx.to_string_lossy(), odd.to_string_lossy()]).expect("json");
    s.script(&format!(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {{ target: {{ kind: 'Webview', label: 'main' }}, event: 'tauri://drag-drop', payload: {{ paths: {paths}, position: {{ x: 400, y: 300 }} }} }}); return true;"
    ))
    .expect("drop");
    let chip = s
        .wait_text(".chip.pending-doc.ready[data-path$='annual-report.pdf']", LONG, |t| t.contains("PDF") && t.contains("5 pages"))
        .expect("the PDF read, with its pages");
    assert!(chip.contains("annual-report.pdf"), "{chip}");
    s.wait_text(".chip.pending-doc.ready[data-path$='income.xlsx']", LONG, |t| t.contains("XLSX")).expect("the workbook read");
    let refused = s.wait_text(".chip.pending-doc.error", LONG, |t| !t.is_empty()).expect("the odd file refused on its chip");
    assert!(refused.contains("scan.bmp") && refused.contains("not read"), "{refused}");
    d.screenshot("documents-pending.png");

    // What the model will see: the statement as a table, its page marked.
    s.click_css(".chip.pending-doc[data-path$='annual-report.pdf'] .doc-open").expect("open the PDF's view");
    let view = s.wait_text("#document-view .doc-text", LONG, |t| t.contains("Operating margin")).expect("the extracted view");
    assert!(view.contains("[p. 3]"), "page markers: {view}");
    s.wait_for("#document-view .doc-text table", LONG).expect("the statement rendered as a table");
    d.screenshot("documents-view.png");
    // Beside what was read, the file itself: its pages drawn, to check the columns came out right.
    // A stored document's view opens once its text is fetched.
    s.wait_for("#document-view #doc-tab-original", LONG).expect("the view open");
    s.click_css("#doc-tab-original").expect("the original tab");
    s.wait_text("#doc-original #page-number", LONG, |t| t.contains("Page 1 of 5")).expect("the PDF's pages");
    let ink = "return (() => { const c = document.querySelector('#doc-original canvas'); if (!c || !c.width) return null; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let ink = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) ink++; return ink > 500 ? ink : null })()";
    s.wait_until(ink, LONG).expect("page 1 drawn, not blank");
    s.click_css("#doc-original #page-next").expect("next page");
    s.wait_text("#doc-original #page-number", LONG, |t| t.contains("Page 2 of 5")).expect("page 2");
    d.screenshot("documents-original-pdf.png");
    s.click_css("#document-view .close").expect("close the view");
    // A workbook's original: its sheets as laid out in cells, the hidden one too, marked.
    s.click_css(".chip.pending-doc[data-path$='income.xlsx'] .doc-open").expect("open the workbook's view");
    // A stored document's view opens once its text is fetched.
    s.wait_for("#document-view #doc-tab-original", LONG).expect("the view open");
    s.click_css("#doc-tab-original").expect("the original tab");
    let grid = s.wait_text("#sheet-grid", LONG, |t| t.contains("Revenue")).expect("the sheet as a grid");
    assert!(grid.contains("4,286") && grid.contains("A\tB"), "{grid}");
    let tabs = s.wait_text("#doc-original .sheet-tabs", LONG, |t| t.contains("Workings")).expect("its sheets");
    assert!(tabs.contains("Workings (hidden)"), "{tabs}");
    d.screenshot("documents-original-sheet.png");
    s.click_css("#document-view .close").expect("close the view");
    s.click_css(".chip.pending-doc.error .doc-remove").expect("drop the refused file");
    assert!(s.find(".chip.pending-doc.error").is_err());

    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "What was the operating margin in 2024?").expect("type");
    s.click_css("#send").expect("send");
    s.wait_for(".msg.answer[data-status=complete]", LONG).expect("the answer");
    assert!(s.find(".chip.pending-doc").is_err(), "the chips moved to the question");
    let chips = s.find_all(".msg.question .chip.attachment").expect("chips");
    assert_eq!(chips.len(), 2);
    let first = s.text(&chips[0]).expect("chip text");
    assert!(first.contains("annual-report.pdf") && first.contains("5 pages"), "{first}");
    s.click(&chips[0]).expect("open the stored view");
    let summary = s.wait_text("#document-view p.muted", LONG, |t| !t.is_empty()).expect("what the prompt carried");
    assert!(summary.contains("annual-report.pdf"), "{summary}");
    // What the model received: the statement's rows, under the page they are on.
    let carried = s.wait_text("#document-view .doc-text", LONG, |t| t.contains("Operating margin")).expect("the prompt's text");
    assert!(carried.contains("12.5%") && carried.contains("p. 3"), "{carried}");
    s.click_css("#document-view .close").expect("close the view");
    // Sent, the workbook's original is the store's: the same grid.
    s.click_css(".msg.question .chip.attachment[data-id]:nth-of-type(2)").expect("open the stored workbook");
    s.wait_text("#document-view h2", LONG, |t| t.contains("income.xlsx")).expect("the workbook's view");
    // A stored document's view opens once its text is fetched.
    s.wait_for("#document-view #doc-tab-original", LONG).expect("the view open");
    s.click_css("#doc-tab-original").expect("the original tab");
    s.wait_text("#sheet-grid", LONG, |t| t.contains("Revenue")).expect("the stored grid");
    s.click_css("#document-view .close").expect("close the view");
    s.end().expect("close");

    // A restart: the conversation opens with its chips.
    let s = d.session();
    s.wait_for(".item .item-title", LONG).expect("the conversation");
    s.click_css(".item .item-title").expect("open it");
    s.wait_text(".msg.question .chip.attachment", LONG, |t| t.contains("annual-report.pdf")).expect("the chip after a restart");
    d.screenshot("documents-restart.png");
    // After a restart the sent PDF's pages are drawn from where it was read (its hash checked).
    s.click_css(".msg.question .chip.attachment").expect("open the stored PDF");
    // A stored document's view opens once its text is fetched.
    s.wait_for("#document-view #doc-tab-original", LONG).expect("the view open");
    s.click_css("#doc-tab-original").expect("the original tab");
    s.wait_text("#doc-original #page-number", LONG, |t| t.contains("Page 1 of 5")).expect("the stored PDF's pages");
    assert!(s.find("#doc-original .page-warn").is_err(), "the same file, no warning");
    s.click_css("#document-view .close").expect("close the view");
    // The compliance preset's form takes its policy document as a file.
    s.click_css("#new-chat").expect("new chat");
    s.click_css("#scenario-compliance").expect("compliance");
    s.wait_text(".file-field[data-field=policy] .file-pick", LONG, |t| t.contains("Choose a file")).expect("the document field");
    s.script("document.querySelector('.file-field').scrollIntoView({ block: 'center' }); return true;").expect("scroll");
    d.screenshot("documents-preset-field.png");
    s.end().expect("close");

    let md = fin_r1_tests::export_latest_markdown(&data);
    let sha = fin_r1_tests::hub::sha256_hex(&std::fs::read(&pdf).expect("pdf"));
    assert!(md.contains(&format!("annual-report.pdf (pdf, 5 pages, {} bytes) · SHA-256 {sha}", std::fs::metadata(&pdf).expect("meta").len())), "{md}");
    assert!(md.contains("income.xlsx (xlsx, "), "{md}");
}

/// Issue 26: four files of a few KB each closed the app within a second of being dropped. Now
/// each reads in the reader child: the workbook with one far cell is two rows, the Word cell
/// spanning four billion columns is cut and said, a PDF page a trillion points wide is its text,
/// and a Word file of tables nested 100,000 deep is a bounded result or "could not read this
/// file" on its chip — and the window goes on to answer a question with the workbook.
#[test]
fn hostile_files_dropped_on_the_window_leave_it_alive() {
    use fin_r1_tests::hostile;
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("hostile-documents");
    seed_settings(&data, |_| {});
    let lines: Vec<String> = (0..12).map(|i| format!("Line {i:02} of the credit memo")).collect();
    let files = [
        ("far.xlsx", hostile::far_cell_xlsx()),
        ("span.docx", hostile::span_docx()),
        ("wide.pdf", hostile::pdf("0 0 1000000000000 792", &lines)),
        ("nested.docx", hostile::nested_docx(100_000)),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in &files {
        assert!(bytes.len() < 64 << 10, "{name}: {} bytes", bytes.len());
        let p = data.join(name);
        std::fs::write(&p, bytes).expect("write");
        paths.push(p.to_string_lossy().into_owned());
    }
    let d = Desktop::start(7, &data, &[("FIN_R1_MODEL", thinking.as_path()), ("FIN_R1_CACHE_DIR", data.join("cache").as_path())]);
    let s = d.session();
    s.wait_for("#composer:not([disabled])", LONG).expect("a model, ready");
    let paths = serde_json::to_string(&paths).expect("json");
    s.script(&format!(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {{ target: {{ kind: 'Webview', label: 'main' }}, event: 'tauri://drag-drop', payload: {{ paths: {paths}, position: {{ x: 400, y: 300 }} }} }}); return true;"
    ))
    .expect("drop");
    let far = s.wait_text(".chip.pending-doc.ready[data-path$='far.xlsx']", LONG, |t| t.contains("XLSX")).expect("the far-cell workbook read");
    assert!(!far.contains("million"), "{far}");
    s.wait_text(".chip.pending-doc.ready[data-path$='span.docx']", LONG, |t| t.contains("DOCX")).expect("the spanning Word file read");
    s.wait_text(".chip.pending-doc.ready[data-path$='wide.pdf']", LONG, |t| t.contains("PDF")).expect("the wide PDF read");
    let nested = s
        .wait_text(".chip.pending-doc[data-path$='nested.docx']:not(.reading)", LONG, |t| t.contains("nested.docx"))
        .expect("the nested Word file read or refused");
    d.screenshot("hostile-documents.png");
    s.click_css(".chip.pending-doc[data-path$='span.docx'] .doc-open").expect("open the Word file's view");
    let notes = s.wait_text("#document-view", LONG, |t| t.contains("Loan")).expect("its view");
    assert!(notes.contains("span more columns"), "the cut is said: {notes}");
    s.click_css("#document-view .close").expect("close the view");
    for name in ["span.docx", "wide.pdf", "nested.docx"] {
        s.click_css(&format!(".chip.pending-doc[data-path$='{name}'] .doc-remove")).expect("remove");
    }
    let composer = s.find("#composer").expect("composer");
    s.type_into(&composer, "What are the total loans?").expect("type");
    s.click_css("#send").expect("send");
    s.wait_for(".msg.answer[data-status=complete]", LONG).expect("the app alive: the answer");
    let chips = s.find_all(".msg.question .chip.attachment").expect("chips");
    assert_eq!(chips.len(), 1, "{nested}");
    s.end().expect("close");
}

/// Issue 28 in the window: a model's answer states 3×9≈28 (and, in its reasoning, 4+6=10); the
/// answer's foot says "2 calculations checked · 1 agree · 1 differs", the 28 is marked where it
/// stands with 27 beside it, the list names it, and the HTML report exported from the dialog
/// carries the mark and the count.
#[test]
fn a_differing_calculation_is_marked_in_the_window_and_in_the_exported_report() {
    // A bigram script: no token may repeat, hence the terse arithmetic.
    let model = tiny_qwen2(&TinySpec::thinking("Add 4+6=10 first</think>Interest:3×9≈28"));
    let data = fresh_data("calc");
    seed_settings(&data, |_| {});
    let d = Desktop::start(8, &data, &[("FIN_R1_MODEL", model.as_path())]);
    let s = d.session();
    let name = model.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("the model loaded");
    let answer = ask(&s, "What is the interest?");
    // The answer as written, and (once checked) the recomputed value beside the 28.
    assert!(answer.trim().starts_with("Interest:3×9≈28"), "{answer}");
    let line = s.wait_text(".calc-line", LONG, |t| !t.is_empty()).expect("the calculation line");
    assert_eq!(line.trim(), "⚠ 2 calculations checked · 1 agree · 1 differs");
    assert_eq!(s.text(&s.find("mark.calc-differs").expect("the mark")).expect("mark text"), "28");
    assert_eq!(s.text(&s.find(".answer-body .calc-recomputed").expect("the recomputed value")).expect("text"), "≠ 27");
    s.click_css(".calc-toggle").expect("open the list");
    let item = s.wait_text(".calc-list li", LONG, |t| !t.is_empty()).expect("the differing calculation");
    assert!(item.contains("3×9≈28") && item.contains("recomputed: 27"), "{item}");
    s.click_css(".reasoning-toggle").expect("open the reasoning");
    let reasoning = s.wait_text(".reasoning-text", LONG, |t| !t.is_empty()).expect("reasoning");
    assert_eq!(reasoning.trim(), "Add 4+6=10 first", "the agreeing one is not marked");
    d.screenshot("calc-check.png");

    s.click_css("#export-open-dialog").expect("export");
    s.wait_for("#export-dialog", LONG).expect("the export dialog");
    s.click_css("input[name=export-format][value=html]").expect("HTML");
    let report = data.join("interest.html");
    let path = s.find("#export-path").expect("path field");
    s.clear(&path).expect("clear");
    s.type_into(&path, &report.to_string_lossy()).expect("path");
    s.click_css("#export-go").expect("export");
    s.wait_text("#export-result", LONG, |t| t.contains("interest.html")).expect("exported");
    let html = std::fs::read_to_string(&report).expect("the report");
    assert!(html.contains("<mark class=\"calc-differs\">28</mark>"), "{html}");
    assert!(html.contains("计算核对 / Calculations checked: 2 · 1 一致 / agree · 1 不一致 / differ"), "{html}");
    s.click_css("#export-dialog .modal-actions button").expect("close the dialog");

    // In Chinese.
    s.click_css("#lang").expect("中文");
    let line = s.wait_text(".calc-line", LONG, |t| t.contains("核对")).expect("the line in Chinese");
    assert!(line.trim().starts_with("⚠ 2 处计算已核对 · 1 处一致 · 1 处不一致\n回答： 3×9≈28 重新计算为 27"), "{line}");
    d.screenshot("calc-check-zh.png");
    s.end().expect("close");
}

/// Issue 28 in the window: the calculation preset offers the calculator; a model that calls it
/// shows a folded card (name, status) between its reasoning and its answer, which opens on the
/// arguments and the result, and is still there after the conversation is opened again.
#[test]
fn the_calculation_preset_s_calculator_call_shows_as_a_card() {
    let model = tiny_qwen2(&fin_r1_tests::tool_caller());
    let data = fresh_data("tools");
    seed_settings(&data, |_| {});
    let d = Desktop::start(9, &data, &[("FIN_R1_MODEL", model.as_path())]);
    let s = d.session();
    let name = model.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("the model loaded");
    s.click_css("#scenario-calculation").expect("preset card");
    let rate = s.wait_for("input[name=rate]", LONG).expect("the preset's form");
    s.type_into(&rate, "5").expect("rate");
    let answer = ask(&s, "What is 3 times 9?");
    assert_eq!(answer.trim(), "The product is 27");
    let summary = s.wait_text(".tool-card summary", LONG, |t| t.contains("calculate")).expect("the tool card");
    assert!(summary.contains("done") && summary.contains("calculator"), "{summary}");
    s.click_css(".tool-card summary").expect("open the card");
    let result = s.wait_text(".tool-card .tool-result", LONG, |t| !t.is_empty()).expect("the result");
    assert!(result.contains("\"result\": \"27\""), "{result}");
    d.screenshot("tool-card.png");
    s.end().expect("close");
}

/// Issue 28: an MCP server in the data folder's mcp.json (server-everything from npm, over
/// stdio) is offered in a chat; its call waits in the answer as a card naming the server, the
/// tool and the arguments until the analyst allows it once (it runs, the model answers with its
/// result) or denies it (not run, and the card says so); Settings shows the file and, checked,
/// the server connected with its tools.
#[test]
fn an_mcp_tool_call_waits_for_the_analyst_and_settings_show_the_server() {
    let model = tiny_qwen2(&fin_r1_tests::mcp_caller("everything__echo", "{\"message\": \"hello\"}", "Echo received in full"));
    let data = fresh_data("mcp");
    seed_settings(&data, |_| {});
    let script = fin_r1_tests::mcp_server_script("everything");
    let config = serde_json::json!({"mcpServers": {"everything": {"command": "node", "args": [script.to_string_lossy(), "stdio"]}}});
    std::fs::write(data.join("mcp.json"), config.to_string()).expect("mcp.json");
    let d = Desktop::start(10, &data, &[("FIN_R1_MODEL", model.as_path())]);
    let s = d.session();
    let name = model.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("the model loaded");

    let send = |question: &str| {
        let composer = s.wait_for("#composer", LONG).expect("composer");
        s.type_into(&composer, question).expect("question");
        s.click_css("#send").expect("send");
    };
    send("Echo hello");
    let card = s.wait_text(".approval-card", LONG, |t| t.contains("echo")).expect("the approval card");
    assert!(card.contains("everything") && card.contains("hello"), "{card}");
    d.screenshot("mcp-approval.png");
    s.click_css(".approval-card .approve-once").expect("allow once");
    s.wait_for(".msg.answer[data-status=complete]", LONG).expect("a complete answer");
    let answer = s.wait_text(".msg.answer .answer-body", LONG, |t| t.contains("Echo received in full")).expect("the answer");
    assert!(answer.contains("Echo received in full"), "{answer}");
    let summary = s.wait_text(".tool-card summary", LONG, |t| t.contains("everything__echo") && t.contains("done")).expect("the tool card");
    assert!(summary.contains("everything"), "{summary}");
    assert!(s.find_all(".approval-card").expect("cards").is_empty(), "the approval card is gone once the call ran");

    send("Echo hello again");
    s.wait_for(".approval-card .approve-deny", LONG).expect("asked again");
    s.click_css(".approval-card .approve-deny").expect("deny");
    s.wait_until("return document.querySelectorAll('.msg.answer[data-status=complete]').length >= 2", LONG).expect("the second answer");
    let denied = s.wait_text(".tool-card.status-denied summary", LONG, |t| !t.is_empty()).expect("the denied call's card");
    assert!(denied.contains("not run"), "{denied}");

    s.click_css("#nav-settings").expect("settings");
    let text = s.wait_for("#mcp-config", LONG).expect("the MCP file");
    let value = s.script("return document.querySelector('#mcp-config').value").expect("value");
    assert!(value.to_string().contains("everything"), "{value} {text}");
    s.click_css("#mcp-check").expect("check");
    let server = s.wait_text("#mcp-servers li[data-server=everything]", LONG, |t| t.contains("echo")).expect("the server's tools");
    assert!(server.contains("connected"), "{server}");
    s.script("document.querySelector('#mcp-settings').scrollIntoView()").expect("scroll");
    d.screenshot("mcp-settings.png");
    s.end().expect("close");
}

/// Issue 29: a folder of filings added with the CLI (the same store) is in Settings' library,
/// read again from the window with its report; "Ask the library" sends the question with the
/// best passages, and the answer's `[1]` opens its passage (file, page) under it while `[9]`,
/// a passage it was not given, is marked.
#[test]
fn a_question_asked_of_the_library_cites_passages_that_open_under_the_answer() {
    let model = tiny_qwen2(&fin_r1_tests::citer());
    let data = fresh_data("library");
    seed_settings(&data, |_| {});
    let folder = data.join("filings");
    std::fs::create_dir_all(&folder).expect("folder");
    for f in ["annual-report.pdf", "zh-loans.pdf", "encrypted.pdf"] {
        std::fs::copy(fin_r1_tests::repo_data(&format!("documents/{f}")), folder.join(f)).expect("copy");
    }
    let out = Command::new(fin_r1_bin()).args(["library", "add"]).arg(&folder).arg("--data-dir").arg(&data).output().expect("library add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = Desktop::start(11, &data, &[("FIN_R1_MODEL", model.as_path())]);
    let s = d.session();
    let name = model.file_name().and_then(|f| f.to_str()).expect("name").to_owned();
    s.wait_text("#model-current", LONG, |t| t.contains(&name)).expect("the model loaded");

    s.click_css("#nav-settings").expect("settings");
    let listed = s.wait_text("#library-folders li", LONG, |t| t.contains("filings")).expect("the folder");
    assert!(listed.contains("3 files (2 read, 1 refused)"), "{listed}");
    s.click_css("#library-folders .library-reindex").expect("read again");
    let report = s.wait_text("#library-report", LONG, |t| !t.is_empty()).expect("the report");
    // The refused file is tried again (its reason may have passed); the others are not read.
    assert!(report.contains("2 unchanged, 1 refused"), "{report}");
    s.click_css("#library-folders .library-files").expect("files");
    let files = s.wait_text(".library-file-list", LONG, |t| t.contains("encrypted")).expect("files");
    assert!(files.contains("password"), "{files}");
    // A scanned report dropped into the folder while the app runs is read (by OCR) without a
    // Read again: the folder is watched.
    std::fs::copy(fin_r1_tests::repo_data("documents/scanned-report.pdf"), folder.join("scanned-report.pdf")).expect("copy the scan");
    s.wait_text("#library-folders li", LONG, |t| t.contains("4 files (3 read, 1 refused)")).expect("the new file read by the watch");
    // A collection of the files ticked.
    s.click_css("#library-folders .library-files").expect("files closed");
    s.click_css("#library-folders .library-files").expect("files again");
    s.wait_for(".library-pick[aria-label='scanned-report.pdf']", LONG).expect("the scan's box");
    s.click_css(".library-pick[aria-label='scanned-report.pdf']").expect("tick the scan");
    let name = s.wait_for("#collection-name", LONG).expect("the name");
    s.type_into(&name, "Scans").expect("name");
    s.click_css("#collection-add").expect("add to the collection");
    let collections = s.wait_text("#library-collections", LONG, |t| t.contains("Scans")).expect("the collection");
    assert!(collections.contains("Scans (1 file)") && collections.contains("scanned-report.pdf"), "{collections}");
    s.script("document.querySelector('#library-settings').scrollIntoView()").expect("scroll");
    d.screenshot("library-settings.png");

    s.click_css("#new-chat").expect("new chat");
    let toggle = s.wait_for("#ask-library", LONG).expect("the library toggle");
    s.click(&toggle).expect("ask the library");
    let answer = ask(&s, "What was revenue in 2024?");
    assert_eq!(answer.trim(), "Revenue grew [1]; see([9])");
    s.wait_for(".sources .source", LONG).expect("the sources");
    s.click_css(".answer-body a.cite[data-n='1']").expect("citation 1");
    // The citation opens its PDF drawn as the page (pdf.js), the passage marked over it.
    s.wait_for("#page-view canvas", LONG).expect("the page view");
    let marks = s
        .wait_until("const n = document.querySelectorAll('#page-view .page-mark').length; return n > 0 ? n : null", LONG)
        .unwrap_or_else(|e| panic!("the passage marked: {e}; the view says {:?}", s.script("return document.querySelector('#page-view')?.innerText")));
    assert!(marks.as_u64().unwrap_or(0) >= 1, "{marks}");
    let drawn = s.script("const c = document.querySelector('#page-view canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let ink = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) ink++; return ink").expect("ink");
    assert!(drawn.as_u64().unwrap_or(0) > 500, "the page is drawn, not blank: {drawn}");
    let heading = s.wait_text("#page-view h2", LONG, |t| t.contains("[1]")).expect("the heading");
    let number = s.wait_text("#page-number", LONG, |t| t.contains("Page")).expect("the page number");
    assert!(heading.contains(&format!("p. {}", number.trim_start_matches("Page ").split(' ').next().unwrap_or("?"))), "{heading} / {number}");
    d.screenshot("library-page.png");
    // pdf.js's data is in the bundle and the page may use it (its CSP): the character maps of
    // Chinese fonts a PDF names without embedding, and the decoders of JPEG 2000 scans.
    let cmap = s
        .script("return fetch('/pdfjs/cmaps/UniGB-UCS2-H.bcmap').then((r) => (r.ok ? r.arrayBuffer() : null)).then((b) => (b ? b.byteLength : 0))")
        .expect("a character map");
    assert!(cmap.as_u64().unwrap_or(0) > 1000, "{cmap}");
    let wasm = s
        .script("return fetch('/pdfjs/wasm/openjpeg.wasm').then((r) => r.arrayBuffer()).then((b) => WebAssembly.compile(b)).then(() => 'compiled', (e) => String(e))")
        .expect("the JPEG 2000 decoder");
    assert_eq!(wasm, serde_json::json!("compiled"));
    // Another page has no marks; the way back to the cited one is offered.
    if s.script("return !document.querySelector('#page-next').disabled").expect("next") == serde_json::json!(true) {
        s.click_css("#page-next").expect("next page");
        s.wait_for("#page-cited", LONG).expect("back to the cited page");
        s.wait_until("return document.querySelectorAll('#page-view .page-mark').length === 0 || null", LONG).expect("no marks elsewhere");
    }
    s.click_css("#page-view .close").expect("close the page");
    let source = s.wait_text(".source[open] summary", LONG, |t| t.contains("[1]")).expect("the passage");
    assert!(source.contains(".pdf · p."), "{source}");
    let unknown = s.script("return document.querySelectorAll('.answer-body a.cite-unknown').length").expect("unknown");
    assert_eq!(unknown, serde_json::json!(1));
    d.screenshot("library-answer.png");

    // Asked of the collection: only its scanned report, whose OCR'd page opens as the scan.
    s.click_css("#new-chat").expect("new chat");
    s.wait_for("#library-scope", LONG).expect("the scope");
    let scans =
        s.script("return [...document.querySelectorAll('#library-scope option')].find((o) => o.textContent.includes('Scans'))?.value").expect("the option");
    s.select("#library-scope", scans.as_str().expect("a collection option")).expect("ask the collection");
    let answer = ask(&s, "What was net income?");
    assert!(answer.contains("[1]"), "{answer}");
    let sources = s.wait_text(".sources", LONG, |t| t.contains("[1]")).expect("the sources");
    assert!(!sources.contains("annual-report.pdf") && !sources.contains("zh-loans.pdf"), "{sources}");
    s.click_css(".answer-body a.cite[data-n='1']").expect("citation 1");
    s.wait_for("#page-view canvas", LONG).expect("the scan drawn");
    let note = s.wait_text("#page-view .page-note", LONG, |t| !t.is_empty()).expect("the OCR note");
    assert!(note.contains("OCR"), "{note}");
    let ink = s
        .wait_until(
            "const c = document.querySelector('#page-view canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let ink = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) ink++; return ink > 500 ? ink : null",
            LONG,
        )
        .expect("the scan drawn, not blank");
    assert!(ink.as_u64().unwrap_or(0) > 500, "{ink}");
    d.screenshot("library-ocr-page.png");
    s.click_css("#page-view .close").expect("close the page");
    // In Chinese: the sources' heading and the toggle speak it.
    s.click_css("#lang").expect("中文");
    s.wait_text(".sources-title", LONG, |t| t.contains("资料库来源")).expect("the sources in Chinese");
    s.wait_text(".ask-library", LONG, |t| t.contains("向资料库提问")).expect("the toggle in Chinese");
    d.screenshot("library-answer-zh.png");
    s.end().expect("close");
}

/// Issue 30, the analyst's second walk: a preset question edited whole (its form's fact and
/// its documents), exported as Word, found by search with the word marked, the store's size
/// and a compaction in Settings, and a restart that opens where the analyst was.
#[test]
fn an_edited_preset_question_a_word_memo_and_the_app_reopening_where_the_analyst_was() {
    let thinking = tiny_qwen2(&TinySpec::thinking(THINKING_SCRIPT));
    let data = fresh_data("second-walk");
    seed_settings(&data, |_| {});
    let d = Desktop::start(12, &data, &[("FIN_R1_MODEL", thinking.as_path())]);
    let s = d.session();
    s.wait_for("#composer:not([disabled])", LONG).expect("a model, ready");

    // The calculation preset with a document beside its form.
    s.click_css("#scenario-calculation").expect("preset card");
    let rate = s.wait_for("input[name=rate]", LONG).expect("the preset's form");
    s.type_into(&rate, "5").expect("rate");
    let pdf = fin_r1_tests::repo_data("documents/annual-report.pdf");
    let paths = serde_json::to_string(&[pdf.to_string_lossy()]).expect("json");
    s.script(&format!(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {{ target: {{ kind: 'Webview', label: 'main' }}, event: 'tauri://drag-drop', payload: {{ paths: {paths}, position: {{ x: 400, y: 300 }} }} }}); return true;"
    ))
    .expect("drop");
    s.wait_for(".chip.pending-doc.ready[data-path$='annual-report.pdf']", LONG).expect("the PDF read");
    ask(&s, "两年后收到1000元的现值是多少？");
    let form = s.wait_text(".msg.question .form-values", LONG, |t| !t.is_empty()).expect("the form's values");
    assert!(form.contains('5'), "{form}");
    s.wait_for(".msg.question .chip.attachment", LONG).expect("the document's chip");

    // A file waiting in the composer for the next question is not the edit's.
    let xlsx = fin_r1_tests::repo_data("documents/income.xlsx");
    let paths = serde_json::to_string(&[xlsx.to_string_lossy()]).expect("json");
    s.script(&format!(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {{ target: {{ kind: 'Webview', label: 'main' }}, event: 'tauri://drag-drop', payload: {{ paths: {paths}, position: {{ x: 400, y: 300 }} }} }}); return true;"
    ))
    .expect("drop");
    s.wait_for(".composer-wrap .chip.pending-doc.ready[data-path$='income.xlsx']", LONG).expect("the workbook waiting");
    // Edit reopens the whole question: the rate corrected, the document dropped.
    s.click_css(".msg.question .actions button.link").expect("edit");
    let field = s.wait_for(".msg.question.editing .edit-form input[name=rate]", LONG).expect("the form in the edit");
    assert_eq!(s.script("return document.querySelector('.edit-form input[name=rate]').value").expect("value"), serde_json::json!("5"));
    s.clear(&field).expect("clear");
    s.type_into(&field, "6").expect("the corrected rate");
    s.click_css(".msg.question.editing .edit-doc input").expect("drop the document");
    d.screenshot("second-walk-edit.png");
    s.click_css(".msg.question.editing .actions .primary").expect("resend");
    s.wait_text(".branch-count", LONG, |t| t.contains("2")).expect("a second version");
    s.wait_for(".msg.answer[data-status=complete]", LONG).expect("answered again");
    let form = s.wait_text(".msg.question .form-values", LONG, |t| t.contains('6')).expect("the corrected fact");
    assert!(!form.lines().any(|l| l.trim() == "5"), "{form}");
    assert!(s.find(".msg.question .chip.attachment").is_err(), "the document was dropped from the edit, and the composer's file not taken");
    s.wait_for(".composer-wrap .chip.pending-doc.ready[data-path$='income.xlsx']", LONG).expect("the workbook still waits for the next question");

    // A Word memo from the export dialog.
    s.click_css("#export-open-dialog").expect("export");
    s.wait_for("#export-dialog", LONG).expect("the export dialog");
    s.click_css("input[name=export-format][value=docx]").expect("Word");
    // Both versions of the edited question: the first put beside the one on show.
    let shown = s.wait_text("#export-dialog .export-turn", LONG, |t| t.contains("2")).expect("the question on show");
    assert!(shown.contains("version 2 of 2 on show"), "{shown}");
    s.click_css("#export-dialog input[name=export-version]").expect("version 1 too");
    d.screenshot("second-walk-export-versions.png");
    let memo = data.join("pv-memo.docx");
    let path = s.find("#export-path").expect("path field");
    s.clear(&path).expect("clear");
    s.type_into(&path, &memo.to_string_lossy()).expect("path");
    s.click_css("#export-go").expect("export");
    s.wait_text("#export-result", LONG, |t| t.contains("pv-memo.docx")).expect("written");
    let doc = fin_r1_core::documents::extract(&memo).expect("the memo reads as Word");
    let text = doc.to_markdown();
    assert!(text.contains("两年后收到1000元的现值是多少") && text.contains("for reference only"), "{text}");
    assert!(text.contains("version 1 of 2") && text.contains("version 2 of 2"), "both versions, said so: {text}");
    s.click_css("#export-dialog .modal-actions button").expect("close the dialog");

    // Search: the hit opens its message with the word marked.
    s.click_css("#new-chat").expect("new chat");
    let search = s.find("#search").expect("search");
    s.type_into(&search, "present").expect("search");
    s.wait_for(".hit", LONG).expect("a hit");
    s.click_css(".hit").expect("open the hit");
    let marked = s.wait_text("mark.search-mark", LONG, |t| !t.is_empty()).expect("the word marked");
    assert_eq!(marked.to_lowercase(), "present");
    d.screenshot("second-walk-search.png");

    // Settings: the store's size, the documents' share, a compaction.
    s.click_css("#nav-settings").expect("settings");
    let size = s.wait_text("#storage-size", LONG, |t| t.contains("Documents")).expect("the store's size");
    assert!(size.contains("1 file)"), "{size}");
    s.script("document.querySelector('#storage').scrollIntoView()").expect("scroll");
    s.click_css("#storage-compact").expect("compact");
    s.wait_text("#storage-message", LONG, |t| t.contains("Compacted")).expect("compacted");
    d.screenshot("second-walk-storage.png");
    // The conversation opened last was the search hit's.
    s.end().expect("close");

    // A restart opens where the analyst was, in Chinese too.
    let s = d.session();
    let title = s.wait_text("#conversation-title", LONG, |t| !t.is_empty()).expect("the last conversation, open");
    assert_eq!(title, "两年后收到1000元的现值是多少？");
    s.click_css("#lang").expect("中文");
    s.wait_text(".msg.question .actions", LONG, |t| t.contains("编辑")).expect("in Chinese");
    d.screenshot("second-walk-restart-zh.png");
    s.end().expect("close");
}

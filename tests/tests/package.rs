//! The installed app: the .deb built by scripts/build-deb.sh installs with apt on this Debian 12
//! machine (CI runs as root on a fresh one), puts its binaries, desktop entry, icons and the
//! .gguf association where the desktop expects them, launches from its desktop entry under Xvfb
//! (a second launch hands over to the first), and `dpkg -r` removes it, leaving user data alone.
//! Also: the About page's licence list is current.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fin_r1_tests::{fin_r1_bin, scratch_dir};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn the_deb() -> PathBuf {
    let dir = fin_r1_bin().parent().expect("target dir").join("bundle/deb");
    std::fs::read_dir(&dir)
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "deb")))
        .unwrap_or_else(|| panic!("no .deb in {}: build it with `scripts/build-deb.sh --debug` (scripts/test.sh does)", dir.display()))
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "fin-r1"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < end, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_deb_installs_launches_from_its_desktop_entry_and_removes_cleanly() {
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(uid.trim(), "0", "installing a .deb needs root: run the test suite as root (CI does) or in a container");
    let deb = the_deb();

    // What the package declares and holds.
    let fields = run(Command::new("dpkg-deb").arg("-f").arg(&deb));
    for want in ["Package: fin-r1", "libwebkit2gtk-4.1-0", "fonts-noto-cjk", "Section: science"] {
        assert!(fields.contains(want), "{want:?} in the control file:\n{fields}");
    }
    // One path a line, without dpkg-deb's "./" (older versions print it).
    let contents: String = run(Command::new("dpkg-deb").arg("-c").arg(&deb))
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| format!(" {}\n", p.trim_start_matches("./")))
        .collect();
    for want in [
        " usr/bin/fin-r1-desktop\n",
        " usr/bin/fin-r1\n",
        " usr/share/applications/Fin-R1.desktop",
        " usr/share/icons/hicolor/32x32/apps/fin-r1-desktop.png",
        " usr/share/icons/hicolor/512x512/apps/fin-r1-desktop.png",
        " usr/share/mime/packages/fin-r1-gguf.xml",
    ] {
        assert!(contents.contains(want), "{want:?} in the package:\n{contents}");
    }

    if installed() {
        run(Command::new("dpkg").args(["-r", "fin-r1"]));
    }
    run(Command::new("apt-get").args(["install", "-y", "-q", "--no-install-recommends"]).arg(&deb).env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(installed());
    let entry = Path::new("/usr/share/applications/Fin-R1.desktop");
    let desktop = std::fs::read_to_string(entry).expect("the desktop entry");
    run(Command::new("desktop-file-validate").arg(entry));
    assert!(desktop.contains("Categories=") && desktop.contains("Finance"), "{desktop}");
    assert!(desktop.contains("MimeType=application/x-gguf"), "{desktop}");
    assert!(Path::new("/usr/share/mime/application/x-gguf.xml").is_file(), "the .gguf type is registered");
    let gguf = scratch_dir().join("association-check.gguf");
    std::fs::write(&gguf, b"GGUF\x03\0\0\0").expect("a .gguf");
    let filetype = run(Command::new("xdg-mime").args(["query", "filetype"]).arg(&gguf));
    assert_eq!(filetype.trim(), "application/x-gguf");
    assert!(run(Command::new("/usr/bin/fin-r1").arg("--version")).contains("fin-r1"));

    // Launch the way the desktop does: the entry's Exec line.
    let exec = desktop.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line");
    let argv: Vec<&str> = exec.split_whitespace().filter(|a| !a.starts_with('%')).collect();
    let data = scratch_dir().join(format!("deb-user-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let display = format!(":{}", fin_r1_tests::free_display(60 + std::process::id() % 25));
    let mut xvfb =
        Command::new("Xvfb").args([display.as_str(), "-screen", "0", "1280x820x24", "-nolisten", "tcp"]).stderr(Stdio::null()).spawn().expect("Xvfb");
    std::thread::sleep(Duration::from_millis(800));
    let launch = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .env("DISPLAY", &display)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("FIN_R1_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("launch")
    };
    let mut app = launch(&argv);
    wait_for("the window", Duration::from_secs(90), || {
        Command::new("xwininfo")
            .args(["-display", &display, "-root", "-tree"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("\"Fin-R1\""))
            .unwrap_or(false)
    });
    // Drawn, not just mapped: the screen stops being one flat colour.
    let shots = scratch_dir().join("screenshots");
    let _ = std::fs::create_dir_all(&shots);
    let shot = shots.join("installed-app.png");
    wait_for("the window's first paint", Duration::from_secs(90), || {
        let _ = Command::new("import").args(["-display", &display, "-window", "root"]).arg(&shot).status();
        Command::new("convert")
            .arg(&shot)
            .args(["-format", "%[fx:standard_deviation]", "info:"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .is_some_and(|sd| sd > 0.02)
    });
    // A second launch hands over and ends.
    let second = launch(&argv).wait_with_output().expect("second launch");
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(app.try_wait().expect("status").is_none(), "the first window stays");
    let logs = std::fs::read_dir(data.join("logs")).expect("a log folder").count();
    assert!(logs > 0);
    let _ = app.kill();
    let _ = app.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();

    run(Command::new("dpkg").args(["-r", "fin-r1"]));
    assert!(!installed());
    for gone in ["/usr/bin/fin-r1-desktop", "/usr/bin/fin-r1", "/usr/share/applications/Fin-R1.desktop", "/usr/share/mime/packages/fin-r1-gguf.xml"] {
        assert!(!Path::new(gone).exists(), "{gone} is left after dpkg -r");
    }
    assert!(data.join("conversations.sqlite3").is_file(), "the user's data stays");
}

#[test]
fn the_licence_list_is_current() {
    run(Command::new("python3").arg(repo_root().join("scripts/licences.py")).arg("--check"));
}

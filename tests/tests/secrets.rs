//! API keys and the hub token: in the OS keychain when one answers (here a real Secret Service,
//! gnome-keyring, on a private D-Bus session), in the store only when none does. Each case runs
//! in a child process of this test binary with the environment it needs.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

use fin_r1_core::secrets::{secret, set_secret, vault, Vault};
use fin_r1_core::settings::{HUB_TOKEN, REMOTE_KEY};
use fin_r1_core::store::Store;
use fin_r1_tests::scratch_dir;

const INNER: &str = "FIN_R1_SECRETS_CASE";

fn fresh(name: &str) -> PathBuf {
    let d = scratch_dir().join(format!("secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// Runs `case` in a child of this test binary; `wrap` puts it in a session.
fn run_child(case: &str, wrap: Option<&str>, dir: &Path) {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = match wrap {
        Some(script) => {
            let mut c = Command::new("dbus-run-session");
            c.args(["--", "sh", "-c", script, "sh"]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let _ = std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    if wrap.is_none() {
        // No session bus at all: what a server without a desktop has.
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    }
    let out = cmd
        .args(["--exact", case, "--nocapture", "--test-threads", "1"])
        .env(INNER, case)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("FIN_R1_NO_KEYCHAIN")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run the child test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "{case}:\n{text}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn file_holds(dir: &Path, text: &str) -> bool {
    std::fs::read_dir(dir).expect("dir").flatten().filter(|e| e.path().is_file()).any(|e| {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

#[test]
fn keys_are_kept_in_the_keychain_when_one_answers() {
    if std::env::var(INNER).as_deref() != Ok("keys_are_kept_in_the_keychain_when_one_answers") {
        let dir = fresh("keychain");
        // gnome-keyring's Secret Service on a private session bus, its login keyring unlocked
        // with a test password (created on first use).
        let script = "printf 'fin-r1-test' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"";
        run_child("keys_are_kept_in_the_keychain_when_one_answers", Some(script), &dir);
        return;
    }
    let dir = PathBuf::from(std::env::var("HOME").expect("HOME")).join("store");
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("store");
        assert_eq!(vault(&store).await, Vault::Keychain);
        set_secret(&store, REMOTE_KEY, Some("sk-kept-in-the-keychain")).await.expect("set");
        assert_eq!(secret(&store, REMOTE_KEY).await.expect("get").as_deref(), Some("sk-kept-in-the-keychain"));
        assert_eq!(store.setting(REMOTE_KEY).await.expect("row"), None, "not in the store as well");
        // A key an older build wrote into the store moves into the keychain when first read.
        store.set_setting(HUB_TOKEN, &serde_json::json!("hf_from_an_older_build")).await.expect("old row");
        assert_eq!(secret(&store, HUB_TOKEN).await.expect("get").as_deref(), Some("hf_from_an_older_build"));
        assert_eq!(store.setting(HUB_TOKEN).await.expect("row"), None, "moved out of the store");
        assert_eq!(secret(&store, HUB_TOKEN).await.expect("get").as_deref(), Some("hf_from_an_older_build"));
        // Cleared: gone from the keychain.
        set_secret(&store, REMOTE_KEY, None).await.expect("clear");
        assert_eq!(secret(&store, REMOTE_KEY).await.expect("get"), None);
        store.close().await;
    });
    // The keychain really holds it: libsecret's own tool finds it.
    let found = Command::new("secret-tool").args(["search", "--all", "service", "fin-r1-desktop"]).output().expect("secret-tool");
    let listing = String::from_utf8_lossy(&found.stdout).to_string() + &String::from_utf8_lossy(&found.stderr);
    assert!(listing.contains("hf_from_an_older_build"), "{listing}");
    assert!(!file_holds(&dir, "hf_from_an_older_build"), "the token is still in the store's files");
}

#[test]
fn without_a_keychain_keys_stay_in_the_store_and_settings_say_so() {
    if std::env::var(INNER).as_deref() != Ok("without_a_keychain_keys_stay_in_the_store_and_settings_say_so") {
        let dir = fresh("none");
        run_child("without_a_keychain_keys_stay_in_the_store_and_settings_say_so", None, &dir);
        return;
    }
    let dir = PathBuf::from(std::env::var("HOME").expect("HOME")).join("store");
    rt().block_on(async {
        let (store, _) = Store::open(&dir).await.expect("store");
        assert_eq!(vault(&store).await, Vault::Store);
        set_secret(&store, REMOTE_KEY, Some("sk-in-the-store")).await.expect("set");
        assert_eq!(secret(&store, REMOTE_KEY).await.expect("get").as_deref(), Some("sk-in-the-store"));
        assert!(store.setting(REMOTE_KEY).await.expect("row").is_some());
        store.close().await;
    });
}

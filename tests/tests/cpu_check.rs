//! On a CPU without AVX2 the binaries (built for x86-64-v3) say so in one line and exit, instead
//! of dying with SIGILL at their first AVX2 instruction. Run on a CPU emulated by qemu-user:
//! Nehalem (2008) has SSE4.2 and no AVX at all.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::path::PathBuf;
use std::process::Command;

fn qemu() -> PathBuf {
    let found =
        std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join("qemu-x86_64")).find(|p| p.is_file());
    found.expect("qemu-x86_64 is missing: scripts/setup.sh installs Debian's qemu-user")
}

fn on_old_cpu(bin: &std::path::Path) -> std::process::Output {
    Command::new(qemu())
        .args(["-cpu", "Nehalem"])
        .arg(bin)
        .arg("--version")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run under qemu")
}

#[test]
fn a_cpu_without_avx2_is_told_in_one_line() {
    for bin in [fin_r1_tests::fin_r1_bin(), fin_r1_tests::fin_r1_bin().with_file_name("fin-r1-desktop")] {
        assert!(bin.is_file(), "{} is not built", bin.display());
        let out = on_old_cpu(&bin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{}: {:?} {stderr}", bin.display(), out.status);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("needs a CPU with AVX2") && stderr.contains("lacks AVX2"), "{stderr}");
    }
    // The same binary on an emulated CPU that has AVX2 gets past the check.
    let out = Command::new(qemu()).args(["-cpu", "max"]).arg(fin_r1_tests::fin_r1_bin()).arg("--version").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

//! On a CPU without x86-64-v3 the binaries (built for it) say so in one line and exit, instead
//! of dying with SIGILL at their first AVX2 (or F16C, LZCNT …) instruction. Run on CPUs emulated
//! by qemu-user: Nehalem (2008) has SSE4.2 and no AVX at all; `max` less one v3 feature lacks
//! only that one. (The check runs on every x86-64 OS; qemu-user is Linux's, so this test is too.
//! The models crate's `the_start_up_check_sees_what_std_sees` runs everywhere.)

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::path::PathBuf;
use std::process::Command;

fn qemu() -> PathBuf {
    let found =
        std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join("qemu-x86_64")).find(|p| p.is_file());
    found.expect("qemu-x86_64 is missing: scripts/setup.sh installs Debian's qemu-user")
}

fn on_cpu(cpu: &str, bin: &std::path::Path) -> std::process::Output {
    Command::new(qemu()).args(["-cpu", cpu]).arg(bin).arg("--version").env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().expect("run under qemu")
}

/// The one line a binary says on `cpu`, after checking it exits with 78 and says only that.
fn refused(cpu: &str, bin: &std::path::Path) -> String {
    let out = on_cpu(cpu, bin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(78), "{} on {cpu}: {:?} {stderr}", bin.display(), out.status);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("needs a CPU with AVX2, FMA and F16C (x86-64-v3"), "{stderr}");
    stderr
}

#[test]
fn a_cpu_without_avx2_is_told_in_one_line() {
    for bin in [fin_r1_tests::fin_r1_bin(), fin_r1_tests::fin_r1_bin().with_file_name("fin-r1-desktop")] {
        assert!(bin.is_file(), "{} is not built", bin.display());
        let stderr = refused("Nehalem", &bin);
        assert!(stderr.contains("lacks AVX, AVX2, FMA, F16C, BMI1, BMI2, LZCNT, MOVBE."), "{stderr}");
    }
    // The same binary on an emulated CPU that has all of x86-64-v3 gets past the check.
    let out = on_cpu("max", &fin_r1_tests::fin_r1_bin());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Regression (issue 26, item 8): the check asked for AVX2, FMA and BMI2 only, so a CPU without
/// F16C (or LZCNT, MOVBE, BMI1), which the build also uses, got past it to die with SIGILL.
#[test]
fn a_cpu_lacking_one_other_v3_feature_is_told_which() {
    let bin = fin_r1_tests::fin_r1_bin();
    // qemu's names: "abm" is LZCNT.
    for (off, lacks) in [("f16c", "F16C"), ("abm", "LZCNT"), ("movbe", "MOVBE"), ("bmi1", "BMI1")] {
        let stderr = refused(&format!("max,-{off}"), &bin);
        assert!(stderr.contains(&format!("this CPU lacks {lacks}.")), "{stderr}");
    }
}

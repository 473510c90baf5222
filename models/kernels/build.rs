fn main() {
    cpu_check();
}

/// The start-up CPU check (csrc/cpu_check.c), compiled for the plain x86-64 baseline whatever
/// the Rust code is built for, so that it can run on the CPUs it exists to turn away. On every
/// x86-64 target: the Windows and macOS builds are x86-64-v3 too (.cargo/config.toml).
fn cpu_check() {
    println!("cargo:rerun-if-changed=csrc/cpu_check.c");
    let target = std::env::var("TARGET").unwrap_or_default();
    let mut b = cc::Build::new();
    b.file("csrc/cpu_check.c").warnings(true);
    // MSVC's cl compiles for SSE2 unless told otherwise; gcc and clang are told here, after
    // whatever cc passes on from the Rust flags.
    if target.starts_with("x86_64") && !target.contains("msvc") {
        b.flag("-march=x86-64").flag("-mtune=generic").flag("-mno-avx").flag("-mno-avx2");
    }
    b.compile("fin_r1_cpu_check");
}

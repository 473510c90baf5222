#!/usr/bin/env bash
# The kernels crate's tests (fin-r1-kernels: the SIMD kernels and every `unsafe` block, nothing
# else of the engine) built for aarch64 and run under QEMU's user-mode emulation: no ARM
# machine is here, so this is how the NEON paths (our Q8_0/Q4_0/Q4_1 kernels, the packed K-quant
# prefill with and without `sdot` (QEMU's default CPU has it), candle's K-quant decode) are
# checked against the same references as the x86 ones. Correctness only: speed
# under emulation means nothing (BENCHMARKS.md says ARM speed is unmeasured).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
target=aarch64-unknown-linux-gnu
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
qemu="$(command -v qemu-aarch64 || command -v qemu-aarch64-static)"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$qemu -L /usr/aarch64-linux-gnu"
cargo test -p fin-r1-kernels --lib --tests --target "$target" --locked "$@"

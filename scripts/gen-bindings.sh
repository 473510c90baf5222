#!/usr/bin/env bash
# Regenerates ui/src/bindings.ts (the UI's command and type bindings) from the Rust code.
set -euo pipefail
cd "$(dirname "$0")/.."
FIN_R1_BLESS=1 cargo test --workspace --test bindings -- --quiet
echo "ui/src/bindings.ts regenerated"

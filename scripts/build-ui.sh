#!/usr/bin/env bash
# Builds the web UI into ui/dist (which the desktop shell embeds); --test runs its unit tests
# (vitest) and the type check first. npm ci installs exactly what package-lock.json pins.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = "--test" ]; then
  npx tsc --noEmit
  npx vitest run
fi
npx vite build --logLevel warn

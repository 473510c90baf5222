#!/usr/bin/env bash
# Builds the web UI into ui/dist (which the desktop shell embeds); --test runs its unit tests
# (vitest) and the type check first. npm ci installs exactly what package-lock.json pins.
# ui/dist is rewritten only when what it is built from changed: the shell embeds it, so a
# rewrite (even to the same bytes) rebuilds and relinks the app.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = "--test" ]; then
  npx tsc --noEmit
  npx vitest run
fi
inputs="$(find src public index.html package.json package-lock.json tsconfig.json vite.config.ts -type f 2>/dev/null \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
stamp=node_modules/.fin-r1-dist-inputs
if [ -f dist/index.html ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
rm -f "$stamp"
npx vite build --logLevel warn
echo "$inputs" > "$stamp"

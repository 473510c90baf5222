#!/usr/bin/env bash
# llama.cpp built for this very CPU (-DGGML_NATIVE=ON: AVX-512, VNNI, AMX where present), the
# fair reference for speed (issue 19). The test environment's build (setup-python.sh) is held to
# the x86-64-v3 baseline so that one build runs on every machine kind; this one is not, so it is
# kept per CPU: ~/.cache/fin-r1/bench-llama-<hash of the CPU's model and flags>. Prints its
# python. The first run builds llama.cpp from source (10–20 minutes on 2 cores).
set -euo pipefail
cpu="$( (grep -m1 '^model name' /proc/cpuinfo; grep -m1 '^flags' /proc/cpuinfo) 2>/dev/null | sha256sum | cut -c1-12)"
venv="${FIN_R1_BENCH_VENV:-$HOME/.cache/fin-r1/bench-llama-$cpu}"
req="$(dirname "$0")/requirements-test.txt"
version="$(grep -m1 '^llama-cpp-python' "$req" | sed 's/.*==//')"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp, numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/python" -m pip install --quiet --no-cache-dir \
    --no-binary llama-cpp-python "llama-cpp-python==$version" "numpy" >&2
fi
echo "$venv/bin/python"

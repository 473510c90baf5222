#!/usr/bin/env bash
# The Python side of the tests and benchmarks, in a virtual environment outside the repository
# ($FIN_R1_VENV, default ~/.cache/fin-r1/venv): the official `openai` client (API server tests)
# and llama-cpp-python with its server (the reference engine and a real third-party
# OpenAI-compatible server). Prints the environment's python. Idempotent.
set -euo pipefail
venv="${FIN_R1_VENV:-$HOME/.cache/fin-r1/venv}"
py="${PYTHON:-python3}"
# llama.cpp's default build uses -march=native, and this project's machines differ from session
# to session (AVX2-only EPYC, AVX-512 EPYC, Xeon with AMX): a venv built on one kind segfaulted
# on the first evaluation on another. The reference is built for the x86-64-v3 baseline every
# one of them runs (the same baseline as the app, .cargo/config.toml), AMX and AVX-512 off.
ggml_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
req="$(dirname "$0")/requirements-test.txt"
stamp="$venv/.fin-r1-stamp"
# A venv made by an older script (other flags or pins) is rebuilt.
want="$ggml_flags $(sha256sum < "$req" | cut -c1-16)"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv" >&2
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
  || ! "$venv/bin/python" -c "import openai, llama_cpp, llama_cpp.server, uvicorn" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  # llama-cpp-python builds llama.cpp from source (a few minutes); --no-binary and no cache so
  # a build made with other flags is never reused.
  CMAKE_ARGS="$ggml_flags" "$venv/bin/python" -m pip install --quiet --no-cache-dir \
    --force-reinstall --no-binary llama-cpp-python -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"

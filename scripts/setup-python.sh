#!/usr/bin/env bash
# The Python side of the tests and benchmarks, in a virtual environment outside the repository
# ($FIN_R1_VENV, default ~/.cache/fin-r1/venv): the official `openai` client (API server tests)
# and llama-cpp-python with its server (the reference engine and a real third-party
# OpenAI-compatible server). Prints the environment's python. Idempotent.
set -euo pipefail
venv="${FIN_R1_VENV:-$HOME/.cache/fin-r1/venv}"
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import openai, llama_cpp, llama_cpp.server, uvicorn" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  # llama-cpp-python builds llama.cpp from source where no wheel is cached (a few minutes).
  "$venv/bin/python" -m pip install --quiet "openai>=1.40,<3" "llama-cpp-python[server]==0.3.36" >&2
fi
echo "$venv/bin/python"

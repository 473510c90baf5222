#!/usr/bin/env bash
# Coverage-guided fuzzing (AFL++ through cargo-afl, stable Rust) of every parser of input from
# outside, seeded from the repository's real fixtures. Not part of the tests: run it for as
# long as you can spare and put the figures in RELIABILITY.md.
#
#   bash scripts/fuzz.sh [--minutes N] [--jobs J] [TARGET…]    (default: every target, 10 min each)
#
# Targets: gguf conversation_json preset_toml markdown openai_request eval_adapters
#          document_pdf document_workbook document_docx document_csv
# Work (corpora, crashes, hangs) goes to $FIN_R1_FUZZ_DIR (default ~/.cache/fin-r1/fuzz); a
# summary table of the run is printed and written to $FIN_R1_FUZZ_DIR/summary.md. A crash or
# hang found is a bug: copy its input to tests/fuzz/regressions/TARGET/ (the test
# `fuzz_regressions` replays every file there), fix, rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
MINUTES=10
JOBS=1
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
ALL=(gguf conversation_json preset_toml markdown openai_request eval_adapters document_pdf document_workbook document_docx document_csv)
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
  case " ${ALL[*]} " in *" $t "*) ;; *) echo "unknown target $t (targets: ${ALL[*]})" >&2; exit 2 ;; esac
done
WORK="${FIN_R1_FUZZ_DIR:-$HOME/.cache/fin-r1/fuzz}"
export CARGO_TARGET_DIR="${FIN_R1_FUZZ_TARGET:-$HOME/.cache/fin-r1/fuzz-target}"
mkdir -p "$WORK"

if ! cargo afl --version >/dev/null 2>&1; then
  cargo install cargo-afl --locked --version ~0.18
fi
# AFL++ itself, built once by cargo-afl (no LLVM needed: rustc instruments).
if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
  echo "$out" >&2
  exit 1
fi

# The engine's kernels need the CPU features .cargo/config.toml names; cargo-afl's RUSTFLAGS
# would replace them, so they are passed here too.
(cd tests/fuzz && RUSTFLAGS="-C target-cpu=x86-64-v3" cargo afl build --release --locked)
BIN="$CARGO_TARGET_DIR/release"

# Seeds: the fixtures the tests read, small enough for AFL (under 1 MB each).
seed() {
  local t=$1 in="$WORK/$1/in"
  rm -rf "$in"; mkdir -p "$in"
  case "$t" in
    gguf) "$BIN/seed_gguf" "$in/tiny-qwen2.gguf" ;;
    conversation_json) cp tests/fixtures/conversation-v1.json "$in/" ;;
    preset_toml) cp src-tauri/core/scenarios/*.toml "$in/" ;;
    markdown) cp tests/fuzz/seeds/markdown/* "$in/" ;;
    openai_request) cp tests/fuzz/seeds/openai_request/* "$in/" ;;
    eval_adapters)
      # First byte: the adapter (0 ConvFinQA, 1 TAT-QA, 2 TFNS, 3 Fin-Eva, 4 FinEval, 5 JSON Lines).
      python3 - "$in" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1]); f = pathlib.Path("tests/fixtures/eval")
conv = json.loads((f / "convfinqa_dev.slice.json").read_text())[:2]
(out / "convfinqa").write_bytes(b"\x00" + json.dumps(conv, ensure_ascii=False).encode())
tat = json.loads((f / "tatqa_dev.slice.json").read_text())[:1]
(out / "tatqa").write_bytes(b"\x01" + json.dumps(tat, ensure_ascii=False).encode())
(out / "tfns").write_bytes(b"\x02" + b"\n".join((f / "tfns_valid.slice.csv").read_bytes().splitlines()[:6]))
eva = next((f / "fin-eva").rglob("*.csv"))
(out / "fin-eva").write_bytes(b"\x03" + b"\n".join(eva.read_bytes().splitlines()[:4]))
(out / "fineval").write_bytes(b"\x04" + b"\n".join((f / "fineval" / "accounting_val.csv").read_bytes().splitlines()[:4]))
(out / "jsonl").write_bytes(b"\x05" + json.dumps({"id": "a", "question": "1+1?", "answer": "2", "kind": "numeric"}).encode() + b"\n")
PY
      ;;
    document_pdf) cp tests/fixtures/documents/*.pdf "$in/" ;;
    document_workbook) printf '\000' | cat - tests/fixtures/documents/income.xlsx > "$in/income.xlsx" ;;
    document_docx) cp tests/fixtures/documents/policy.docx "$in/" ;;
    document_csv) cp tests/fixtures/documents/loans-gbk.csv "$in/"; printf 'year,revenue,cost\n2023,"4,286",(120)\n2024,4822,-\n' > "$in/plain.csv" ;;
    *) echo "unknown target $t (targets: ${ALL[*]})" >&2; exit 2 ;;
  esac
}

run_one() {
  local t=$1 out="$WORK/$1/out"
  seed "$t"
  rm -rf "$out"
  echo "fuzzing $t for $MINUTES min"
  # -m: a file that makes a reader allocate past 4 GB is a finding; -t: so is one that takes
  # over 5 s.
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
    cargo afl fuzz -V $((MINUTES * 60)) -m 4096 -t 5000 -i "$WORK/$t/in" -o "$out" "$BIN/$t" > "$WORK/$t/fuzz.log" 2>&1 || {
      echo "afl-fuzz for $t stopped with an error; the end of its log:" >&2; tail -20 "$WORK/$t/fuzz.log" >&2; }
}

running=0
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

stat() { sed -n "s/^$2 *: *//p" "$1" 2>/dev/null | head -1; }
{
  echo "| target | minutes | executions | execs/s | corpus | edges covered | crashes | hangs |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for t in "${TARGETS[@]}"; do
    s="$WORK/$t/out/default/fuzzer_stats"
    [ -f "$s" ] || { echo "| $t | – | no run | | | | | |"; continue; }
    secs=$(stat "$s" run_time); execs=$(stat "$s" execs_done)
    echo "| $t | $((secs / 60)) | $execs | $(stat "$s" execs_per_sec) | $(stat "$s" corpus_count) | $(stat "$s" bitmap_cvg) | $(stat "$s" saved_crashes) | $(stat "$s" saved_hangs) |"
  done
} | tee "$WORK/summary.md"
# A finding, or a target that did not run, fails the script.
status=0
for t in "${TARGETS[@]}"; do
  s="$WORK/$t/out/default/fuzzer_stats"
  if [ ! -f "$s" ]; then echo "$t: no run" >&2; status=1; continue; fi
  found=$(( $(stat "$s" saved_crashes) + $(stat "$s" saved_hangs) ))
  if [ "$found" -gt 0 ]; then echo "$t: $found crashes or hangs in $WORK/$t/out/default/{crashes,hangs}/" >&2; status=1; fi
done
exit $status

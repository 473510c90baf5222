#!/usr/bin/env python3
"""Side-by-side speed of fin-r1 and llama.cpp (llama-cpp-python, the reference) on the same GGUF
files, in one run, alternating the engines, several repetitions; prints medians and ratios
(fin-r1 / llama.cpp) as Markdown for BENCHMARKS.md.

  bench.py [MODEL.gguf ...] [--synthetic q4_k_m,q5_k_m,q6_k,q8_0] [--reps 3]
           [--prompt-tokens 512] [--gen-tokens 128] [--history-tokens 2048] [--history-reps 1]
           [--fin-r1 PATH] [--drop-synthetic]

With no model given it benchmarks the Fin-R1-shaped synthetic Qwen2-7B Q4_K_M file (written by
`make-synthetic-gguf` from the real header, once, into ~/.cache/fin-r1/bench) and SmolLM2-135M.
--synthetic names the 7B types to write and run instead (llama.cpp's recipes: Q5_K_M is Q5_K
with Q6_K where Q4_K_M has it; Q6_K and Q8_0 are all one type); --drop-synthetic deletes each
file after its run (a Q8_0 7B takes 8 GB).
Turn 2: after a history of --history-tokens tokens, the time from 32 new prompt tokens to the
first generated token (both engines keep the history's KV cache).
Needs: scripts/fetch-fixtures.sh run, `pip install llama-cpp-python`, built fin-r1 and
make-synthetic-gguf (cargo build --bins).
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

HOME = os.path.expanduser("~")
FIXTURES = os.environ.get("FIN_R1_FIXTURES", f"{HOME}/.cache/fin-r1/fixtures")
SYNTHETIC = f"{HOME}/.cache/fin-r1/bench/qwen2-7b-{{}}-synthetic.gguf"
TURN2_NEW_TOKENS = 32

def synthetic_7b(fin_r1, kind="q4_k_m"):
    """The Fin-R1-shaped 7B file of type `kind`, written once by make-synthetic-gguf (beside
    `fin_r1`)."""
    path = SYNTHETIC.format(kind)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        maker = os.path.join(os.path.dirname(fin_r1), "make-synthetic-gguf")
        subprocess.run([maker, f"{FIXTURES}/deepseek-r1-distill-qwen-7b-q4_k_m.part0000", path, kind], check=True)
    return path


LLAMA_CHILD = r'''
import json, resource, sys, time
from llama_cpp import Llama
path, n_prompt, n_gen, threads, n_hist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
TEXT = ("The company's revenue grew 12.5% year over year to $4.82 billion, while operating margin "
"contracted by 140 basis points because of higher input costs. 公司营业收入同比增长12.5%，毛利率下降。 "
"| Year | Revenue | EBITDA |\n|---|---|---|\n| 2023 | 4,286 | 912 |\n| 2024 | 4,822 | 987 |\n")
t0 = time.perf_counter()
m = Llama(model_path=path, n_ctx=n_hist + n_prompt + n_gen + 16, n_batch=512, n_threads=threads, verbose=False)
load = time.perf_counter() - t0
unit = m.tokenize(TEXT.encode(), add_bos=False, special=True)
stream = (unit * ((n_hist + n_prompt) // len(unit) + 1))[:n_hist + n_prompt]
import llama_cpp
info = llama_cpp.llama_print_system_info()
out = {"load_s": load, "system_info": info.decode() if isinstance(info, bytes) else str(info)}
if n_hist:
    t = time.perf_counter(); m.eval(stream[:n_hist]); out["history_prefill_s"] = time.perf_counter() - t
t1 = time.perf_counter(); m.eval(stream[n_hist:]); prefill = time.perf_counter() - t1
tok = m.sample(top_k=1, temp=0.0); ttft = time.perf_counter() - t1
t2 = time.perf_counter()
for _ in range(n_gen):
    m.eval([tok])
    tok = m.sample(top_k=1, temp=0.0)
decode = time.perf_counter() - t2
out.update({"prefill_tok_s": n_prompt / prefill, "decode_tok_s": n_gen / decode if n_gen else 0.0,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})
if n_hist:
    out["turn2_ttft_s"] = ttft
print(json.dumps(out))
'''


def run_fin(args, model, n_prompt, n_gen, n_hist):
    cmd = [args.fin_r1, "bench", "--json", "--model", model, "--threads", str(args.threads),
           "--prompt-tokens", str(n_prompt), "--gen-tokens", str(n_gen), "--history-tokens", str(n_hist)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def run_llama(args, model, n_prompt, n_gen, n_hist):
    out = subprocess.run([args.python, "-c", LLAMA_CHILD, model, str(n_prompt), str(n_gen), str(args.threads), str(n_hist)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def llama_version(args):
    r = subprocess.run([args.python, "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def side_by_side(args, model, reps, n_prompt, n_gen, n_hist):
    fin, ref = [], []
    for i in range(reps):
        # Alternate which engine goes first so page-cache and thermal effects fall on both.
        order = [("fin", run_fin), ("ref", run_llama)] if i % 2 == 0 else [("ref", run_llama), ("fin", run_fin)]
        for name, fn in order:
            r = fn(args, model, n_prompt, n_gen, n_hist)
            (fin if name == "fin" else ref).append(r)
            print(f"  rep {i + 1} {'fin-r1' if name == 'fin' else 'llama.cpp'}: {json.dumps(r)}", file=sys.stderr, flush=True)
    return fin, ref


def table(rows):
    lines = ["| metric | fin-r1 | llama.cpp | ratio (fin-r1 / llama.cpp) |", "|---|---:|---:|---:|"]
    for label, a, b, fmt in rows:
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f}x |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--synthetic", default="", help="7B types to write and run: q4_k_m,q5_k_m,q6_k,q8_0")
    ap.add_argument("--drop-synthetic", action="store_true", help="delete each synthetic file after its run")
    ap.add_argument("--history-tokens", type=int, default=2048)
    ap.add_argument("--history-reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--fin-r1", default=os.environ.get("FIN_R1_BIN", "target/debug/fin-r1"))
    ap.add_argument("--python", default=os.environ.get("LLAMA_PYTHON"),
                    help="llama-cpp-python's interpreter (default: a build native to this CPU, scripts/setup-bench-llama.sh)")
    ap.add_argument("--test-llama", action="store_true",
                    help="compare against the tests' portable llama.cpp build (AVX2 only) instead of a native one")
    args = ap.parse_args()
    if not args.python:
        if args.test_llama:
            args.python = os.environ.get("FIN_R1_PYTHON", f"{HOME}/.cache/fin-r1/venv/bin/python")
        else:
            # The fair reference uses the best paths this CPU has (AVX-512, VNNI, AMX).
            setup = os.path.join(os.path.dirname(os.path.abspath(__file__)), "setup-bench-llama.sh")
            args.python = subprocess.run(["bash", setup], check=True, capture_output=True, text=True).stdout.strip()
    models = list(args.models)
    kinds = [k for k in args.synthetic.split(",") if k]
    if not models and not kinds:
        models = [synthetic_7b(args.fin_r1), f"{FIXTURES}/smollm2-135m-instruct-q4_1.gguf"]
    # Synthetic files are written when their turn comes (and dropped after it, if asked), so
    # a small disk holds one at a time.
    models += [("synthetic", k) for k in kinds]

    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()}, {os.cpu_count()} CPUs, {args.threads} threads")
    for model in models:
        dropped = None
        if isinstance(model, tuple):
            model = synthetic_7b(args.fin_r1, model[1])
            dropped = model if args.drop_synthetic else None
        size = os.path.getsize(model)
        print(f"\n## {os.path.basename(model)} ({size / 1e9:.2f} GB)\n", flush=True)
        print(f"{args.reps} repetitions, medians; {args.prompt_tokens} prompt tokens, {args.gen_tokens} decoded.", file=sys.stderr)
        fin, ref = side_by_side(args, model, args.reps, args.prompt_tokens, args.gen_tokens, 0)
        # A fair comparison says what each engine ran on this CPU.
        print(f"- fin-r1: {fin[0].get('kernels', '?')}; CPU features: {' '.join(fin[0].get('cpu_features', []))}")
        print(f"- llama.cpp (llama-cpp-python {llama_version(args)}): {ref[0].get('system_info', '?').strip()}\n", flush=True)
        med = lambda rs, k: statistics.median(r[k] for r in rs)
        rows = [
            ("load (s)", med(fin, "load_s"), med(ref, "load_s"), "{:.2f}"),
            (f"prefill tok/s ({args.prompt_tokens} tokens)", med(fin, "prefill_tok_s"), med(ref, "prefill_tok_s"), "{:.2f}"),
            (f"decode tok/s ({args.gen_tokens} tokens)", med(fin, "decode_tok_s"), med(ref, "decode_tok_s"), "{:.2f}"),
            ("peak RSS (MB)", med(fin, "peak_rss_bytes") / 1e6, med(ref, "peak_rss_bytes") / 1e6, "{:.0f}"),
        ]
        if args.history_tokens:
            fh, rh = side_by_side(args, model, args.history_reps, TURN2_NEW_TOKENS, 0, args.history_tokens)
            rows.append((f"turn-2 time to first token after {args.history_tokens} tokens (s)",
                         med(fh, "turn2_ttft_s"), med(rh, "turn2_ttft_s"), "{:.2f}"))
            rows.append((f"  (the {args.history_tokens}-token history's own prefill, s)",
                         med(fh, "history_prefill_s"), med(rh, "history_prefill_s"), "{:.1f}"))
        print(table(rows), flush=True)
        if dropped:
            os.remove(dropped)


if __name__ == "__main__":
    main()

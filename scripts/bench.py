#!/usr/bin/env python3
"""Side-by-side speed of fin-r1 and llama.cpp (llama-cpp-python) on the same GGUF file, in one
run, alternating, several repetitions; prints medians and ratios (fin-r1 / llama.cpp) as a
Markdown table for BENCHMARKS.md.

usage: bench.py MODEL.gguf [--reps 3] [--prompt-tokens 512] [--gen-tokens 128] [--fin-r1 PATH]
needs: pip install llama-cpp-python (the reference), a built fin-r1.
"""
import argparse, json, os, resource, statistics, subprocess, sys, time

LLAMA_CHILD = r'''
import json, resource, sys, time
from llama_cpp import Llama
path, n_prompt, n_gen, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
TEXT = ("The company's revenue grew 12.5% year over year to $4.82 billion, while operating margin "
"contracted by 140 basis points because of higher input costs. 公司营业收入同比增长12.5%，毛利率下降。 "
"| Year | Revenue | EBITDA |\n|---|---|---|\n| 2023 | 4,286 | 912 |\n| 2024 | 4,822 | 987 |\n")
t0 = time.perf_counter()
m = Llama(model_path=path, n_ctx=n_prompt + n_gen + 16, n_batch=512, n_threads=threads, verbose=False)
load = time.perf_counter() - t0
unit = m.tokenize(TEXT.encode(), add_bos=False, special=True)
prompt = (unit * (n_prompt // len(unit) + 1))[:n_prompt]
t1 = time.perf_counter(); m.eval(prompt); prefill = time.perf_counter() - t1
t2 = time.perf_counter()
for _ in range(n_gen):
    tok = m.sample(top_k=1, temp=0.0)
    m.eval([tok])
decode = time.perf_counter() - t2
print(json.dumps({"load_s": load, "prefill_tok_s": n_prompt / prefill, "decode_tok_s": n_gen / decode,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
'''

def run_fin(args):
    out = subprocess.run([args.fin_r1, "bench", "--json", "--model", args.model, "--threads", str(args.threads),
                          "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)

def run_llama(args):
    out = subprocess.run([sys.executable, "-c", LLAMA_CHILD, args.model, str(args.prompt_tokens),
                          str(args.gen_tokens), str(args.threads)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--fin-r1", default=os.environ.get("FIN_R1_BIN", "target/debug/fin-r1"))
    args = ap.parse_args()
    fin, ref = [], []
    for i in range(args.reps):
        fin.append(run_fin(args)); ref.append(run_llama(args))
        print(f"rep {i + 1}: fin-r1 {fin[-1]}\n       llama.cpp {ref[-1]}", file=sys.stderr)
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"| metric | fin-r1 | llama.cpp | ratio (fin-r1 / llama.cpp) |\n|---|---:|---:|---:|")
    for key, label, higher in [("load_s", "load (s)", False), ("prefill_tok_s", f"prefill tok/s ({args.prompt_tokens} tokens)", True),
                               ("decode_tok_s", f"decode tok/s ({args.gen_tokens} tokens)", True), ("peak_rss_bytes", "peak RSS (MB)", False)]:
        a, b = med(fin, key), med(ref, key)
        scale = 1e-6 if key == "peak_rss_bytes" else 1
        print(f"| {label} | {a * scale:.2f} | {b * scale:.2f} | {a / b:.2f}x |")

main()

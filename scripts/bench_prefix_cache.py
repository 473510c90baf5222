#!/usr/bin/env python3
"""Time to first token of the compliance preset's first question, without and with the
engine's cached preset prefix (issue 17), each in a fresh `fin-r1 chat` process as an analyst
starts one: run 1 fills an empty cache folder, run 2 (another question) starts from it.

  bench_prefix_cache.py [MODEL.gguf] [--fin-r1 PATH] [--reps 2]

With no model it uses the Fin-R1-shaped synthetic Qwen2-7B Q4_K_M file bench.py writes. Prints
Markdown for BENCHMARKS.md.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import synthetic_7b  # noqa: E402
RULE = ("《证券期货经营机构私募资产管理业务管理办法》第三十条：不得向投资者承诺本金不受损失或者承诺最低收益。"
        "《公开募集证券投资基金销售机构监督管理办法》第三十二条：基金销售机构不得以任何方式承诺收益。")
FACTS = ["某基金销售机构员工在朋友圈宣传某私募产品“保本保收益、年化8%”，并附上产品二维码。",
         "A fund salesman told a client by email that the product's principal is guaranteed and it pays at least 6% a year."]


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def ask(fin_r1, model, data, cache, facts):
    out = subprocess.run(
        [fin_r1, "chat", "--json", "--temperature", "0", "--max-tokens", "1", "--scenario", "compliance",
         "--field", f"rule={RULE}", "--field", f"facts={facts}", "--data-dir", data, "--model", model, "是否合规？"],
        env={**os.environ, "FIN_R1_CACHE_DIR": cache}, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("type") == "usage":
            return ev
    raise SystemExit(f"no usage event:\n{out.stdout}\n{out.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--fin-r1", default=os.environ.get("FIN_R1_BIN", "target/debug/fin-r1"))
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    model = args.model or synthetic_7b(args.fin_r1)
    cold, warm = [], []
    for _ in range(args.reps):
        root = tempfile.mkdtemp(prefix="fin-r1-prefix-bench-")
        try:
            data, cache = os.path.join(root, "data"), os.path.join(root, "cache")
            cold.append(ask(args.fin_r1, model, data, cache, FACTS[0]))
            warm.append(ask(args.fin_r1, model, data, cache, FACTS[1]))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, {cpu()}, {os.cpu_count()} CPUs; {os.path.basename(model)}\n")
    print("| compliance preset, first question, new process | prompt tokens | from the cache | time to first token |")
    print("|---|---|---|---|")
    print(f"| empty cache | {med(cold, 'prompt_tokens'):.0f} | {med(cold, 'cached_prompt_tokens'):.0f} | {med(cold, 'time_to_first_token_ms') / 1e3:.1f} s |")
    print(f"| preset prefix cached | {med(warm, 'prompt_tokens'):.0f} | {med(warm, 'cached_prompt_tokens'):.0f} | {med(warm, 'time_to_first_token_ms') / 1e3:.1f} s |")
    print(f"\n{args.reps} repetitions, medians; ratio {med(cold, 'time_to_first_token_ms') / med(warm, 'time_to_first_token_ms'):.2f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Produces tests/fixtures/llama-cpp-reference.json with llama.cpp (llama-cpp-python), once:
token ids and detokenized text for a corpus on both tokenizers (SmolLM2's and the real Qwen2
one, through a tiny Qwen2 file that carries it), and SmolLM2's greedy continuations of finance
prompts. The engine's tests compare against this file; llama.cpp is not needed to run them.

usage: make-references.py SMOLLM2.gguf TINY_QWEN2.gguf OUT.json
"""
import json, sys
import llama_cpp
from llama_cpp import Llama

CORPUS = {
    "english": "The bond's yield to maturity is 4.85%, and its modified duration is 6.2 years.",
    "chinese": "根据《证券法》第七十八条，上市公司应当及时披露可能影响股价的重大事件。风险控制与合规审查。",
    "numbers": "Revenue: $1,234,567.89 (+12.5% YoY); EPS 3.14 vs 2.71; 10^6 = 1000000; -0.0042",
    "table": "| Year | Revenue | Net income |\n|---|---:|---:|\n| 2023 | 4,286.1 | 512.3 |\n| 2024 | 4,822.0 | 601.7 |\n",
    "code": "def npv(rate, flows):\n    return sum(cf / (1 + rate) ** t for t, cf in enumerate(flows))\n\nprint(f\"{npv(0.05, [-1000, 300, 400, 500]):.2f}\")\n",
    "mixed": "ESG评分: 72/100 — carbon intensity 45.3 tCO2e/$m; 董事会独立性 (board independence) ≥ 50%.\t  \n\n  end",
    "fin_r1_output": "<think>\n用户问的是两年后收到的1000美元按5%折现的现值。PV = 1000 / (1.05)^2 = 1000 / 1.1025 ≈ 907.03。\n</think>\n<answer>\n现值约为 **$907.03**，即 \\boxed{907.03}\n</answer>",
    "chat_markup": "<|im_start|>user\nWhat is NPV?<|im_end|>\n<|im_start|>assistant\n<think>\nFirst,</think>",
}

PROMPTS = [
    "What is the present value of $1,000 received in 2 years at a 5% annual discount rate?",
    "Explain the difference between a stock and a bond.",
    "What is compound interest?",
    "Define market capitalization in one sentence.",
    "What does a company's price-to-earnings ratio tell an investor?",
]
SMOL_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

def chatml(system, user):
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"

def tokenize_all(path):
    m = Llama(model_path=path, vocab_only=True, verbose=False)
    out = {}
    for name, text in CORPUS.items():
        ids = m.tokenize(text.encode(), add_bos=False, special=True)
        out[name] = {"text": text, "ids": ids, "decoded": m.detokenize(ids).decode("utf-8", "replace")}
    return out

def main():
    smol, qwen, out = sys.argv[1:4]
    ref = {
        "generator": f"llama-cpp-python {llama_cpp.__version__}",
        "tokenizers": {"smollm2": tokenize_all(smol), "qwen2": tokenize_all(qwen)},
        "greedy": [],
    }
    m = Llama(model_path=smol, n_ctx=1024, n_threads=2, seed=0, verbose=False)
    for p in PROMPTS:
        text = chatml(SMOL_SYSTEM, p)
        ids = m.tokenize(text.encode(), add_bos=False, special=True)
        m.reset()
        gen = []
        for tok in m.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
            if tok == m.token_eos() or len(gen) >= 24:
                break
            gen.append(tok)
        ref["greedy"].append({"model": "smollm2", "prompt": text, "prompt_ids": ids, "ids": gen,
                              "text": m.detokenize(gen).decode("utf-8", "replace")})
    with open(out, "w") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)

main()

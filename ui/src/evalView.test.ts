import { describe, expect, it } from "vitest";
import { byCategory, progressLine } from "./components/evalView";
import type { RunDetail } from "./types";

const score = (num: number, s: number) => ({ num, score: s, correct: 0, truncated: 0, parse_failures: 0, errors: 0, judge_errors: 0, mean_tokens: 0, mean_seconds: 0 });

describe("evaluation view", () => {
  it("lists categories by name with all last, naming the bench only when there are several", () => {
    const one = { report: { scores: { "fin-eva": { all: score(6, 50), 合规: score(2, 0), 风控: score(4, 75) } } } } as unknown as RunDetail;
    expect(byCategory(one).map((r) => r.label)).toEqual(["合规", "风控", "all"]);
    expect(byCategory(one)[1]).toEqual({ label: "风控", score: 75, n: 4 });
    const two = { report: { scores: { a: { all: score(1, 100) }, b: { x: score(1, 0), all: score(1, 0) } } } } as unknown as RunDetail;
    expect(byCategory(two).map((r) => r.label)).toEqual(["a · all", "b · x", "b · all"]);
    expect(byCategory({ report: null } as unknown as RunDetail)).toEqual([]);
  });

  it("reads progress as accuracy, speed and time left", () => {
    expect(progressLine({ done: 0, total: 10, correct: 0, tokens: 0, seconds: 0, elapsed: 0 })).toEqual({ accuracy: 0, rate: 0, left: Infinity });
    const p = progressLine({ done: 4, total: 10, correct: 1, tokens: 400, seconds: 20, elapsed: 40 });
    expect(p).toEqual({ accuracy: 25, rate: 20, left: 60 });
    expect(progressLine({ done: 10, total: 10, correct: 10, tokens: 1, seconds: 1, elapsed: 5 }).left).toBe(0);
  });
});

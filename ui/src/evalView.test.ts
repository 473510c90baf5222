import { describe, expect, it } from "vitest";
import { byCategory, commonFolder, evalRequest, exportTarget, progressLine, resumeRequest, type EvalForm } from "./components/evalView";
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

  it("exports the run that is open under its own name, not the one opened before", () => {
    const dir = "/home/a/Documents";
    const first = exportTarget(null, "convfinqa-20260101-120000", dir);
    expect(first).toEqual({ run: "convfinqa-20260101-120000", format: "html", path: "/home/a/Documents/convfinqa-20260101-120000.html" });
    // The analyst picks PDF and another folder for the first run…
    const edited = { ...first, format: "pdf" as const, path: "/home/a/reports/convfinqa-20260101-120000.pdf" };
    expect(exportTarget(edited, "convfinqa-20260101-120000", dir)).toBe(edited);
    // …then opens a second one: its own name, in the folder and format chosen.
    const second = exportTarget(edited, "评测 运行 2", dir);
    expect(second).toEqual({ run: "评测 运行 2", format: "pdf", path: "/home/a/reports/评测 运行 2.pdf" });
    expect(second.path).not.toContain("convfinqa");
    expect(exportTarget(null, "run", "C:\\Users\\a").path).toBe("C:\\Users\\a\\run.html");
  });

  it("sends the keys typed, greedy unless a temperature is given, and names what is wrong", () => {
    const form: EvalForm = {
      bench: "jsonl",
      data: " /data/own.jsonl ",
      limit: "5",
      maxTokens: "",
      temperature: "",
      engine: "remote",
      remoteUrl: "http://10.0.0.5:8000/v1",
      remoteModel: "Fin-R1",
      remoteKey: " sk-remote ",
      judge: "llm",
      judgeUrl: "http://127.0.0.1:8000/v1",
      judgeModel: "judge",
      judgeKey: "",
      strict: false,
      seed: "",
    };
    const r = evalRequest(form);
    if (typeof r === "string") throw new Error(r);
    expect(r.temperature).toBeNull();
    expect(r.data).toBe("/data/own.jsonl");
    expect(r.remote).toEqual({ url: "http://10.0.0.5:8000/v1", model: "Fin-R1", api_key: "sk-remote" });
    // An empty key field is not sent: the key kept from an earlier run is used.
    expect(r.judge_server).toEqual({ url: "http://127.0.0.1:8000/v1", model: "judge", api_key: null });
    const warm = evalRequest({ ...form, temperature: "0.6", judge: "rule" });
    if (typeof warm === "string") throw new Error(warm);
    expect([warm.temperature, warm.judge_server]).toEqual([0.6, null]);
    expect(evalRequest({ ...form, temperature: "3" })).toBe("eval.badTemperature");
    expect(evalRequest({ ...form, temperature: "hot" })).toBe("eval.badTemperature");
    expect(evalRequest({ ...form, limit: "0" })).toBe("eval.badLimit");
    expect(evalRequest({ ...form, remoteUrl: " " })).toBe("eval.needServer");
    const seeded = evalRequest({ ...form, seed: "7" });
    if (typeof seeded === "string") throw new Error(seeded);
    expect([r.seed, seeded.seed]).toEqual([null, 7]);
    expect(evalRequest({ ...form, seed: "-1" })).toBe("eval.badSeed");
    expect(evalRequest({ ...form, seed: "1.5" })).toBe("eval.badSeed");
  });

  it("resumes a stopped run with its own settings, data and folder", () => {
    expect(commonFolder(["/d/fin-eva/a.csv", "/d/fin-eva/b.csv"])).toBe("/d/fin-eva");
    expect(commonFolder(["C:\\d\\x\\a.csv", "C:\\d\\x\\b.csv"])).toBe("C:\\d\\x");
    const d = {
      summary: { id: "2026-12-07 convfinqa", answered: 3, planned: 10 },
      config: {
        bench: "convfinqa",
        data: { "/d/convfinqa/dev.json": "ab" },
        model: "Fin-R1",
        remote_url: null,
        sampling: { temperature: 0, max_tokens: 4000 },
        limit: 5,
        seed: 42,
        strict: true,
        judge: null,
      },
    } as unknown as RunDetail;
    const r = resumeRequest(d, ["convfinqa", "tatqa"]);
    expect(r).toMatchObject({ bench: "convfinqa", data: "/d/convfinqa/dev.json", limit: 5, seed: 42, temperature: 0, max_tokens: 4000, strict: true, judge: "rule", resume: "2026-12-07 convfinqa" });
    expect(resumeRequest({ ...d, config: { ...d.config, bench: "unknown" } } as RunDetail, ["convfinqa"])).toBeNull();
  });
});

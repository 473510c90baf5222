// What the Evaluate page computes: the request its form makes, a run's scores as chart rows,
// the progress line, and where the opened run's report is exported.

import type { Key } from "../i18n";
import type { Bench, EvalRequest, JudgeMode, RunDetail } from "../types";
import { joinPath, withExtension } from "./format";

/** The form as typed. */
export interface EvalForm {
  bench: Bench;
  data: string;
  limit: string;
  maxTokens: string;
  /** Empty: greedy (0), as the paper's scores were made. */
  temperature: string;
  engine: "current" | "remote";
  remoteUrl: string;
  remoteModel: string;
  /** Empty: the key kept from an earlier run, if any. */
  remoteKey: string;
  judge: JudgeMode;
  judgeUrl: string;
  judgeModel: string;
  judgeKey: string;
  strict: boolean;
  /** Empty: the default (42), which picks the same sample and sampling seed every time. */
  seed: string;
}

/** The request the form makes, or the words for what is wrong with it. */
export function evalRequest(f: EvalForm): EvalRequest | Key {
  const limit = Number(f.limit);
  if (!f.data.trim()) return "eval.needData";
  if (!Number.isInteger(limit) || limit < 1) return "eval.badLimit";
  const maxTokens = f.maxTokens.trim() === "" ? null : Number(f.maxTokens);
  if (maxTokens !== null && (!Number.isInteger(maxTokens) || maxTokens < 1)) return "eval.badMaxTokens";
  const temperature = f.temperature.trim() === "" ? null : Number(f.temperature);
  if (temperature !== null && (!Number.isFinite(temperature) || temperature < 0 || temperature > 2)) return "eval.badTemperature";
  const seed = f.seed.trim() === "" ? null : Number(f.seed);
  if (seed !== null && (!Number.isSafeInteger(seed) || seed < 0)) return "eval.badSeed";
  if (f.engine === "remote" && !f.remoteUrl.trim()) return "eval.needServer";
  if (f.judge !== "rule" && !f.judgeUrl.trim()) return "eval.needJudge";
  // A key left empty is not sent: the shell uses the one it keeps.
  const key = (k: string) => (k.trim() === "" ? null : k.trim());
  return {
    bench: f.bench,
    data: f.data.trim(),
    limit,
    seed,
    max_tokens: maxTokens,
    temperature,
    remote: f.engine === "remote" ? { url: f.remoteUrl.trim(), model: f.remoteModel.trim(), api_key: key(f.remoteKey) } : null,
    judge: f.judge,
    judge_server: f.judge === "rule" ? null : { url: f.judgeUrl.trim(), model: f.judgeModel.trim(), api_key: key(f.judgeKey) },
    strict: f.strict,
    resume: null,
  };
}

/** The request that goes on with a stopped run: its own settings and data, into its folder
 *  (the shell refuses it, saying why, when the model or the data are no longer the same). */
export function resumeRequest(d: RunDetail, benches: readonly Bench[]): EvalRequest | null {
  const c = d.config;
  const bench = benches.find((b) => b === c.bench);
  const files = Object.keys(c.data);
  if (!bench || files.length === 0) return null;
  return {
    bench,
    data: files.length === 1 ? files[0] : commonFolder(files),
    limit: c.limit,
    seed: c.seed,
    max_tokens: c.sampling.max_tokens,
    temperature: c.sampling.temperature,
    remote: c.remote_url ? { url: c.remote_url, model: c.model, api_key: null } : null,
    judge: c.judge?.mode ?? "rule",
    judge_server: c.judge ? { url: c.judge.url, model: c.judge.model, api_key: null } : null,
    strict: c.strict,
    resume: d.summary.id,
  };
}

/** The folder that holds every one of `paths`. */
export function commonFolder(paths: string[]): string {
  const split = paths.map((p) => p.split(/(?<=[\\/])/));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length - 1 && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join("").replace(/[\\/]$/, "") || "/";
}

/** Where the opened run's report goes: its format and file, for one run. */
export interface ExportTarget {
  run: string;
  format: "html" | "pdf" | "docx";
  path: string;
}

/**
 * The export target for `run`: the one being edited while that run stays open; for another run,
 * a file named after that run, in the folder and format chosen last (never the previous run's
 * file name: a report written under another run's name).
 */
export function exportTarget(prev: ExportTarget | null, run: string, dir: string): ExportTarget {
  if (prev?.run === run) return prev;
  const format = prev?.format ?? "html";
  const folder = prev ? parentOf(prev.path) ?? dir : dir;
  return { run, format, path: withExtension(joinPath(folder, run), format) };
}

/** The folder part of a path, or null when it names none. */
function parentOf(path: string): string | null {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut > 0 ? path.slice(0, cut) : null;
}

export interface CategoryRow {
  label: string;
  score: number;
  n: number;
}

/** A run's scores per category, each bench's "all" last; the bench named when there are several. */
export function byCategory(d: RunDetail): CategoryRow[] {
  const scores = d.report?.scores ?? {};
  const benches = Object.keys(scores);
  const rows: CategoryRow[] = [];
  for (const bench of benches) {
    const cats = scores[bench] ?? {};
    const names = Object.keys(cats).filter((c) => c !== "all").sort();
    if (cats["all"]) names.push("all");
    for (const c of names) {
      const s = cats[c];
      if (!s) continue;
      rows.push({ label: benches.length > 1 ? `${bench} · ${c}` : c, score: s.score ?? 0, n: s.num });
    }
  }
  return rows;
}

/** Accuracy so far (per cent), decoding speed (tokens/s) and seconds left. */
export function progressLine(p: { done: number; total: number; correct: number; tokens: number; seconds: number; elapsed: number }) {
  const accuracy = p.done > 0 ? (100 * p.correct) / p.done : 0;
  const rate = p.seconds > 0 ? p.tokens / p.seconds : 0;
  const left = p.done > 0 && p.total > p.done ? (p.elapsed / p.done) * (p.total - p.done) : p.done === p.total && p.total > 0 ? 0 : Infinity;
  return { accuracy, rate, left };
}

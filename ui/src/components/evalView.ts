// What the Evaluate page computes from a run: its scores as chart rows, and the progress line.

import type { RunDetail } from "../types";

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

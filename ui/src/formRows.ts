// A question's form as the analyst filled it in: the preset's labels in the form's order, in
// the UI's language; a field the preset no longer has keeps its name, after the others.

import type { Lang, Scenario } from "./types";

export function formRows(values: Record<string, string>, preset: Scenario | undefined, l: Lang): [string, string][] {
  const filled = Object.entries(values).filter(([, v]) => v.trim() !== "");
  const known = preset?.fields ?? [];
  const rows: [string, string][] = [];
  for (const f of known) {
    const v = values[f.name];
    if (v !== undefined && v.trim() !== "") rows.push([f.label[l], v]);
  }
  for (const [k, v] of filled) if (!known.some((f) => f.name === k)) rows.push([k, v]);
  return rows;
}

/** The preset's required fields left empty. */
export function missingFields(values: Record<string, string>, preset: Scenario | null | undefined): string[] {
  return (preset?.fields ?? []).filter((f) => f.required && !(values[f.name] ?? "").trim()).map((f) => f.name);
}

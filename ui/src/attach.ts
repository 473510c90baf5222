// Files attached to the next question: each read by the shell off the UI thread (a PDF page
// by page, with progress and a stop), kept as chips over the composer until the question goes.

import { signal } from "@preact/signals";
import { Channel } from "@tauri-apps/api/core";
import { commands, type OriginalOf } from "./bindings";
import { errorText, uiLang } from "./api";
import { t } from "./i18n";
import type { DocumentPreview, ReadProgress } from "./types";

export type Pending = {
  path: string;
  name: string;
  status: "reading" | "ready" | "error";
  progress: ReadProgress | null;
  preview: DocumentPreview | null;
  error: string | null;
};

/** The kinds the core reads; anything else is refused on the chip before the shell is asked. */
export const DOCUMENT_EXTENSIONS = ["pdf", "xlsx", "xlsm", "xls", "ods", "csv", "tsv", "docx"];

export const pending = signal<Pending[]>([]);

/** The document whose extracted view is open: one being attached, or one stored; `original`
 *  names it for its original view (a PDF's pages, a workbook's sheets) where it has one. */
export const viewing = signal<{
  title: string;
  markdown: string;
  whole: string | null;
  summary: string | null;
  notes: string[];
  original: OriginalOf | null;
} | null>(null);

/** The kinds whose file is shown as it is beside what was read. */
function hasOriginal(kind: string): boolean {
  return ["pdf", "xlsx", "xls", "ods"].includes(kind);
}

export function isDocument(path: string): boolean {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  return DOCUMENT_EXTENSIONS.includes(ext);
}

export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function update(path: string, f: (p: Pending) => Pending) {
  pending.value = pending.value.map((p) => (p.path === path ? f(p) : p));
}

export function attach(paths: string[]) {
  for (const path of paths) {
    if (pending.value.some((p) => p.path === path)) continue;
    pending.value = [...pending.value, { path, name: baseName(path), status: "reading", progress: null, preview: null, error: null }];
    const progress = new Channel<ReadProgress>();
    progress.onmessage = (m) => update(path, (p) => ({ ...p, progress: m }));
    commands
      .readDocument(path, progress)
      .then((preview) => update(path, (p) => ({ ...p, status: "ready", preview })))
      .catch((e) => update(path, (p) => ({ ...p, status: "error", error: errorText(e) })));
  }
}

/** The chip's ×: stops a reading in progress, forgets a read file. */
export function detach(path: string) {
  pending.value = pending.value.filter((p) => p.path !== path);
  void commands.discardDocument(path);
}

export function readingAny(): boolean {
  return pending.value.some((p) => p.status === "reading");
}

/** What goes with the question: the files read; a file that could not be read stays behind
 *  with its error. */
export function readyPaths(): string[] {
  return pending.value.filter((p) => p.status === "ready").map((p) => p.path);
}

/** After the question is stored, its files are the question's: the chips over the composer
 *  go (those that failed stay, to be seen). */
export function sent(paths: string[]) {
  pending.value = pending.value.filter((p) => !paths.includes(p.path));
}

/** Files larger than this are refused by every reader (documents::limits::MAX_FILE_BYTES):
 *  a pasted one is refused here, before its bytes are copied into a message. */
export const MAX_PASTE_BYTES = 200 * 1024 * 1024;

/** Pasted files have no path the page may know: their bytes are saved by the shell first. */
export async function attachPasted(files: File[]) {
  for (const f of files) {
    if (f.size > MAX_PASTE_BYTES) {
      const mb = Math.round(f.size / (1024 * 1024));
      const error = t(uiLang(), "attach.tooLarge", { name: f.name, size: mb, max: MAX_PASTE_BYTES / (1024 * 1024) });
      pending.value = [...pending.value, { path: f.name, name: f.name, status: "error", progress: null, preview: null, error }];
      continue;
    }
    try {
      const bytes = Array.from(new Uint8Array(await f.arrayBuffer()));
      const path = await commands.savePastedDocument(f.name, bytes);
      attach([path]);
    } catch (e) {
      pending.value = [...pending.value, { path: f.name, name: f.name, status: "error", progress: null, preview: null, error: errorText(e) }];
    }
  }
}

export function showPreview(p: DocumentPreview) {
  const original: OriginalOf | null = hasOriginal(p.kind) ? { of: "pending", path: p.path } : null;
  viewing.value = { title: p.file_name, markdown: p.markdown, whole: null, summary: null, notes: p.notes, original };
}

export async function showStored(a: { id: number; file_name: string; kind: string; included_summary: string; notes: string[] }) {
  const t = await commands.attachmentText(a.id);
  // What the prompt carried first; the whole file as read a click away when that was less.
  viewing.value = {
    title: a.file_name,
    markdown: t.included || t.text,
    whole: t.included && t.included !== t.text ? t.text : null,
    summary: a.included_summary,
    notes: a.notes,
    original: hasOriginal(a.kind) ? { of: "stored", id: a.id } : null,
  };
}

/** A file field's value is its file's name while the file is attached: a chip removed takes
 *  the value with it (a required field is then missing again). */
export function withAttachedFiles(values: Record<string, string>, fileFields: string[]): Record<string, string> {
  const names = pending.value.filter((p) => p.status !== "error").map((p) => p.name);
  const out = { ...values };
  for (const f of fileFields) if (out[f] && !names.includes(out[f])) delete out[f];
  return out;
}

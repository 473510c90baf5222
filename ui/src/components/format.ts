// Numbers as an analyst reads them on the model and settings pages.

export function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(bytes >= 1e10 ? 0 : 1)} GB`;
}

export function size(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} KB`;
  return `${bytes} B`;
}

/** "3:05" for seconds left; "--:--" when unknown. */
export function eta(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

/** A title's first line, whole: what a report or a header shows. */
export function firstLine(title: string): string {
  return title.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/**
 * A stored title (the whole first question) where space is short: its first line in at most
 * `max` characters, cut at a word when one falls in the second half, "…" when cut.
 */
export function shortTitle(title: string, max = 80): string {
  const line = firstLine(title);
  const chars = Array.from(line);
  const more = title.trim().length > line.length;
  if (chars.length <= max) return more ? `${line} …` : line;
  const cut = chars.slice(0, max).join("");
  // The cut falls between words when the next character is a space.
  const space = /\s/.test(chars[max]) ? cut.length : cut.search(/\s\S*$/);
  const head = space >= 0 && Array.from(cut.slice(0, space)).length >= max / 2 ? cut.slice(0, space) : cut;
  return `${head.replace(/[\s,;:，；：、]+$/, "")}…`;
}

/** A title as a file name. */
export function safeName(title: string): string {
  // " - " in a title is one dash in the name, not three.
  return firstLine(title).replace(/[\\/:*?"<>|\s-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "report";
}

export function joinPath(dir: string, name: string): string {
  const sep = dir.includes("\\") && !dir.includes("/") ? "\\" : "/";
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

export function withExtension(path: string, ext: string): string {
  return path.replace(/\.(pdf|docx|html|md|json)$/i, "") + "." + ext;
}

/** Excel's column letters: 0 → A, 25 → Z, 26 → AA, 16383 → XFD. */
export function columnName(n: number): string {
  let s = "";
  for (let k = n + 1; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(65 + ((k - 1) % 26)) + s;
  return s;
}

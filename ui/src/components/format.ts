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

/** A title as a file name. */
export function safeName(title: string): string {
  // " - " in a title is one dash in the name, not three.
  return title.replace(/[\\/:*?"<>|\s-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "report";
}

export function joinPath(dir: string, name: string): string {
  const sep = dir.includes("\\") && !dir.includes("/") ? "\\" : "/";
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

export function withExtension(path: string, ext: string): string {
  return path.replace(/\.(pdf|html|md|json)$/i, "") + "." + ext;
}

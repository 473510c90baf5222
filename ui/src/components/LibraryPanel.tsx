import { open } from "@tauri-apps/plugin-dialog";
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { t } from "../i18n";
import { lang, libraryCollections, libraryFolders, refreshLibrary } from "../state";
import type { LibraryFile, ScanProgress, ScanReport } from "../types";

/** Settings' library: folders added and read with progress (files, pages, time) and a Stop,
 *  read again, removed; each folder's files with what was refused and why. */
export function LibraryPanel() {
  const l = lang.value;
  const [progress, setProgress] = useState<ScanProgress | null>(null);
  const [report, setReport] = useState<ScanReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [files, setFiles] = useState<{ id: number; list: LibraryFile[] } | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [collectionName, setCollectionName] = useState("");
  useEffect(() => void refreshLibrary().catch((e) => setError(errorText(e))), []);

  const run = async (work: (on: (p: ScanProgress) => void) => Promise<ScanReport>) => {
    setError(null);
    setReport(null);
    setProgress({ folder_id: 0, done: 0, total: 0, file: "", pages: 0, ms: 0 });
    try {
      setReport(await work(setProgress));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setProgress(null);
      await refreshLibrary().catch(() => undefined);
    }
  };
  const add = async () => {
    const chosen = await open({ directory: true });
    if (typeof chosen === "string") await run((on) => api.addLibraryFolder(chosen, on));
  };
  const showFiles = async (id: number) => {
    setPicked(new Set());
    if (files?.id === id) return setFiles(null);
    setFiles({ id, list: await api.libraryFiles(id) });
  };
  const toggle = (path: string, on: boolean) => {
    const next = new Set(picked);
    if (on) next.add(path);
    else next.delete(path);
    setPicked(next);
  };
  const collect = async () => {
    setError(null);
    if (picked.size === 0) return setError(t(l, "library.pickFiles"));
    try {
      await api.addToLibraryCollection(collectionName, [...picked]);
      setPicked(new Set());
      await refreshLibrary();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const act = (work: Promise<unknown>) => void work.then(() => refreshLibrary()).catch((e) => setError(errorText(e)));
  const busy = progress !== null;
  return (
    <div id="library-settings">
      <h2>{t(l, "library.title")}</h2>
      <p class="inline-help">{t(l, "library.help")}</p>
      <div class="row">
        <button id="library-add" class="primary" disabled={busy} onClick={() => void add()}>
          {t(l, "library.add")}
        </button>
        {busy && (
          <>
            <span class="muted" id="library-progress">
              {t(l, "library.progress", { done: progress.done, total: progress.total, pages: progress.pages, s: (progress.ms / 1000).toFixed(1) })} {progress.file}
            </span>
            <button id="library-stop" onClick={() => void api.stopLibraryScan()}>
              {t(l, "library.stop")}
            </button>
          </>
        )}
      </div>
      {report && (
        <p class="ok" id="library-report">
          {t(l, "library.report", { added: report.added, updated: report.updated, unchanged: report.unchanged, refused: report.refused, missing: report.missing })}
          {report.notes.length > 0 && ` · ${report.notes.join(" · ")}`}
        </p>
      )}
      {error && (
        <p class="error" id="library-error">
          {error}
        </p>
      )}
      {libraryFolders.value.length === 0 && <p class="muted">{t(l, "library.empty")}</p>}
      <ul class="library-folders" id="library-folders">
        {libraryFolders.value.map((f) => (
          <li key={f.id} data-folder={f.id} data-status={f.status}>
            <strong>{f.path}</strong>
            <div class="muted">
              {t(l, "library.folder", { files: f.files, indexed: f.indexed, refused: f.refused, pages: f.pages, parts: f.parts })}
              {f.status === "missing" && <span class="warning"> · {t(l, "library.missing")}</span>}
            </div>
            <div class="row">
              <button class="library-files" onClick={() => void showFiles(f.id)}>
                {t(l, "library.files")}
              </button>
              <button class="library-reindex" disabled={busy} onClick={() => void run((on) => api.reindexLibraryFolder(f.id, on))}>
                {t(l, "library.reindex")}
              </button>
              <button
                class="library-remove"
                disabled={busy}
                onClick={() => void api.removeLibraryFolder(f.id).then(() => refreshLibrary()).catch((e) => setError(errorText(e)))}
              >
                {t(l, "library.remove")}
              </button>
            </div>
            {files?.id === f.id && (
              <ul class="library-file-list">
                {files.list.map((x) => (
                  <li key={x.id} data-status={x.status}>
                    {x.status === "indexed" && (
                      <input type="checkbox" class="library-pick" aria-label={x.file_name} checked={picked.has(x.path)} onChange={(e) => toggle(x.path, (e.target as HTMLInputElement).checked)} />
                    )}
                    <code>{x.path}</code> · {x.status}
                    {x.pages !== null && ` · ${x.pages} p.`}
                    {x.error && <div class="inline-help warning">{x.error}</div>}
                    {x.notes.map((n) => (
                      <div key={n} class="muted">
                        {n}
                      </div>
                    ))}
                  </li>
                ))}
              </ul>
            )}
            {files?.id === f.id && (
              <div class="row library-collect">
                <input
                  id="collection-name"
                  list="collection-names"
                  placeholder={t(l, "library.collectionName")}
                  value={collectionName}
                  onInput={(e) => setCollectionName((e.target as HTMLInputElement).value)}
                />
                <datalist id="collection-names">
                  {libraryCollections.value.map((c) => (
                    <option key={c.id} value={c.name} />
                  ))}
                </datalist>
                <button id="collection-add" disabled={!collectionName.trim()} onClick={() => void collect()}>
                  {t(l, "library.addToCollection")} ({picked.size})
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      <h3>{t(l, "library.collections")}</h3>
      <p class="inline-help">{t(l, "library.collectionsHelp")}</p>
      {libraryCollections.value.length === 0 && <p class="muted">{t(l, "library.noCollections")}</p>}
      <ul class="library-collections" id="library-collections">
        {libraryCollections.value.map((c) => (
          <li key={c.id} data-collection={c.id}>
            <strong>{c.name}</strong> <span class="muted">({t(l, "library.collectionFiles", { n: c.files.length })})</span>{" "}
            <button class="link collection-delete" onClick={() => act(api.deleteLibraryCollection(c.id))}>
              {t(l, "library.deleteCollection")}
            </button>
            <ul>
              {c.files.map((m) => (
                <li key={m.path} data-status={m.status}>
                  <code>{m.path}</code>
                  {m.status !== "indexed" && <span class="warning"> · {m.status}</span>}{" "}
                  <button class="link collection-take-out" onClick={() => act(api.removeFromLibraryCollection(c.id, [m.path]))}>
                    {t(l, "library.takeOut")}
                  </button>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </div>
  );
}

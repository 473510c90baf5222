import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useEffect, useRef } from "preact/hooks";
import { attach, attachPasted, DOCUMENT_EXTENSIONS, readingAny } from "../attach";
import { t } from "../i18n";
import { askLibrary, draft, info, isStreaming, lang, libraryCollections, libraryFolders, libraryScope, live, refreshLibrary, send, stop } from "../state";
import { PendingChips } from "./Attachments";

export function Composer() {
  const l = lang.value;
  const streaming = live.value?.status === "streaming";
  const noModel = !info.value?.model;
  // A new chat (Ctrl+N) and the chat that replaces it after the first question take the keys.
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => box.current?.focus(), []);
  useEffect(() => void refreshLibrary().catch(() => undefined), []);
  const folders = libraryFolders.value;
  const pages = folders.reduce((n, f) => n + f.pages, 0);
  const reading = readingAny();
  const submit = () => {
    const q = draft.value.trim();
    if (!q || isStreaming() || noModel || readingAny()) return;
    void send({ kind: "ask", question: q });
  };
  const pick = async () => {
    const chosen = await openDialog({ multiple: true, filters: [{ name: "PDF, Excel, CSV, Word", extensions: DOCUMENT_EXTENSIONS }] });
    if (chosen) attach(Array.isArray(chosen) ? chosen : [chosen]);
  };
  return (
    <div class="composer-wrap">
      <PendingChips />
      {reading && <div class="muted composer-note">{t(l, "attach.wait")}</div>}
      {folders.length > 0 && (
        <label class="check ask-library" title={t(l, "library.help")}>
          <input id="ask-library" type="checkbox" checked={askLibrary.value} onChange={(e) => (askLibrary.value = (e.target as HTMLInputElement).checked)} />
          <span>
            {t(l, "library.ask")} <span class="muted">({t(l, "library.askHelp", { folders: folders.length, pages })})</span>
          </span>
        </label>
      )}
      {folders.length > 0 && askLibrary.value && (folders.length > 1 || libraryCollections.value.length > 0) && <ScopePicker />}
    <div class="composer">
      <button class="attach" id="attach" title={t(l, "attach.button")} aria-label={t(l, "attach.button")} disabled={noModel} onClick={() => void pick()}>
        📎
      </button>
      <textarea
        ref={box}
        id="composer"
        rows={3}
        placeholder={t(l, "composer.placeholder")}
        value={draft.value}
        disabled={noModel}
        onInput={(e) => (draft.value = (e.target as HTMLTextAreaElement).value)}
        onPaste={(e) => {
          // A file copied in the file manager arrives as a File: attached, not pasted as text.
          const files = Array.from(e.clipboardData?.files ?? []);
          if (files.length > 0) {
            e.preventDefault();
            void attachPasted(files);
          }
        }}
        onKeyDown={(e) => {
          // An IME composing Chinese uses Enter to pick characters: not a send.
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      {streaming ? (
        <button class="stop" id="stop" onClick={() => void stop()}>
          ■ {t(l, "composer.stop")}
        </button>
      ) : (
        <button class="primary" id="send" disabled={noModel || !draft.value.trim() || reading} onClick={submit}>
          {t(l, "composer.send")}
        </button>
      )}
    </div>
    </div>
  );
}

/** Which of the library the next questions are asked of: all of it, one folder, one collection. */
function ScopePicker() {
  const l = lang.value;
  const { folder, collection } = libraryScope.value;
  const value = collection !== null ? `c${collection}` : folder !== null ? `f${folder}` : "all";
  const choose = (v: string) => {
    const id = Number(v.slice(1));
    libraryScope.value = v.startsWith("c") ? { folder: null, collection: id } : v.startsWith("f") ? { folder: id, collection: null } : { folder: null, collection: null };
  };
  const base = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;
  return (
    <label class="library-scope">
      <span class="muted">{t(l, "library.scope")}</span>
      <select id="library-scope" value={value} onChange={(e) => choose((e.target as HTMLSelectElement).value)}>
        <option value="all">{t(l, "library.scopeAll")}</option>
        {libraryFolders.value.length > 1 &&
          libraryFolders.value.map((f) => (
            <option key={`f${f.id}`} value={`f${f.id}`} title={f.path}>
              📁 {base(f.path)}
            </option>
          ))}
        {libraryCollections.value.map((c) => (
          <option key={`c${c.id}`} value={`c${c.id}`}>
            ▦ {c.name} ({t(l, "library.collectionFiles", { n: c.files.length })})
          </option>
        ))}
      </select>
    </label>
  );
}

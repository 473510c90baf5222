import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { detach, pending, showPreview, viewing, type Pending } from "../attach";
import { t } from "../i18n";
import { lang } from "../state";
import { size } from "./format";

/** The files going with the next question, over the composer. */
export function PendingChips() {
  const l = lang.value;
  if (pending.value.length === 0) return null;
  return (
    <div class="pending-docs" id="pending-docs">
      {pending.value.map((p) => (
        <PendingChip key={p.path} p={p} l={l} />
      ))}
    </div>
  );
}

function PendingChip({ p, l }: { p: Pending; l: "zh" | "en" }) {
  const d = p.preview;
  const what =
    p.status === "reading"
      ? p.progress && p.progress.total > 0
        ? t(l, "attach.readingPages", { done: String(p.progress.done), total: String(p.progress.total) })
        : t(l, "attach.reading")
      : p.status === "error"
        ? p.error ?? ""
        : d
          ? [d.kind.toUpperCase(), d.pages === 1 ? t(l, "attach.page") : d.pages ? t(l, "attach.pages", { n: String(d.pages) }) : null, size(d.size), t(l, "attach.tokens", { n: String(d.tokens) })]
              .filter(Boolean)
              .join(" · ")
          : "";
  return (
    <span class={`chip pending-doc ${p.status}`} data-path={p.path} title={d ? [`SHA-256 ${d.sha256}`, ...d.notes].join("\n") : p.error ?? ""}>
      <button
        class="doc-open"
        disabled={!d}
        onClick={() => d && showPreview(d)}
        title={d ? t(l, "attach.view") : undefined}
      >
        📎 {p.name}
      </button>
      <span class="doc-what">{what}</span>
      {d && d.notes.length > 0 && <span class="doc-note">⚠ {d.notes.join("; ")}</span>}
      <button class="doc-remove" aria-label={p.status === "reading" ? t(l, "attach.cancel") : t(l, "attach.remove")} title={p.status === "reading" ? t(l, "attach.cancel") : t(l, "attach.remove")} onClick={() => detach(p.path)}>
        ×
      </button>
    </span>
  );
}

/** What the model saw of a document: its tables rendered by the one Markdown renderer. */
export function DocumentViewer() {
  const l = lang.value;
  const v = viewing.value;
  const [html, setHtml] = useState<string | null>(null);
  const [whole, setWhole] = useState(false);
  useEffect(() => setWhole(false), [v]);
  const shown = v ? (whole && v.whole ? v.whole : v.markdown) : "";
  useEffect(() => {
    setHtml(null);
    if (v) void api.render(shown).then(setHtml, () => setHtml(null));
  }, [v, shown]);
  useEffect(() => {
    const esc = (e: KeyboardEvent) => e.key === "Escape" && (viewing.value = null);
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, []);
  if (!v) return null;
  return (
    <div class="modal-back" onClick={() => (viewing.value = null)}>
      <div class="modal document-view" id="document-view" role="dialog" aria-label={v.title} onClick={(e) => e.stopPropagation()}>
        <header>
          <h2>📎 {v.title}</h2>
          <button class="close" aria-label={t(l, "attach.close")} onClick={() => (viewing.value = null)}>
            ×
          </button>
        </header>
        <p class="muted">{v.summary && !whole ? t(l, "attach.inPrompt", { summary: v.summary }) : t(l, "attach.asRead")}</p>
        {v.whole && (
          <button class="link" id="document-whole" onClick={() => setWhole(!whole)}>
            {whole ? t(l, "attach.showIncluded") : t(l, "attach.showWhole")}
          </button>
        )}
        {v.notes.length > 0 && (
          <ul class="doc-notes">
            {v.notes.map((n) => (
              <li key={n}>⚠ {n}</li>
            ))}
          </ul>
        )}
        {html === null ? <pre class="doc-text">{shown}</pre> : <div class="markdown doc-text" dangerouslySetInnerHTML={{ __html: html }} />}
      </div>
    </div>
  );
}

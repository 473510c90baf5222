import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import type { OriginalOf, OriginalView, SheetGrid } from "../bindings";
import { detach, pending, showPreview, viewing, type Pending } from "../attach";
import { t } from "../i18n";
import { lang } from "../state";
import { columnName, size } from "./format";
import { CheckWarning, drawable, PdfPages } from "./PageView";

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
  const [tab, setTab] = useState<"read" | "original">("read");
  useEffect(() => {
    setWhole(false);
    setTab("read");
  }, [v]);
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
        {v.original && (
          <div class="tabs doc-tabs" role="tablist">
            <button role="tab" id="doc-tab-read" aria-selected={tab === "read"} class={tab === "read" ? "active" : ""} onClick={() => setTab("read")}>
              {t(l, "attach.tabRead")}
            </button>
            <button role="tab" id="doc-tab-original" aria-selected={tab === "original"} class={tab === "original" ? "active" : ""} onClick={() => setTab("original")}>
              {t(l, "attach.tabOriginal")}
            </button>
          </div>
        )}
        {tab === "original" && v.original ? (
          <Original of={v.original} />
        ) : (
          <ReadView v={v} html={html} shown={shown} whole={whole} setWhole={setWhole} />
        )}
      </div>
    </div>
  );
}

function ReadView({
  v,
  html,
  shown,
  whole,
  setWhole,
}: {
  v: NonNullable<typeof viewing.value>;
  html: string | null;
  shown: string;
  whole: boolean;
  setWhole: (w: boolean) => void;
}) {
  const l = lang.value;
  return (
    <>
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
    </>
  );
}

/** The file as it is: a PDF's pages drawn, a workbook's sheets as laid out in cells. */
function Original({ of }: { of: OriginalOf }) {
  const l = lang.value;
  const [view, setView] = useState<OriginalView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sheet, setSheet] = useState(0);
  useEffect(() => {
    let gone = false;
    setView(null);
    setError(null);
    setSheet(0);
    api.documentOriginal(of).then(
      (o) => !gone && setView(o),
      (e) => !gone && setError(errorText(e, l)),
    );
    return () => {
      gone = true;
    };
  }, [of]);
  if (error) return <p class="page-warn">⚠ {error}</p>;
  if (!view) return <p class="muted">{t(l, "page.opening")}</p>;
  if (view.pdf) {
    return (
      <div class="doc-original" id="doc-original">
        <p class="muted">{t(l, "attach.originalPdf")}</p>
        <CheckWarning check={view.pdf} />
        {drawable(view.pdf) && <PdfPages key={JSON.stringify(of)} load={() => api.documentPdf(of)} cited={1} passage={null} ocr={false} />}
      </div>
    );
  }
  if (view.sheets.length === 0) return <p class="muted">{t(l, "attach.originalNone")}</p>;
  const g = view.sheets[Math.min(sheet, view.sheets.length - 1)];
  return (
    <div class="doc-original" id="doc-original">
      <p class="muted">{t(l, "attach.originalSheet")}</p>
      {view.sheets.length > 1 && (
        <div class="sheet-tabs">
          {view.sheets.map((s, i) => (
            <button key={s.name} class={`link${i === sheet ? " active" : ""}`} onClick={() => setSheet(i)}>
              {s.name}
              {s.hidden ? ` (${t(l, "attach.sheetHidden")})` : ""}
            </button>
          ))}
        </div>
      )}
      {g.hidden && <p class="page-note">⚠ {t(l, "attach.sheetHiddenNote")}</p>}
      <Grid g={g} />
      {(g.rows_past > 0 || g.columns_past > 0) && <p class="muted">{t(l, "attach.gridPast", { rows: g.rows_past, columns: g.columns_past })}</p>}
      {g.cells_cut > 0 && <p class="muted">{t(l, "attach.gridCut", { n: g.cells_cut })}</p>}
    </div>
  );
}

const FIGURE = /^[-+(]?[$¥€£]?[\d,.]+%?\)?$/;

function Grid({ g }: { g: SheetGrid }) {
  const width = g.rows.reduce((w, r) => Math.max(w, r.length), 0);
  if (g.rows.length === 0) return <p class="muted">{t(lang.value, "attach.sheetEmpty")}</p>;
  return (
    <div class="sheet-grid-wrap">
      <table class="sheet-grid" id="sheet-grid" data-sheet={g.name}>
        <thead>
          <tr>
            <th />
            {Array.from({ length: width }, (_, c) => (
              <th key={c}>{columnName(g.left + c)}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {g.rows.map((row, r) => (
            <tr key={r}>
              <th>{g.top + r}</th>
              {row.map((cell, c) => (
                <td key={c} title={`${columnName(g.left + c)}${g.top + r}`} class={FIGURE.test(cell.trim()) ? "num" : undefined}>
                  {cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

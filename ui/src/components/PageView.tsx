// A cited source opened where it was read: a PDF drawn as its page (pdf.js, in the window) with
// the passage marked; a sheet or a document shown as the passage read, its tables as tables.
// Only files an answer cited can be opened (the shell looks the path up by answer and number).

import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../api";
import type { AnswerSource, SourceCheck } from "../bindings";
import { t } from "../i18n";
import { markedItems } from "../pageMark";
import { lang } from "../state";

/** The source on show, or none. */
export const citedSource = signal<AnswerSource | null>(null);

export function openSource(s: AnswerSource) {
  citedSource.value = s;
}

// pdf.js reads a page's text with `for await` over a ReadableStream, which WebKitGTK (2.50)
// and older macOS WebKit cannot iterate: the reader's loop, where it is missing.
function iterableStreams() {
  const proto = ReadableStream.prototype as unknown as Record<symbol, unknown>;
  if (typeof proto[Symbol.asyncIterator] === "function") return;
  proto[Symbol.asyncIterator] = async function* (this: ReadableStream<unknown>) {
    const reader = this.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  };
}

// pdf.js is loaded the first time a page is drawn, not with the window.
type PdfJs = typeof import("pdfjs-dist");
let pdfjs: Promise<PdfJs> | null = null;
function loadPdfJs(): Promise<PdfJs> {
  iterableStreams();
  pdfjs ??= Promise.all([import("pdfjs-dist"), import("pdfjs-dist/build/pdf.worker.min.mjs?url")]).then(([lib, worker]) => {
    lib.GlobalWorkerOptions.workerSrc = worker.default;
    return lib;
  });
  return pdfjs;
}

type Doc = Awaited<ReturnType<PdfJs["getDocument"]>["promise"]>;

/** A drawn page's pixels, at most (about a 300 dpi A4 page). */
const MAX_PIXELS = 8_000_000;

/** Where pdf.js finds its data (copied beside the bundle by vite.config.ts). */
function pdfjsData() {
  const at = (dir: string) => new URL(`/pdfjs/${dir}/`, window.location.href).href;
  return { cMapUrl: at("cmaps"), cMapPacked: true, standardFontDataUrl: at("standard_fonts"), wasmUrl: at("wasm"), iccUrl: at("iccs") };
}

export function PageView() {
  const l = lang.value;
  const s = citedSource.value;
  // Each answer tied to the source it is of: a switch shows nothing of the last one's.
  const [checked, setCheck] = useState<{ of: AnswerSource; c: SourceCheck } | null>(null);
  const check = checked && checked.of === s ? checked.c : null;
  const [error, setError] = useState<string | null>(null);
  const [html, setHtml] = useState<string | null>(null);
  const close = () => (citedSource.value = null);

  useEffect(() => {
    setCheck(null);
    setError(null);
    setHtml(null);
    if (!s) return;
    let gone = false;
    void (async () => {
      try {
        const c = await api.checkSource(s.message_id, s.n);
        if (gone) return;
        setCheck({ of: s, c });
        if (!drawable(c)) setHtml(await api.render(s.text));
      } catch (e) {
        if (!gone) setError(errorText(e, l));
      }
    })();
    return () => {
      gone = true;
    };
  }, [s]);

  useEffect(() => {
    const esc = (e: KeyboardEvent) => e.key === "Escape" && close();
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, []);
  if (!s) return null;
  return (
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && close()}>
      <div class="modal page-view" id="page-view" role="dialog" aria-label={s.label}>
        <header>
          <h2>
            [{s.n}] {s.label}
          </h2>
          <button class="close" aria-label={t(l, "attach.close")} onClick={close}>
            ×
          </button>
        </header>
        <div class="muted page-path">
          {s.path} · SHA-256 {s.sha256.slice(0, 12)}…
        </div>
        {check && <CheckWarning check={check} />}
        {error && <p class="page-warn">⚠ {error}</p>}
        {check && drawable(check) && (
          <PdfPages key={`${s.message_id}:${s.n}`} load={() => api.sourcePdf(s.message_id, s.n)} cited={s.page ?? 1} passage={s.text} ocr={check.ocr} />
        )}
        {!check && !error && <p class="muted">{t(l, "page.opening")}</p>}
        {html !== null && <div class="markdown doc-text page-passage" dangerouslySetInnerHTML={{ __html: html }} />}
      </div>
    </div>
  );
}

/** A file still there to draw as its pages. */
export function drawable(c: SourceCheck): boolean {
  return c.paged && c.state !== "missing" && c.state !== "too_big" && c.state !== "unreadable";
}

/** What became of the file since it was read, said above its pages. */
export function CheckWarning({ check }: { check: SourceCheck }) {
  const l = lang.value;
  if (check.state === "changed") return <p class="page-warn">⚠ {t(l, "page.changed")}</p>;
  if (check.state === "missing") return <p class="page-warn">⚠ {t(l, "page.missing")}</p>;
  if (check.state === "too_big") return <p class="page-warn">⚠ {t(l, "page.tooBig")}</p>;
  if (check.state === "unreadable") return <p class="page-warn">⚠ {t(l, "page.unreadable", { why: check.why ?? "" })}</p>;
  return null;
}

/** A PDF drawn a page at a time (pdf.js), opening at `cited`; on that page `passage`, when
 *  given, is marked. Keyed by its parent: a new file is a new component. */
export function PdfPages({ load, cited, passage, ocr }: { load: () => Promise<ArrayBuffer>; cited: number; passage: string | null; ocr: boolean }) {
  const l = lang.value;
  const [doc, setDoc] = useState<Doc | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [page, setPage] = useState(cited);
  const [found, setFound] = useState<number | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const marks = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let gone = false;
    let task: { promise: Promise<Doc>; destroy(): Promise<void> } | null = null;
    void (async () => {
      try {
        const [lib, bytes] = await Promise.all([loadPdfJs(), load()]);
        if (gone) return;
        task = lib.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, ...pdfjsData() });
        const opened = await task.promise;
        if (gone) return;
        setDoc(opened);
        // A cited page past the end of a file that changed: its last page.
        setPage((p) => Math.min(Math.max(p, 1), opened.numPages));
      } catch (e) {
        if (!gone) setError(errorText(e, l));
      }
    })();
    return () => {
      gone = true;
      setDoc(null);
      // Destroys the worker too, also when the file was refused or is still being parsed.
      void task?.destroy();
    };
  }, []);

  // The page drawn to the dialog's width, and on the cited page the passage marked.
  useEffect(() => {
    if (!doc || !canvas.current || !marks.current) return;
    let task: { cancel(): void; promise: Promise<unknown> } | null = null;
    let gone = false;
    setError(null);
    void (async () => {
      try {
        const p = await doc.getPage(Math.min(Math.max(page, 1), doc.numPages));
        const width = Math.min(900, window.innerWidth * 0.9) - 40;
        const natural = p.getViewport({ scale: 1 });
        // A page of any shape fits the dialog's width and a bounded canvas (a hostile file may
        // claim a page a mile long).
        const scale = Math.min(width / natural.width, Math.sqrt(MAX_PIXELS / Math.max(1, natural.width * natural.height)));
        const viewport = p.getViewport({ scale });
        const ratio = Math.min(window.devicePixelRatio || 1, Math.sqrt(MAX_PIXELS / Math.max(1, viewport.width * viewport.height)));
        const c = canvas.current!;
        c.width = Math.floor(viewport.width * ratio);
        c.height = Math.floor(viewport.height * ratio);
        c.style.width = `${viewport.width}px`;
        c.style.height = `${viewport.height}px`;
        task = p.render({ canvas: c, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] });
        await task.promise;
        if (gone) return;
        const layer = marks.current!;
        layer.replaceChildren();
        layer.style.width = `${viewport.width}px`;
        layer.style.height = `${viewport.height}px`;
        if (passage === null || page !== cited) return setFound(null);
        const content = await p.getTextContent();
        const items = content.items.filter((i): i is (typeof content.items)[number] & { str: string; transform: number[]; width: number; height: number } => "str" in i);
        const hit = markedItems(
          items.map((i) => i.str),
          passage,
        );
        const lib = await loadPdfJs();
        for (const k of hit) {
          const item = items[k];
          const tx = lib.Util.transform(viewport.transform, item.transform);
          const h = Math.hypot(tx[2], tx[3]);
          const box = document.createElement("div");
          box.className = "page-mark";
          box.style.left = `${tx[4]}px`;
          box.style.top = `${tx[5] - h}px`;
          box.style.width = `${item.width * viewport.scale}px`;
          box.style.height = `${h * 1.15}px`;
          layer.append(box);
        }
        setFound(hit.length);
        layer.querySelector(".page-mark")?.scrollIntoView({ block: "center" });
      } catch (e) {
        if (!gone && (e as { name?: string })?.name !== "RenderingCancelledException") setError(errorText(e, l));
      }
    })();
    return () => {
      gone = true;
      task?.cancel();
    };
  }, [doc, page]);

  return (
    <>
      {ocr && page === cited && <p class="page-note">{t(l, "page.ocr")}</p>}
      {!ocr && found === 0 && page === cited && <p class="page-note">{t(l, "page.notFound")}</p>}
      {error && <p class="page-warn">⚠ {error}</p>}
      {doc && (
        <div class="page-nav">
          <button class="link" id="page-prev" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            ‹ {t(l, "page.prev")}
          </button>
          <span id="page-number">{t(l, "page.of", { p: page, n: doc.numPages })}</span>
          <button class="link" id="page-next" disabled={page >= doc.numPages} onClick={() => setPage(page + 1)}>
            {t(l, "page.next")} ›
          </button>
          {passage !== null && page !== cited && (
            <button class="link" id="page-cited" onClick={() => setPage(cited)}>
              {t(l, "page.back", { p: cited })}
            </button>
          )}
        </div>
      )}
      <div class="page-sheet">
        <canvas ref={canvas} />
        <div class="page-marks" ref={marks} />
      </div>
      {!doc && !error && <p class="muted">{t(l, "page.opening")}</p>}
    </>
  );
}

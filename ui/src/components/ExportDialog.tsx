import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { save } from "@tauri-apps/plugin-dialog";
import { api, errorText } from "../api";
import { t, type Key } from "../i18n";
import { info, lang } from "../state";
import type { ConversationView, ExportFormat, Message, ReasoningMode } from "../types";
import { firstLine, joinPath, safeName, withExtension } from "./format";

const FORMATS: ExportFormat[] = ["pdf", "docx", "html", "md", "json"];

/** One answer's checkbox: ticked goes into the report. */
function Pick({ name, id, on, toggle, children }: { name: string; id: number; on: boolean; toggle: (id: number, on: boolean) => void; children: ComponentChildren }) {
  return (
    <label class="check">
      <input type="checkbox" name={name} value={String(id)} checked={on} onChange={(e) => toggle(id, (e.target as HTMLInputElement).checked)} />
      <span>{children}</span>
    </label>
  );
}

/** Export a conversation: format, reasoning, which answers, title, and where. */
export function ExportDialog({ view, onClose }: { view: ConversationView; onClose: () => void }) {
  const l = lang.value;
  const byId = new Map(view.messages.map((m) => [m.id, m]));
  const answers = view.active_path.map((id) => byId.get(id)).filter((m): m is Message => m?.role === "assistant");
  const [title, setTitle] = useState(firstLine(view.conversation.title));
  const [format, setFormat] = useState<ExportFormat>("pdf");
  // As `fin-r1 export` does: the chain in full (an audit reads how the answer was reached).
  const [reasoning, setReasoning] = useState<ReasoningMode>("full");
  const [chosen, setChosen] = useState<Set<number>>(new Set(answers.map((a) => a.id)));
  // Every version of each question on show (its edits, its regenerated answers), oldest first.
  const versionsOf = (a: Message): Message[] => {
    const q = a.parent_id !== null ? byId.get(a.parent_id) : undefined;
    if (!q) return [a];
    const edits = new Set(view.messages.filter((m) => m.role === "user" && m.parent_id === q.parent_id).map((m) => m.id));
    return view.messages.filter((m) => m.role === "assistant" && m.parent_id !== null && edits.has(m.parent_id)).sort((x, y) => x.id - y.id);
  };
  const onShow = chosen.size === answers.length && answers.every((a) => chosen.has(a.id));
  const toggle = (id: number, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  };
  const dir = info.value?.documents_dir ?? info.value?.data_dir ?? "";
  const [path, setPath] = useState(joinPath(dir, `${safeName(view.conversation.title)}.pdf`));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  // What "Open" did: the system's viewer took the file, or nothing could open it.
  const [opening, setOpening] = useState<{ ok: boolean; text: string } | null>(null);
  const questionOf = (a: Message) => {
    const q = a.parent_id !== null ? byId.get(a.parent_id) : undefined;
    const text = q?.form?.question ?? q?.content ?? "";
    return text.length > 70 ? text.slice(0, 70) + "…" : text;
  };
  const pickFormat = (f: ExportFormat) => {
    setFormat(f);
    setPath((p) => withExtension(p, f));
    // "Saved to …" spoke of the other format's file.
    setResult(null);
    setOpening(null);
  };
  const choose = async () => {
    const p = await save({ defaultPath: path, filters: [{ name: format.toUpperCase(), extensions: [format] }] });
    if (typeof p === "string") setPath(withExtension(p, format));
  };
  const run = async () => {
    setBusy(true);
    setResult(null);
    setOpening(null);
    try {
      const written = await api.exportConversation({
        conversation_id: view.conversation.id,
        format,
        reasoning,
        messages: format === "json" || onShow ? null : [...chosen],
        title: title.trim() && title.trim() !== firstLine(view.conversation.title) ? title.trim() : null,
        path: path.trim(),
      });
      setResult({ ok: true, text: written });
    } catch (e) {
      setResult({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  const whole = format === "json";
  return (
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" id="export-dialog" role="dialog" aria-labelledby="export-heading">
        <h2 id="export-heading">{t(l, "export.heading")}</h2>
        <label class="field wide">
          <span>{t(l, "export.title")}</span>
          <input id="export-title" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} disabled={whole} />
        </label>
        <fieldset>
          <legend>{t(l, "export.format")}</legend>
          {FORMATS.map((f) => (
            <label class="radio" key={f}>
              <input type="radio" name="export-format" value={f} checked={format === f} onChange={() => pickFormat(f)} />
              {t(l, `export.${f}` as Key)}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={whole}>
          <legend>{t(l, "export.reasoning")}</legend>
          {(["full", "collapsed", "none"] as const).map((r) => (
            <label class="radio" key={r}>
              <input type="radio" name="export-reasoning" value={r} checked={reasoning === r} onChange={() => setReasoning(r)} />
              {t(l, `export.reasoning.${r}` as Key)}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={whole}>
          <legend>{t(l, "export.messages")}</legend>
          <div class="export-messages">
            {answers.map((a, i) => {
              const versions = versionsOf(a);
              return (
                <div key={a.id} class="export-turn">
                  <Pick name="export-message" id={a.id} on={chosen.has(a.id)} toggle={toggle}>
                    {i + 1}. {questionOf(a)}
                    {versions.length > 1 && <span class="muted"> · {t(l, "export.versionShown", { i: versions.findIndex((v) => v.id === a.id) + 1, n: versions.length })}</span>}
                  </Pick>
                  {/* The other versions of an edited or regenerated question, to put beside it. */}
                  {versions.length > 1 && (
                    <div class="export-versions">
                      {versions.map((v, k) =>
                        v.id === a.id ? null : (
                          <Pick key={v.id} name="export-version" id={v.id} on={chosen.has(v.id)} toggle={toggle}>
                            {t(l, "export.version", { i: k + 1, n: versions.length })}: {questionOf(v)}
                          </Pick>
                        ),
                      )}
                    </div>
                  )}
                </div>
              );
            })}
          </div>
          {whole && <p class="inline-help">{t(l, "export.jsonHelp")}</p>}
        </fieldset>
        <div class="form-row">
          <label class="field wide">
            <span>{t(l, "export.file")}</span>
            <input id="export-path" value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
          </label>
          <button onClick={() => void choose()}>{t(l, "settings.choose")}</button>
        </div>
        {result && (
          <p class={result.ok ? "ok" : "error"} id="export-result" role="status">
            {result.ok ? t(l, "export.done", { path: result.text }) : result.text}{" "}
            {result.ok && (
              <button
                class="link"
                id="export-open"
                onClick={() => {
                  setOpening({ ok: true, text: t(l, "export.opening") });
                  api.openReport(result.text).then(
                    () => setOpening({ ok: true, text: t(l, "export.opened") }),
                    (e) => setOpening({ ok: false, text: errorText(e) }),
                  );
                }}
              >
                {t(l, "export.open")}
              </button>
            )}
          </p>
        )}
        {result?.ok && opening && (
          <p class={opening.ok ? "muted small" : "error"} id="export-open-result" role="status">
            {opening.text}
          </p>
        )}
        <div class="modal-actions">
          <button onClick={onClose}>{t(l, "export.close")}</button>
          <button class="primary" id="export-go" disabled={busy || !path.trim() || (!whole && chosen.size === 0)} onClick={() => void run()}>
            {busy ? t(l, "export.working") : t(l, "export.go")}
          </button>
        </div>
      </div>
    </div>
  );
}

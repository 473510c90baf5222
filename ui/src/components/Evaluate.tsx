import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { open, save } from "@tauri-apps/plugin-dialog";
import { api, errorText } from "../api";
import { t, type Key } from "../i18n";
import { info, lang } from "../state";
import type { Bench, EvalKeys, EvalRequest, ItemReview, JudgeMode, RunDetail, RunSummary } from "../types";
import { eta, withExtension } from "./format";
import { byCategory, evalRequest, exportTarget, progressLine, resumeRequest, type EvalForm, type ExportTarget } from "./evalView";

const BENCHES: Bench[] = ["convfinqa", "tatqa", "tfns", "fin-eva", "fineval", "jsonl"];
const JUDGES: JudgeMode[] = ["rule", "llm", "llm-recall", "reasoning"];

/** The form, kept while the analyst looks at other pages. */
const form = signal<EvalForm>({
  bench: "convfinqa",
  data: "",
  limit: "50",
  maxTokens: "",
  temperature: "",
  engine: "current",
  remoteUrl: "",
  remoteModel: "Fin-R1",
  remoteKey: "",
  judge: "rule",
  judgeUrl: "",
  judgeModel: "Fin-R1",
  judgeKey: "",
  strict: false,
  seed: "",
});
/** Whether the shell keeps a key for the evaluated server and for the judge (never the keys). */
const keys = signal<EvalKeys>({ remote: false, judge: false });
/** Where the opened run's report is exported (see `exportTarget`). */
const exported = signal<ExportTarget | null>(null);
/** The run in progress. */
const running = signal<{ run: RunSummary | null; done: number; total: number; correct: number; tokens: number; seconds: number; elapsed: number } | null>(null);
const runs = signal<RunSummary[]>([]);
const opened = signal<RunDetail | null>(null);
const chosen = signal<string[]>([]);
const compared = signal<RunDetail[] | null>(null);
const message = signal<{ ok: boolean; text: string } | null>(null);

async function refresh() {
  runs.value = await api.evalRuns();
}

async function refreshKeys() {
  keys.value = await api.evalKeys();
}

async function openRun(id: string) {
  compared.value = null;
  try {
    opened.value = await api.evalRun(id);
  } catch (e) {
    message.value = { ok: false, text: errorText(e) };
  }
}

function set<K extends keyof typeof form.value>(k: K, v: (typeof form.value)[K]) {
  form.value = { ...form.value, [k]: v };
}

async function start(l: "zh" | "en", resume?: EvalRequest) {
  if (running.value) return;
  const r = resume ?? evalRequest(form.value);
  if (typeof r === "string") {
    message.value = { ok: false, text: t(l, r) };
    return;
  }
  // The keys go to the shell, which keeps them; the page does not hold on to them.
  if (form.value.remoteKey || form.value.judgeKey) form.value = { ...form.value, remoteKey: "", judgeKey: "" };
  message.value = null;
  running.value = { run: null, done: 0, total: 0, correct: 0, tokens: 0, seconds: 0, elapsed: 0 };
  try {
    const run = await api.evalStart(r, (e) => {
      const cur = running.value;
      if (!cur) return;
      if (e.type === "started") {
        running.value = { ...cur, run: e.run };
        void refresh();
      } else running.value = { ...cur, ...e.progress, seconds: e.progress.seconds ?? 0, elapsed: e.progress.elapsed ?? 0 };
    });
    message.value = { ok: true, text: t(l, "eval.finished", { id: run.id }) };
    await openRun(run.id);
  } catch (e) {
    message.value = { ok: false, text: errorText(e) };
  } finally {
    running.value = null;
    await refresh().catch(() => undefined);
    await refreshKeys().catch(() => undefined);
  }
}

export function Evaluate() {
  const l = lang.value;
  useEffect(() => {
    void refresh().catch((e) => (message.value = { ok: false, text: errorText(e) }));
    void refreshKeys().catch(() => undefined);
  }, []);
  return (
    <section class="page" id="evaluate-page">
      <header class="page-head">
        <h1>{t(l, "nav.evaluate")}</h1>
      </header>
      <p class="muted small">{t(l, "eval.intro")}</p>
      <EvalForm />
      <EvalProgress />
      {message.value && (
        <div class={`job ${message.value.ok ? "done" : "failed"}`} id="eval-message" role="status">
          <span class={message.value.ok ? "" : "error"}>{message.value.text}</span>
        </div>
      )}
      <h2>{t(l, "eval.runs")}</h2>
      <RunsTable />
      <AddRun />
      {compared.value ? <Compare details={compared.value} /> : opened.value && <RunView d={opened.value} />}
    </section>
  );
}

function EvalForm() {
  const l = lang.value;
  const f = form.value;
  const model = info.value?.model;
  const browse = async () => {
    const folder = f.bench === "fin-eva" || f.bench === "fineval";
    const p = await open({ directory: false, multiple: false, filters: folder ? [{ name: "CSV", extensions: ["csv"] }] : [{ name: "JSON", extensions: ["json", "jsonl", "csv"] }] });
    if (typeof p === "string") set("data", p);
  };
  /** A server's address, model name and API key: the one evaluated, or the judge. */
  const server = (
    id: string,
    url: "remoteUrl" | "judgeUrl",
    name: "remoteModel" | "judgeModel",
    key: "remoteKey" | "judgeKey",
    kept: boolean,
    urlLabel: Key,
    nameLabel: Key,
    keyLabel: Key,
    example: string,
  ) => (
    <>
      <label class="field">
        <span>{t(l, urlLabel)}</span>
        <input id={`${id}-url`} value={f[url]} placeholder={example} onInput={(e) => set(url, (e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t(l, nameLabel)}</span>
        <input id={`${id}-model`} value={f[name]} onInput={(e) => set(name, (e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t(l, keyLabel)}</span>
        <input
          id={`${id}-key`}
          type="password"
          autocomplete="off"
          value={f[key]}
          placeholder={kept ? t(l, "settings.keySet") : t(l, "settings.keyNone")}
          onInput={(e) => set(key, (e.target as HTMLInputElement).value)}
        />
      </label>
    </>
  );
  return (
    // Our own messages (in the UI's language) rather than the browser's validation bubbles.
    <form
      class="eval-form"
      id="eval-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void start(l);
      }}
    >
      <label class="field">
        <span>{t(l, "eval.bench")}</span>
        <select id="eval-bench" value={f.bench} onChange={(e) => set("bench", (e.target as HTMLSelectElement).value as Bench)}>
          {BENCHES.map((b) => (
            <option key={b} value={b}>
              {t(l, `eval.bench.${b}` as Key)}
            </option>
          ))}
        </select>
      </label>
      <label class="field wide">
        <span>{t(l, "eval.data")}</span>
        <span class="row">
          <input id="eval-data" value={f.data} placeholder={t(l, "eval.dataHint")} onInput={(e) => set("data", (e.target as HTMLInputElement).value)} />
          <button type="button" id="eval-browse" onClick={() => void browse()}>
            {t(l, "eval.browse")}
          </button>
        </span>
      </label>
      <label class="field">
        <span>{t(l, "eval.engine")}</span>
        <select id="eval-engine" value={f.engine} onChange={(e) => set("engine", (e.target as HTMLSelectElement).value as "current" | "remote")}>
          <option value="current">{model ? t(l, "eval.engineCurrent", { model: model.file_name }) : t(l, "model.none")}</option>
          <option value="remote">{t(l, "eval.engineRemote")}</option>
        </select>
      </label>
      {f.engine === "remote" &&
        server("eval-remote", "remoteUrl", "remoteModel", "remoteKey", keys.value.remote, "eval.serverUrl", "eval.serverModel", "eval.serverKey", "http://10.0.0.5:8000/v1")}
      <label class="field">
        <span>{t(l, "eval.limit")}</span>
        <input id="eval-limit" type="number" min={1} value={f.limit} onInput={(e) => set("limit", (e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t(l, "eval.maxTokens")}</span>
        <input id="eval-max-tokens" type="number" min={1} value={f.maxTokens} placeholder={t(l, "settings.default")} onInput={(e) => set("maxTokens", (e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t(l, "eval.temperature")}</span>
        <input
          id="eval-temperature"
          type="number"
          min={0}
          max={2}
          step={0.1}
          value={f.temperature}
          placeholder={t(l, "eval.greedy")}
          onInput={(e) => set("temperature", (e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="field">
        <span>{t(l, "eval.seed")}</span>
        <input id="eval-seed" inputMode="numeric" value={f.seed} placeholder="42" onInput={(e) => set("seed", (e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t(l, "eval.judge")}</span>
        <select id="eval-judge" value={f.judge} onChange={(e) => set("judge", (e.target as HTMLSelectElement).value as JudgeMode)}>
          {JUDGES.map((j) => (
            <option key={j} value={j}>
              {t(l, `eval.judge.${j}` as Key)}
            </option>
          ))}
        </select>
      </label>
      {f.judge !== "rule" &&
        server("eval-judge", "judgeUrl", "judgeModel", "judgeKey", keys.value.judge, "eval.judgeUrl", "eval.judgeModel", "eval.judgeKey", "http://127.0.0.1:8000/v1")}
      <label class="check">
        <input type="checkbox" id="eval-strict" checked={f.strict} onChange={(e) => set("strict", (e.target as HTMLInputElement).checked)} />
        {t(l, "eval.strict")}
      </label>
      <div class="card-actions">
        <button type="submit" class="primary" id="eval-start" disabled={running.value !== null}>
          {t(l, "eval.start")}
        </button>
      </div>
    </form>
  );
}

function EvalProgress() {
  const l = lang.value;
  const r = running.value;
  if (!r) return null;
  const line = progressLine(r);
  return (
    <div class="job" id="eval-job" role="status">
      <div>
        <strong>{r.run ? r.run.id : t(l, "eval.preparing")}</strong>
      </div>
      <progress id="eval-progress" max={Math.max(r.total, 1)} value={r.done} />
      <div class="small" id="eval-numbers">
        {t(l, "eval.progress", {
          done: r.done,
          total: r.total,
          accuracy: line.accuracy.toFixed(1),
          rate: line.rate.toFixed(1),
          left: eta(line.left),
        })}
        {r.total > 0 && r.done === r.total && ` · ${t(l, "eval.scoring")}`}
      </div>
      <button id="eval-stop" onClick={() => void api.evalStop()}>
        {t(l, "eval.stop")}
      </button>
    </div>
  );
}

function RunsTable() {
  const l = lang.value;
  const list = runs.value;
  if (!list.length) return <p class="muted" id="eval-runs-empty">{t(l, "eval.noRuns")}</p>;
  const sel = chosen.value;
  const compare = async () => {
    try {
      compared.value = await Promise.all(sel.map((id) => api.evalRun(id)));
    } catch (e) {
      message.value = { ok: false, text: errorText(e) };
    }
  };
  return (
    <>
      <table class="library" id="eval-runs">
        <thead>
          <tr>
            <th aria-label={t(l, "eval.compare")} />
            <th>{t(l, "eval.run")}</th>
            <th>{t(l, "eval.model")}</th>
            <th>{t(l, "eval.items")}</th>
            <th>{t(l, "eval.score")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((r) => (
            <tr key={r.id} class={opened.value?.summary.id === r.id ? "active" : ""} data-id={r.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={t(l, "eval.compare")}
                  checked={sel.includes(r.id)}
                  onChange={(e) => (chosen.value = (e.target as HTMLInputElement).checked ? [...sel, r.id] : sel.filter((x) => x !== r.id))}
                />
              </td>
              <td>
                <code>{r.id}</code>
              </td>
              <td>
                {r.model}
                {r.quantization ? ` · ${r.quantization}` : ""} <span class="muted small">({r.engine ?? "outputs"})</span>
              </td>
              <td>
                {r.answered} / {r.planned}
              </td>
              <td>{r.score === null ? "–" : `${r.score.toFixed(1)}%`}</td>
              <td>
                <button class="open-run" onClick={() => void openRun(r.id)}>
                  {t(l, "eval.open")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="card-actions">
        <button id="eval-compare" disabled={sel.length < 2} onClick={() => void compare()}>
          {t(l, "eval.compareN", { n: sel.length })}
        </button>
      </div>
    </>
  );
}

/** A run folder made elsewhere (`fin-r1 eval run --out DIR`, a colleague's) joins the list. */
function AddRun() {
  const l = lang.value;
  const [path, setPath] = useState("");
  const browse = async () => {
    const p = await open({ directory: true, multiple: false });
    if (typeof p === "string") setPath(p);
  };
  const add = async () => {
    if (!path.trim()) {
      message.value = { ok: false, text: t(l, "eval.needFolder") };
      return;
    }
    try {
      const { run, skipped_links } = await api.evalAdd(path.trim());
      setPath("");
      // A link in the folder is not followed (it could point at anything): said, not copied.
      message.value = skipped_links.length ? { ok: true, text: t(l, "eval.skippedLinks", { names: skipped_links.join(", ") }) } : null;
      await refresh();
      await openRun(run.id);
    } catch (e) {
      message.value = { ok: false, text: errorText(e) };
    }
  };
  return (
    <div class="eval-export row" id="eval-add-row">
      <input id="eval-add-path" value={path} placeholder={t(l, "eval.addHint")} onInput={(e) => setPath((e.target as HTMLInputElement).value)} aria-label={t(l, "eval.addHint")} />
      <button type="button" onClick={() => void browse()}>
        {t(l, "eval.browse")}
      </button>
      <button type="button" id="eval-add" onClick={() => void add()}>
        {t(l, "eval.add")}
      </button>
    </div>
  );
}

/** Horizontal bars, one per category: the chart of a run's scores. */
function Bars({ rows }: { rows: { label: string; score: number; n: number }[] }) {
  return (
    <div class="bars" id="eval-chart" role="img">
      {rows.map((r) => (
        <div class="bar-row" key={r.label}>
          <span class="bar-label">{r.label}</span>
          <span class="bar-track">
            <span class="bar-fill" style={{ width: `${Math.max(0, Math.min(100, r.score))}%` }} />
          </span>
          <span class="bar-value">
            {r.score.toFixed(1)}% <span class="muted small">n={r.n}</span>
          </span>
        </div>
      ))}
    </div>
  );
}

/** Brings a section the analyst just asked for into view (it opens below the list). */
function useShown(key: string) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.scrollIntoView({ block: "start" }), [key]);
  return ref;
}

function RunView({ d }: { d: RunDetail }) {
  const l = lang.value;
  const ref = useShown(d.summary.id);
  const c = d.config;
  const rows = byCategory(d);
  const wrong = d.reviews.filter((r) => !r.correct);
  return (
    <section class="eval-run" id="eval-run" data-id={d.summary.id} ref={ref}>
      <h2>
        {c.model} · {t(l, `eval.bench.${c.bench}` as Key)}
      </h2>
      <p class="muted small" id="eval-provenance">
        {c.engine ?? "outputs"}
        {c.quantization ? ` · ${c.quantization}` : ""}
        {c.model_sha256 ? ` · SHA-256 ${c.model_sha256.slice(0, 12)}…` : ""}
        {c.remote_url ? ` · ${c.remote_url}` : ""} · {t(l, "eval.sample", { limit: c.limit, seed: c.seed, n: c.items.length })} · temperature {c.sampling.temperature} · max{" "}
        {c.sampling.max_tokens} tokens{c.judge ? ` · ${t(l, "eval.judge")}: ${c.judge.mode} (${c.judge.model})` : ""}
      </p>
      {d.report ? <Bars rows={rows} /> : <p class="muted">{t(l, "eval.notScored", { done: d.summary.answered, total: d.summary.planned })}</p>}
      {d.summary.answered < d.summary.planned && (
        <p class="row">
          <button
            id="eval-resume"
            disabled={running.value !== null}
            onClick={() => {
              const r = resumeRequest(d, BENCHES);
              if (r) void start(l, r);
              else message.value = { ok: false, text: t(l, "eval.cannotResume") };
            }}
          >
            {t(l, "eval.resume", { left: d.summary.planned - d.summary.answered })}
          </button>
          <span class="muted small">{t(l, "eval.resumeHelp")}</span>
        </p>
      )}
      <ExportRow d={d} />
      <h3>{t(l, "eval.wrong", { n: wrong.length, total: d.reviews.length })}</h3>
      <div id="eval-wrong">
        {wrong.map((r) => (
          <WrongAnswer key={r.id} r={r} />
        ))}
      </div>
    </section>
  );
}

function WrongAnswer({ r }: { r: ItemReview }) {
  const l = lang.value;
  return (
    <details class="wrong-answer" data-id={r.id}>
      <summary>
        <code>{r.id}</code> · {r.category} · {t(l, "eval.gold")}: <strong>{r.gold}</strong> · {t(l, "eval.extracted")}: <strong>{r.extracted ?? "—"}</strong>
        {r.finish_reason === "length" && <span class="badge">{t(l, "eval.truncated")}</span>}
        {r.finish_reason === "repetition" && <span class="badge">{t(l, "status.repetition")}</span>}
      </summary>
      <div class="question">{r.question}</div>
      <p class="small">
        {t(l, "eval.why")}: {r.reason}
      </p>
      {r.reasoning.trim() && (
        <>
          <h4>{t(l, "reasoning.title")}</h4>
          <div class="reasoning-body wrong-reasoning">{r.reasoning}</div>
        </>
      )}
      <h4>{t(l, "eval.answer")}</h4>
      <div class="wrong-output">{r.answer || "—"}</div>
      <p class="muted small">
        {r.completion_tokens} tokens · {(r.seconds ?? 0).toFixed(1)} s
      </p>
    </details>
  );
}

function ExportRow({ d }: { d: RunDetail }) {
  const l = lang.value;
  const dir = info.value?.documents_dir ?? info.value?.data_dir ?? "";
  // The target follows the run that is open: another run opened gets its own file name.
  const target = exportTarget(exported.value, d.summary.id, dir);
  const { format, path } = target;
  const setPath = (p: string) => (exported.value = { ...target, path: p });
  const [busy, setBusy] = useState(false);
  // Said beside the button, not at the page's top (off-screen below a long run).
  const [saved, setSaved] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => setSaved(null), [d.summary.id]);
  const pick = (f: "html" | "pdf" | "docx") => {
    exported.value = { ...target, format: f, path: withExtension(path, f) };
  };
  const browse = async () => {
    const p = await save({ defaultPath: path, filters: [{ name: format.toUpperCase(), extensions: [format] }] });
    if (typeof p === "string") setPath(withExtension(p, format));
  };
  const run = async () => {
    setBusy(true);
    try {
      setSaved(null);
      const written = await api.evalExport({ id: target.run, format, path: path.trim() });
      setSaved({ ok: true, text: t(l, "eval.exported", { path: written }) });
    } catch (e) {
      setSaved({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="eval-export row">
      <select id="eval-export-format" value={format} onChange={(e) => pick((e.target as HTMLSelectElement).value as "html" | "pdf" | "docx")} aria-label={t(l, "export.format")}>
        <option value="html">HTML</option>
        <option value="pdf">PDF</option>
        <option value="docx">Word (.docx)</option>
      </select>
      <input id="eval-export-path" value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} aria-label={t(l, "export.file")} />
      <button type="button" onClick={() => void browse()}>
        {t(l, "eval.browse")}
      </button>
      <button type="button" class="primary" id="eval-export" disabled={busy} onClick={() => void run()}>
        {t(l, "eval.export")}
      </button>
      {saved && (
        <span id="eval-export-result" class={saved.ok ? "ok" : "error"}>
          {saved.text}
        </span>
      )}
    </div>
  );
}

function Compare({ details }: { details: RunDetail[] }) {
  const l = lang.value;
  const ref = useShown(details.map((d) => d.summary.id).join(" "));
  const per = details.map((d) => new Map(byCategory(d).map((r) => [r.label, r])));
  const labels = [...new Set(per.flatMap((m) => [...m.keys()]))];
  return (
    <section class="eval-compare" id="eval-compare-view" ref={ref}>
      <h2>{t(l, "eval.sideBySide")}</h2>
      {new Set(details.map((d) => d.config.bench)).size > 1 && (
        <p class="warning" id="eval-compare-warning">
          ⚠ {t(l, "eval.mixedBenches", { benches: [...new Set(details.map((d) => t(l, `eval.bench.${d.config.bench}` as Key)))].join(l === "zh" ? "、" : ", ") })}
        </p>
      )}
      <table class="library">
        <thead>
          <tr>
            <th>{t(l, "eval.category")}</th>
            {details.map((d) => (
              <th key={d.summary.id}>
                {d.config.model}
                {d.config.quantization ? ` · ${d.config.quantization}` : ""}
                <div class="muted small">{d.summary.id}</div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((label) => (
            <tr key={label}>
              <td>{label}</td>
              {per.map((m, i) => {
                const r = m.get(label);
                return (
                  <td key={i}>
                    {r ? (
                      <span class="bar-cell">
                        <span class="bar-track">
                          <span class="bar-fill" style={{ width: `${r.score}%` }} />
                        </span>
                        {r.score.toFixed(1)}% <span class="muted small">n={r.n}</span>
                      </span>
                    ) : (
                      "–"
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => (compared.value = null)}>{t(l, "eval.closeCompare")}</button>
    </section>
  );
}

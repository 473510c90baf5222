import { signal } from "@preact/signals";
import { useEffect, useState } from "preact/hooks";
import { open } from "@tauri-apps/plugin-dialog";
import { api, errorText } from "../api";
import { t } from "../i18n";
import { info, lang, loadModel, page, refreshInfo, saveSettings } from "../state";
import type { Advice, CatalogView, JobEvent, LibraryModel } from "../types";
import type { FileFit, HubFileAdvice, HubRepo, Speed } from "../bindings";
import { eta, gb, size } from "./format";

/** The job in progress (kept while the user looks at other pages). */
interface Job {
  label: string;
  file: string;
  done: number;
  total: number;
  resumedFrom: number;
  rate: number;
  tensors: { done: number; total: number } | null;
  checking: boolean;
}

const catalog = signal<CatalogView | null>(null);
const job = signal<Job | null>(null);
const result = signal<{ ok: boolean; text: string; model?: LibraryModel } | null>(null);

async function refresh() {
  catalog.value = await api.catalog();
}

function onJobEvent(e: JobEvent) {
  const j = job.value;
  if (!j) return;
  if (e.type === "start") job.value = { ...j, file: e.file, total: e.total, done: e.resumed_from, resumedFrom: e.resumed_from, rate: 0 };
  else if (e.type === "progress") job.value = { ...j, file: e.file, done: e.done, total: e.total, rate: e.bytes_per_sec ?? 0 };
  else if (e.type === "quantize") job.value = { ...j, tensors: { done: e.done, total: e.total } };
  else if (e.type === "checking") job.value = { ...j, checking: true };
}

async function runJob(label: string, work: () => Promise<LibraryModel>) {
  if (job.value) return;
  result.value = null;
  job.value = { label, file: "", done: 0, total: 0, resumedFrom: 0, rate: 0, tensors: null, checking: false };
  try {
    const model = await work();
    result.value = { ok: true, text: model.path, model };
  } catch (e) {
    result.value = { ok: false, text: errorText(e) };
  } finally {
    job.value = null;
    await refresh().catch(() => undefined);
    await refreshInfo().catch(() => undefined);
  }
}

async function useModel(path: string) {
  if (await loadModel(path)) page.value = "chat";
}

export function Models() {
  const l = lang.value;
  useEffect(() => {
    void refresh().catch((e) => (result.value = { ok: false, text: errorText(e) }));
  }, []);
  const c = catalog.value;
  if (!c) return <section class="page" id="models-page"><p class="muted">{t(l, "model.loading")}</p></section>;
  const suggested = c.models.find((m) => m.suggested);
  const hw = c.hardware;
  return (
    <section class="page" id="models-page">
      <header class="page-head">
        <h1>{t(l, "nav.models")}</h1>
      </header>
      <p class="advice" id="hardware-advice">
        {t(l, "models.machine", { mem: gb(hw.memory_bytes), free: gb(hw.available_bytes), cores: hw.cores })}
        {hw.gpus.length ? ` · GPU ${hw.gpus.map((g) => `${g.name} (${gb(g.memory_bytes)})`).join(", ")}` : ` · ${t(l, "models.noGpu")}`}
        {suggested && (
          <>
            {" · "}
            <strong>{t(l, "models.suggest", { name: suggested.entry.name })}</strong>
          </>
        )}
        <br />
        <span class="muted small" id="speed-basis">
          {speedBasis(c.speed)}
        </span>
      </p>
      <JobPanel />
      <CatalogList view={c} />

      <h2>{t(l, "models.library")}</h2>
      <Library models={c.library} view={c} />

      <h2>{t(l, "models.import")}</h2>
      <ImportForm />

      <h2>{t(l, "models.quantize")}</h2>
      <QuantizeForm />

      <h2>{t(l, "models.hub")}</h2>
      <HubForm view={c} />
    </section>
  );
}

function speedBasis(s: Speed): string {
  const l = lang.value;
  return s.from === "measured" ? t(l, "models.speedMeasured", { n: s.answers }) : t(l, "models.speedBenchmark", { cores: s.cores });
}

/** Fits / slow / too big here, and the tokens a second it would write. */
function FitBadge({ fit, speed }: { fit: FileFit; speed: number | null }) {
  const l = lang.value;
  const label = fit === "fits" ? t(l, "models.fits") : fit === "slow" ? t(l, "models.slow") : t(l, "models.tooBig");
  return (
    <span class={`fit ${fit === "too_big" ? "error" : fit === "slow" ? "warn" : "ok"}`} data-fit={fit}>
      {label}
      {speed !== null && ` · ${t(l, "models.speed", { n: speed >= 10 ? speed.toFixed(0) : speed.toFixed(1) })}`}
    </span>
  );
}

let searches = 0;

/** The catalog's entries, filtered as the analyst types; the hub searched on Enter. */
function CatalogList({ view }: { view: CatalogView }) {
  const l = lang.value;
  const [q, setQ] = useState("");
  const [hub, setHub] = useState<{ query: string; repos: HubRepo[] | null; error: string | null } | null>(null);
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = view.models.filter((a) => {
    const e = a.entry;
    // Names, not notes: a note that mentions Q8_0 does not make its entry a Q8_0.
    const text = [e.id, e.name, e.name_zh ?? "", e.repo, e.quantization ?? "", e.kind].join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const search = async () => {
    const query = q.trim();
    if (!query) return;
    // Only the latest search's answer is shown: a slower, older one arriving later is dropped.
    const mine = ++searches;
    setHub({ query, repos: null, error: null });
    try {
      const repos = await api.searchHub(query);
      if (mine === searches) setHub({ query, repos, error: null });
    } catch (e) {
      if (mine === searches) setHub({ query, repos: [], error: errorText(e) });
    }
  };
  return (
    <>
      <div class="form-row model-search">
        <input
          id="model-filter"
          type="search"
          placeholder={t(l, "models.filter")}
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => e.key === "Enter" && void search()}
        />
        <button id="hub-search" disabled={!q.trim() || (hub !== null && hub.repos === null)} onClick={() => void search()}>
          {t(l, "models.searchHub")}
        </button>
      </div>
      <div class="catalog" id="catalog">
        {shown.map((a) => (
          <CatalogCard key={a.entry.id} advice={a} />
        ))}
      </div>
      {shown.length === 0 && <p class="muted">{t(l, "models.noMatch", { q: q.trim() })}</p>}
      {hub && (
        <div class="hub-results" id="hub-results">
          <h3>{t(l, "models.hubResults")}</h3>
          {hub.repos === null && <p class="muted">{t(l, "models.searching")}</p>}
          {hub.error && <p class="error" id="hub-error">{t(l, "models.hubFailed", { why: hub.error })}</p>}
          {hub.repos && !hub.error && hub.repos.length === 0 && <p class="muted">{t(l, "models.hubNone")}</p>}
          {hub.repos?.map((r) => (
            <HubRepoRow key={r.repo} r={r} />
          ))}
        </div>
      )}
    </>
  );
}

function HubRepoRow({ r }: { r: HubRepo }) {
  const l = lang.value;
  const [files, setFiles] = useState<HubFileAdvice[] | null>(null);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = async () => {
    setOpen(!open);
    if (open || files) return;
    setError(null);
    try {
      setFiles(await api.hubFiles(r.repo));
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div class="hub-repo" data-repo={r.repo}>
      <div class="hub-repo-head">
        <strong>{r.repo}</strong>
        <span class="muted small">
          {" "}
          · {t(l, "models.downloads", { n: r.downloads })} · ♥ {r.likes}
        </span>{" "}
        <button class="link hub-files-toggle" onClick={() => void toggle()}>
          {open ? t(l, "models.hideFiles") : t(l, "models.showFiles")}
        </button>
      </div>
      {open && error && <p class="error">{error}</p>}
      {open && !files && !error && <p class="muted small">{t(l, "model.loading")}</p>}
      {open && files && (
        <table class="library hub-files">
          <tbody>
            {files.map((f) => (
              <tr key={f.file} data-file={f.file}>
                <td>{f.file}</td>
                <td>{f.quantization ?? ""}</td>
                <td>{size(f.size)}</td>
                <td>
                  <FitBadge fit={f.fit} speed={f.decode_tok_s ?? null} />
                </td>
                <td class="row-actions">
                  <button
                    class="hub-file-download"
                    disabled={job.value !== null || f.fit === "too_big"}
                    onClick={() => void runJob(`${r.repo}/${f.file}`, () => api.download({ repo: r.repo, file: f.file }, onJobEvent))}
                  >
                    {t(l, "models.download")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function CatalogCard({ advice: a }: { advice: Advice }) {
  const l = lang.value;
  const e = a.entry;
  const [target, setTarget] = useState("q4_k_m");
  const official = e.kind !== "gguf";
  const name = (l === "zh" && e.name_zh) || e.name;
  const note = (l === "zh" && e.note_zh) || e.note;
  return (
    <div class={`card model-card${a.suggested ? " suggested" : ""}${a.fits ? "" : " too-big"}`} data-id={e.id}>
      <div class="card-title">
        {a.suggested && <span class="badge gold">★ {t(l, "models.suggested")}</span>}
        <strong>{name}</strong>
      </div>
      <div class="muted small">
        {e.repo} · {e.licence}
      </div>
      <div class="small">
        {t(l, "models.need", { download: size(a.download_bytes), memory: size(a.memory_bytes) })}{" "}
        <FitBadge fit={a.fit} speed={a.decode_tok_s ?? null} />
      </div>
      {note && <p class="small muted">{note}</p>}
      <div class="card-actions">
        {official && (
          <select value={target} onChange={(ev) => setTarget((ev.target as HTMLSelectElement).value)} aria-label={t(l, "models.target")}>
            <option value="q4_k_m">Q4_K_M</option>
            <option value="q8_0">Q8_0</option>
          </select>
        )}
        <button
          class={a.suggested ? "primary" : ""}
          disabled={job.value !== null || catalog.value?.busy}
          onClick={() => void runJob(name, () => api.download({ catalog_id: e.id, target: official ? target : null }, onJobEvent))}
        >
          {official ? t(l, "models.downloadQuantize") : t(l, "models.download")}
        </button>
      </div>
    </div>
  );
}

function JobPanel() {
  const l = lang.value;
  const j = job.value;
  const r = result.value;
  if (j) {
    const pct = j.total > 0 ? (100 * j.done) / j.total : 0;
    const left = j.rate > 0 ? (j.total - j.done) / j.rate : Infinity;
    return (
      <div class="job" id="job" role="status">
        <div>
          <strong>{j.label}</strong> {j.file && <code>{j.file}</code>}
        </div>
        {j.tensors ? (
          <>
            <progress id="job-progress" max={j.tensors.total} value={j.tensors.done} />
            <div class="small">{t(l, "models.quantizing", { done: j.tensors.done, total: j.tensors.total })}</div>
          </>
        ) : (
          <>
            <progress id="job-progress" max={100} value={pct} />
            <div class="small" id="job-numbers">
              {pct.toFixed(1)}% · {size(j.done)} / {size(j.total)} · {size(j.rate)}/s · {t(l, "models.left", { eta: eta(left) })}
              {j.resumedFrom > 0 && ` · ${t(l, "models.resumed", { from: size(j.resumedFrom) })}`}
            </div>
          </>
        )}
        {j.checking && <div class="small">{t(l, "models.checking")}</div>}
        {!j.tensors && (
          <button id="job-cancel" onClick={() => void api.cancelJob()}>
            {t(l, "message.cancel")}
          </button>
        )}
      </div>
    );
  }
  if (!r) return null;
  return (
    <div class={`job ${r.ok ? "done" : "failed"}`} id="job-result" role="status">
      {r.ok ? (
        <>
          <span>{t(l, "models.ready", { file: r.model?.file_name ?? r.text })}</span>{" "}
          <button class="primary" id="job-use" onClick={() => void useModel(r.text)}>
            {t(l, "models.use")}
          </button>
        </>
      ) : (
        <span class="error">{r.text}</span>
      )}
    </div>
  );
}

function Library({ models, view }: { models: LibraryModel[]; view: CatalogView }) {
  const l = lang.value;
  const active = info.value?.local_model?.path;
  if (!models.length) return <p class="muted">{t(l, "models.empty")}</p>;
  return (
    <table class="library" id="library">
      <thead>
        <tr>
          <th>{t(l, "models.file")}</th>
          <th>{t(l, "models.quant")}</th>
          <th>{t(l, "models.params")}</th>
          <th>{t(l, "models.size")}</th>
          <th>{t(l, "models.source")}</th>
          <th>{t(l, "models.here")}</th>
          <th>SHA-256</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {models.map((m, i) => (
          <tr key={m.path} title={m.path}>
            <td>
              {m.file_name}
              {m.path === active && <span class="badge">{t(l, "models.inUse")}</span>}
            </td>
            <td>{m.quantization}</td>
            <td>{(m.n_params / 1e9).toFixed(2)} B</td>
            <td>{size(m.size)}</td>
            <td>
              {m.source}
              {m.repo ? ` · ${m.repo}` : ""}
            </td>
            <td>{view.library_fit[i] && <FitBadge fit={view.library_fit[i]} speed={view.library_speed[i] ?? null} />}</td>
            <td>
              <code>{m.sha256?.slice(0, 12) ?? "-"}</code>
            </td>
            <td class="row-actions">
              <button onClick={() => void useModel(m.path)} disabled={m.path === active}>
                {t(l, "models.use")}
              </button>
              <button class="link" onClick={() => void api.removeModel(m.path).then(refresh)}>
                {t(l, "models.remove")}
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ImportForm() {
  const l = lang.value;
  const [path, setPath] = useState("");
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const doImport = async (p: string) => {
    setBusy(true);
    setMsg(null);
    try {
      const m = await api.importModel(p.trim());
      setMsg({ ok: true, text: t(l, "models.imported", { file: m.file_name, quant: m.quantization }) });
      setPath("");
      await refresh();
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="form-row">
      <input id="import-path" placeholder={t(l, "model.path")} value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
      <button
        onClick={() =>
          void open({ filters: [{ name: "GGUF", extensions: ["gguf"] }] }).then((p) => {
            if (typeof p === "string") void doImport(p);
          })
        }
      >
        {t(l, "settings.choose")}
      </button>
      <button id="import-go" class="primary" disabled={busy || !path.trim()} onClick={() => void doImport(path)}>
        {t(l, "models.importGo")}
      </button>
      <span class="inline-help">{t(l, "models.dropHint")}</span>
      {msg && (
        <p class={msg.ok ? "ok" : "error"} id="import-result">
          {msg.text}
        </p>
      )}
    </div>
  );
}

function QuantizeForm() {
  const l = lang.value;
  const [dir, setDir] = useState("");
  const [target, setTarget] = useState("q4_k_m");
  return (
    <div class="form-row">
      <input id="quantize-dir" placeholder={t(l, "models.checkpoint")} value={dir} onInput={(e) => setDir((e.target as HTMLInputElement).value)} />
      <button onClick={() => void open({ directory: true }).then((p) => typeof p === "string" && setDir(p))}>{t(l, "settings.choose")}</button>
      <select id="quantize-target" value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
        <option value="q4_k_m">Q4_K_M</option>
        <option value="q8_0">Q8_0</option>
        <option value="f16">F16</option>
      </select>
      <button id="quantize-go" class="primary" disabled={!dir.trim() || job.value !== null} onClick={() => void runJob(t(l, "models.quantize"), () => api.quantize(dir.trim(), target, onJobEvent))}>
        {t(l, "models.quantizeGo")}
      </button>
      <span class="inline-help">{t(l, "models.quantizeHelp", { dir: catalog.value?.models_dir ?? "" })}</span>
    </div>
  );
}

function HubForm({ view }: { view: CatalogView }) {
  const l = lang.value;
  const [endpoint, setEndpoint] = useState(info.value?.settings.hub_endpoint ?? "");
  const [token, setToken] = useState("");
  const [repo, setRepo] = useState("");
  const [file, setFile] = useState("");
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async () => {
    const s = info.value?.settings;
    if (!s) return;
    try {
      await saveSettings({ ...s, hub_endpoint: endpoint.trim() || null });
      if (token) await api.setHubToken(token);
      setToken("");
      await refresh();
      setMsg({ ok: true, text: t(l, "settings.saved") });
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    }
  };
  return (
    <>
      <div class="form-row">
        <label class="field wide">
          <span>{t(l, "models.endpoint")}</span>
          <input id="hub-endpoint" value={endpoint} placeholder={view.endpoint} onInput={(e) => setEndpoint((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>{t(l, "models.token")}</span>
          <input id="hub-token" type="password" autocomplete="off" placeholder={view.has_token ? t(l, "settings.keySet") : t(l, "settings.keyNone")} value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        <button id="hub-save" onClick={() => void save()}>
          {t(l, "settings.save")}
        </button>
        {msg && <span class={msg.ok ? "ok" : "error"}>{msg.text}</span>}
      </div>
      <p class="inline-help">{t(l, "models.endpointHelp", { endpoint: view.endpoint })}</p>
      <div class="form-row">
        <input id="hub-repo" placeholder="mradermacher/Fin-R1-GGUF" value={repo} onInput={(e) => setRepo((e.target as HTMLInputElement).value)} />
        <input id="hub-file" placeholder="Fin-R1.Q4_K_M.gguf" value={file} onInput={(e) => setFile((e.target as HTMLInputElement).value)} />
        <button id="hub-download" disabled={!repo.trim() || !file.trim() || job.value !== null} onClick={() => void runJob(`${repo}/${file}`, () => api.download({ repo, file }, onJobEvent))}>
          {t(l, "models.download")}
        </button>
      </div>
    </>
  );
}

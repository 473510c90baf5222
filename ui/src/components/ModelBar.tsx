import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { attach } from "../attach";
import { api, errorText } from "../api";
import { t, type Key } from "../i18n";
import {
  chosenScenario,
  current,
  errorLine,
  info,
  lang,
  library,
  loadModel,
  modelBusy,
  page,
  sampling,
  samplingError,
  saveSettings,
  scenarios,
  setSampling,
} from "../state";
import type { FileFit } from "../types";
import { size } from "./format";

export function ModelBar() {
  const l = lang.value;
  const model = info.value?.model;
  const [dropping, setDropping] = useState<null | "model" | "document">(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    // A .gguf dropped anywhere on the window becomes the model; other files are attached.
    const un = getCurrentWebview().onDragDropEvent((e) => {
      if (e.payload.type === "enter") setDropping(e.payload.paths.some((p) => p.toLowerCase().endsWith(".gguf")) ? "model" : "document");
      else if (e.payload.type === "leave") setDropping(null);
      else if (e.payload.type === "drop") {
        setDropping(null);
        const file = e.payload.paths.find((p) => p.toLowerCase().endsWith(".gguf"));
        if (file) void loadModel(file);
        // Anything else dropped is a document for the next question (one the core does not
        // read gets its chip with the reason).
        const docs = e.payload.paths.filter((p) => !p.toLowerCase().endsWith(".gguf"));
        if (docs.length > 0) attach(docs);
      }
    });
    return () => void un.then((f) => f());
  }, []);
  return (
    <div class="model-bar">
      <div class="model-current" id="model-current">
        <strong>{t(l, "model.label")}:</strong>{" "}
        {info.value === null ? (
          <span class="muted">{t(l, "model.loading")}</span>
        ) : model?.engine === "remote" ? (
          <span title={model.path} id="model-remote">
            {t(l, "model.remote")} · {model.file_name} · {model.path}{" "}
            <button
              class="link"
              id="model-use-local"
              disabled={modelBusy.value}
              onClick={() => {
                const s = info.value?.settings;
                // One click back to the model on this machine: the remote server's settings stay.
                if (s) void saveSettings({ ...s, remote: { ...s.remote, enabled: false } }).catch((e) => (errorLine.value = errorText(e)));
              }}
            >
              {t(l, "model.useLocal")}
            </button>
          </span>
        ) : model ? (
          <span title={model.path}>
            {model.file_name} · {model.quantization ?? ""} · {(model.file_size / 1e9).toFixed(2)} GB
          </span>
        ) : (
          <span class="muted">{t(l, "model.none")}</span>
        )}
      </div>
      <ModelMenu />
      <button class="link" id="sampling-toggle" onClick={() => setOpen(!open)}>
        {t(l, "settings.sampling")}
      </button>
      {open && <SamplingPanel />}
      {info.value !== null && !model && <p class="inline-help" id="no-model">{t(l, "model.noneHelp")}</p>}
      {errorLine.value && (
        <p class="error" id="error-line" role="alert">
          {errorLine.value}
        </p>
      )}
      {dropping && <div class="drop-overlay">{t(l, dropping === "model" ? "model.drop" : "attach.drop")}</div>}
    </div>
  );
}

/** How each library file would run here; fetched when the menu opens (hardware detection). */
const fits = signal<Map<string, FileFit>>(new Map());

async function refreshFits() {
  const c = await api.catalog();
  library.value = c.library;
  fits.value = new Map(c.library.map((m, i) => [m.path, c.library_fit[i]]));
}

/** The model in use and the others at hand, as LM Studio and Jan offer them in the chat bar. */
function ModelMenu() {
  const l = lang.value;
  const model = info.value?.model;
  const [open, setOpen] = useState(false);
  const [path, setPath] = useState("");
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    void refreshFits().catch(() => undefined);
    const close = (e: MouseEvent) => {
      if (menu.current && !menu.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", esc);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", esc);
    };
  }, [open]);
  const use = (p: string) => {
    setOpen(false);
    void loadModel(p).then((ok) => ok && setPath(""));
  };
  const pick = async () => {
    const p = await openDialog({ multiple: false, directory: false, filters: [{ name: "GGUF", extensions: ["gguf"] }] });
    if (typeof p === "string") use(p);
  };
  // The library first (checked files, with their quantization), then other recent paths.
  const known = library.value;
  const recent = (info.value?.recent_models ?? []).filter((p) => !known.some((m) => m.path === p));
  const fitNote = (p: string) => {
    const f = fits.value.get(p);
    if (!f) return null;
    const [cls, key] = f === "fits" ? ["ok", "model.fits"] : f === "slow" ? ["warn", "model.slow"] : ["error", "model.tooBig"];
    return <span class={`fit ${cls}`}>{t(l, key as Key)}</span>;
  };
  return (
    <div class="model-menu" ref={menu}>
      <button id="model-menu-toggle" aria-haspopup="menu" aria-expanded={open} disabled={modelBusy.value} onClick={() => setOpen(!open)}>
        {modelBusy.value ? t(l, "model.loading") : model ? t(l, "model.switch") : t(l, "model.choose")} ▾
      </button>
      {open && (
        <div class="menu model-list" role="menu" id="model-menu">
          {known.length === 0 && recent.length === 0 && <p class="muted small">{t(l, "model.libraryEmpty")}</p>}
          {known.map((m) => (
            <button role="menuitem" class={`model-option${m.path === model?.path ? " current" : ""}`} key={m.path} data-path={m.path} title={m.name ? `${m.name}\n${m.path}` : m.path} onClick={() => use(m.path)}>
              <span class="model-option-name">
                {m.path === model?.path ? "✓ " : ""}
                {m.file_name}
              </span>
              <span class="muted small">
                {m.quantization} · {size(m.size)} {fitNote(m.path)}
              </span>
            </button>
          ))}
          {recent.map((p) => (
            <button role="menuitem" class={`model-option${p === model?.path ? " current" : ""}`} key={p} data-path={p} title={p} onClick={() => use(p)}>
              <span class="model-option-name">
                {p === model?.path ? "✓ " : ""}
                {p.split(/[\\/]/).pop()}
              </span>
              <span class="muted small">{p}</span>
            </button>
          ))}
          <hr />
          <button role="menuitem" id="model-open-file" onClick={() => void pick()}>
            {t(l, "model.openFile")}
          </button>
          <button
            role="menuitem"
            id="model-manage"
            onClick={() => {
              setOpen(false);
              page.value = "models";
            }}
          >
            {t(l, "model.manage")}
          </button>
          <form
            class="model-load"
            onSubmit={(e) => {
              e.preventDefault();
              if (path.trim()) use(path.trim());
            }}
          >
            <input id="model-path" placeholder={t(l, "model.path")} value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
            <button id="model-load" disabled={modelBusy.value || !path.trim()}>
              {t(l, "model.load")}
            </button>
          </form>
        </div>
      )}
    </div>
  );
}

function SamplingPanel() {
  const l = lang.value;
  const s = sampling.value;
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  // What an empty field means: the user's default, else the preset's, else the model's.
  const view = current.value;
  const presetId = view ? view.conversation.scenario_id : chosenScenario.value?.id;
  const preset = scenarios.value.find((x) => x.id === presetId)?.sampling;
  const fallback = (key: "temperature" | "top_p" | "max_tokens" | "seed"): number | null => {
    const user = info.value?.settings.sampling[key];
    const fromPreset = key === "seed" ? null : preset?.[key];
    return user ?? fromPreset ?? info.value?.model?.sampling[key] ?? null;
  };
  const hint = (key: "temperature" | "top_p" | "max_tokens" | "seed") => {
    const v = fallback(key);
    if (v === null) return key === "seed" ? t(l, "settings.random") : t(l, "settings.default");
    return t(l, "settings.defaultIs", { v });
  };
  const field = (key: "temperature" | "top_p" | "max_tokens" | "seed", label: string, step: string) => (
    <label class="field">
      <span>{label}</span>
      <input
        name={key}
        type="number"
        step={step}
        placeholder={hint(key)}
        value={s[key] ?? ""}
        onChange={(e) => void setSampling({ ...s, [key]: num((e.target as HTMLInputElement).value) })}
      />
    </label>
  );
  return (
    <div class="sampling">
      {field("temperature", t(l, "settings.temperature"), "0.05")}
      {field("top_p", t(l, "settings.topP"), "0.05")}
      {field("max_tokens", t(l, "settings.maxTokens"), "1")}
      {field("seed", t(l, "settings.seed"), "1")}
      {samplingError.value && (
        <p class="error" id="sampling-error" role="alert">
          {samplingError.value}
        </p>
      )}
    </div>
  );
}

import { useEffect, useState } from "preact/hooks";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { t } from "../i18n";
import { chosenScenario, current, errorLine, info, lang, library, loadModel, modelBusy, sampling, samplingError, scenarios, setSampling } from "../state";

export function ModelBar() {
  const l = lang.value;
  const model = info.value?.model;
  const [path, setPath] = useState("");
  const [dropping, setDropping] = useState(false);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    // A .gguf dropped anywhere on the window becomes the model.
    const un = getCurrentWebview().onDragDropEvent((e) => {
      if (e.payload.type === "over" || e.payload.type === "enter") setDropping(true);
      else if (e.payload.type === "leave") setDropping(false);
      else if (e.payload.type === "drop") {
        setDropping(false);
        const file = e.payload.paths.find((p) => p.toLowerCase().endsWith(".gguf"));
        if (file) void loadModel(file);
      }
    });
    return () => void un.then((f) => f());
  }, []);
  // The library first (checked files, with their quantization), then other recent paths.
  const known = library.value.filter((m) => m.path !== model?.path);
  const recent = (info.value?.recent_models ?? []).filter((p) => p !== model?.path && !known.some((m) => m.path === p));
  return (
    <div class="model-bar">
      <div class="model-current" id="model-current">
        <strong>{t(l, "model.label")}:</strong>{" "}
        {info.value === null ? (
          <span class="muted">{t(l, "model.loading")}</span>
        ) : model?.engine === "remote" ? (
          <span title={model.path} id="model-remote">
            {t(l, "model.remote")} · {model.file_name} · {model.path}
          </span>
        ) : model ? (
          <span title={model.path}>
            {model.file_name} · {model.quantization} · {(model.file_size / 1e9).toFixed(2)} GB
          </span>
        ) : (
          <span class="muted">{t(l, "model.none")}</span>
        )}
      </div>
      <form
        class="model-load"
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) void loadModel(path).then((ok) => ok && setPath(""));
        }}
      >
        <input id="model-path" list="recent-models" placeholder={t(l, "model.path")} value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
        <datalist id="recent-models">
          {known.map((m) => (
            <option key={m.path} value={m.path} label={`${m.file_name} · ${m.quantization} · ${(m.size / 1e9).toFixed(2)} GB`} />
          ))}
          {recent.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        <button id="model-load" disabled={modelBusy.value || !path.trim()}>
          {modelBusy.value ? t(l, "model.loading") : t(l, "model.load")}
        </button>
      </form>
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
      {dropping && <div class="drop-overlay">{t(l, "model.drop")}</div>}
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

import { useEffect, useState } from "preact/hooks";
import { open } from "@tauri-apps/plugin-dialog";
import { api, errorText } from "../api";
import { t, type Key, type Lang } from "../i18n";
import { errorLine, info, lang, loadModel, modelBusy, page, saveSettings } from "../state";
import type { CatalogView, SettingsView } from "../types";
import { gb, size } from "./format";

const STEPS = ["language", "folders", "hardware", "model"] as const;

/** The first start: language, folders, this machine, a model. Skippable; never shown again. */
export function FirstRun() {
  const l = lang.value;
  const [step, setStep] = useState(0);
  const [view, setView] = useState<SettingsView | null>(null);
  const [catalog, setCatalog] = useState<CatalogView | null>(null);
  const [modelsDir, setModelsDir] = useState("");
  const [path, setPath] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void api.getSettings().then((v) => {
      setView(v);
      setModelsDir(v.settings.models_dir ?? "");
    });
    void api.catalog().then(setCatalog, () => undefined);
  }, []);
  const finish = async (then: "chat" | "models") => {
    const s = info.value?.settings;
    if (!s) return;
    try {
      await saveSettings({ ...s, lang: l, models_dir: modelsDir.trim() || null, first_run_done: true });
      page.value = then;
    } catch (e) {
      setError(errorText(e));
    }
  };
  const chooseLang = (x: Lang) => {
    lang.value = x;
    setStep(1);
  };
  const name = STEPS[step];
  const model = info.value?.model;
  const suggested = catalog?.models.find((m) => m.suggested);
  return (
    <div class="first-run" id="first-run">
      <div class="first-run-card">
        <div class="steps">
          {STEPS.map((s, i) => (
            <span key={s} class={i === step ? "step current" : i < step ? "step done" : "step"}>
              {i + 1}. {t(l, `firstrun.step.${s}` as Key)}
            </span>
          ))}
        </div>
        {name === "language" && (
          <div class="first-run-body" id="fr-language">
            <h1>
              <img src="/icon.png" alt="" width={40} height={40} /> {t(l, "firstrun.welcome")}
            </h1>
            <p>{t(l, "firstrun.intro")}</p>
            <div class="lang-choice">
              <button class={l === "zh" ? "primary" : ""} id="fr-zh" onClick={() => chooseLang("zh")}>
                中文
              </button>
              <button class={l === "en" ? "primary" : ""} id="fr-en" onClick={() => chooseLang("en")}>
                English
              </button>
            </div>
          </div>
        )}
        {name === "folders" && view && (
          <div class="first-run-body" id="fr-folders">
            <h2>{t(l, "firstrun.step.folders")}</h2>
            <p>{t(l, "firstrun.dataDir")}</p>
            <code class="path">{view.data_dir}</code>
            <p>{t(l, "firstrun.modelsDir")}</p>
            <div class="form-row">
              <input id="fr-models-dir" value={modelsDir} placeholder={view.models_dir} onInput={(e) => setModelsDir((e.target as HTMLInputElement).value)} />
              <button onClick={() => void open({ directory: true }).then((p) => typeof p === "string" && setModelsDir(p))}>{t(l, "settings.choose")}</button>
            </div>
            <p class="inline-help">{t(l, "firstrun.foldersHelp")}</p>
          </div>
        )}
        {name === "hardware" && view && (
          <div class="first-run-body" id="fr-hardware">
            <h2>{t(l, "firstrun.step.hardware")}</h2>
            <ul class="facts">
              <li>{t(l, "firstrun.cores", { n: view.hardware.cores })}</li>
              <li>{t(l, "firstrun.memory", { total: gb(view.hardware.memory_bytes), free: gb(view.hardware.available_bytes) })}</li>
              <li>{view.hardware.gpus.length ? view.hardware.gpus.map((g) => `GPU: ${g.name} (${gb(g.memory_bytes)})`).join(", ") : t(l, "models.noGpu")}</li>
              <li>{t(l, "firstrun.devices", { list: view.devices.map((d) => d.toUpperCase()).join(", ") })}</li>
            </ul>
            {suggested && (
              <p class="advice">
                {t(l, "models.suggest", { name: suggested.entry.name })} ({t(l, "models.need", { download: size(suggested.download_bytes), memory: size(suggested.memory_bytes) })})
              </p>
            )}
          </div>
        )}
        {name === "model" && (
          <div class="first-run-body" id="fr-model">
            <h2>{t(l, "firstrun.step.model")}</h2>
            {model ? (
              <p class="ok" id="fr-model-ready">
                {t(l, "firstrun.modelReady", { file: model.file_name, quant: model.quantization ?? "" })}
              </p>
            ) : (
              <p>{t(l, "firstrun.modelHelp")}</p>
            )}
            <div class="form-row">
              <input id="fr-model-path" placeholder={t(l, "model.path")} value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
              <button onClick={() => void open({ filters: [{ name: "GGUF", extensions: ["gguf"] }] }).then((p) => typeof p === "string" && void loadModel(p))}>{t(l, "settings.choose")}</button>
              <button id="fr-model-load" class="primary" disabled={modelBusy.value || !path.trim()} onClick={() => void loadModel(path).then((ok) => ok && setPath(""))}>
                {modelBusy.value ? t(l, "model.loading") : t(l, "model.load")}
              </button>
            </div>
            {errorLine.value && <p class="error">{errorLine.value}</p>}
            <p>
              <button class="link" id="fr-download" onClick={() => void finish("models")}>
                {t(l, "firstrun.download")}
              </button>
            </p>
          </div>
        )}
        {error && <p class="error">{error}</p>}
        <div class="first-run-actions">
          <button class="link" id="fr-skip" onClick={() => void finish("chat")}>
            {t(l, "firstrun.skip")}
          </button>
          <span class="spacer" />
          {step > 0 && <button onClick={() => setStep(step - 1)}>{t(l, "firstrun.back")}</button>}
          {step < STEPS.length - 1 ? (
            <button class="primary" id="fr-next" onClick={() => setStep(step + 1)}>
              {t(l, "firstrun.next")}
            </button>
          ) : (
            <button class="primary" id="fr-finish" onClick={() => void finish("chat")}>
              {t(l, "firstrun.finish")}
            </button>
          )}
        </div>
      </div>
    </div>
  );
}

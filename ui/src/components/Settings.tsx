import { useEffect, useState } from "preact/hooks";
import { open } from "@tauri-apps/plugin-dialog";
import { api, errorText } from "../api";
import { t, type Key } from "../i18n";
import { lang, saveSettings, scenarios } from "../state";
import type { DeviceChoice, Settings as S, SettingsView } from "../types";
import { Backups } from "./Backups";
import { StoragePanel } from "./StoragePanel";
import { LibraryPanel } from "./LibraryPanel";
import { McpServers } from "./McpServers";
import { gb } from "./format";

/** The settings page: every choice the app keeps, saved together. */
export function Settings() {
  const l = lang.value;
  const [view, setView] = useState<SettingsView | null>(null);
  const [draft, setDraft] = useState<S | null>(null);
  const [remoteKey, setRemoteKey] = useState("");
  const [serverKey, setServerKey] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string | null } | null>(null);
  const [saving, setSaving] = useState(false);

  const load = async () => {
    const v = await api.getSettings();
    setView(v);
    setDraft(v.settings);
  };
  useEffect(() => {
    void load().catch((e) => setStatus({ ok: false, text: errorText(e) }));
    // The server's counters move while the page is open.
    const timer = setInterval(() => {
      void api.serverStatus().then((server) => setView((v) => (v ? { ...v, server } : v)));
    }, 2000);
    return () => clearInterval(timer);
  }, []);
  if (!view || !draft) return <section class="page" id="settings-page"><p class="muted">{t(l, "model.loading")}</p></section>;

  const set = (patch: Partial<S>) => setDraft({ ...draft, ...patch });
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  const save = async () => {
    setSaving(true);
    setStatus(null);
    try {
      const v = await saveSettings(draft, remoteKey === "" ? undefined : remoteKey, serverKey === "" ? undefined : serverKey);
      setView(v);
      setDraft(v.settings);
      setRemoteKey("");
      setServerKey("");
      setStatus({ ok: true, text: null });
    } catch (e) {
      setStatus({ ok: false, text: errorText(e) });
    } finally {
      setSaving(false);
    }
  };
  const pickFolder = async (current: string): Promise<string | null> => {
    const chosen = await open({ directory: true, defaultPath: current });
    return typeof chosen === "string" ? chosen : null;
  };
  const server = view.server;
  return (
    <section class="page" id="settings-page">
      <header class="page-head">
        <h1>{t(l, "nav.settings")}</h1>
        <div class="page-actions">
          {status && (
            <span class={status.ok ? "ok" : "error"} id="settings-status" role="status">
              {status.text ?? t(l, "settings.saved")}
            </span>
          )}
          <button class="primary" id="settings-save" disabled={saving} onClick={() => void save()}>
            {t(l, "settings.save")}
          </button>
        </div>
      </header>

      <h2>{t(l, "settings.general")}</h2>
      <div class="grid">
        <label class="field">
          <span>{t(l, "settings.language")}</span>
          <select id="set-lang" value={draft.lang ?? ""} onChange={(e) => set({ lang: ((e.target as HTMLSelectElement).value || null) as S["lang"] })}>
            <option value="">{t(l, "settings.system")}</option>
            <option value="zh">中文</option>
            <option value="en">English</option>
          </select>
        </label>
        <label class="field">
          <span>{t(l, "settings.theme")}</span>
          <select id="set-theme" value={draft.theme} onChange={(e) => set({ theme: (e.target as HTMLSelectElement).value as S["theme"] })}>
            <option value="system">{t(l, "settings.system")}</option>
            <option value="light">{t(l, "settings.light")}</option>
            <option value="dark">{t(l, "settings.dark")}</option>
          </select>
        </label>
        <label class="field">
          <span>{t(l, "settings.defaultScenario")}</span>
          <select id="set-scenario" value={draft.default_scenario ?? ""} onChange={(e) => set({ default_scenario: (e.target as HTMLSelectElement).value || null })}>
            <option value="">{t(l, "newchat.free")}</option>
            {scenarios.value.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name[l]}
              </option>
            ))}
          </select>
        </label>
      </div>

      <h2>{t(l, "settings.folders")}</h2>
      <div class="folder-row">
        <span class="label">{t(l, "settings.dataDir")}</span>
        <code id="data-dir">{view.data_dir}</code>
        <button
          onClick={() =>
            void pickFolder(view.data_dir).then(async (p) => {
              if (p) setView(await api.chooseDataDir(p));
            })
          }
        >
          {t(l, "settings.choose")}
        </button>
        {view.next_data_dir !== view.data_dir && (
          <p class="inline-help">
            {t(l, "settings.nextDataDir", { dir: view.next_data_dir })}{" "}
            <button class="link" onClick={() => void api.chooseDataDir(null).then(setView)}>
              {t(l, "settings.useDefault")}
            </button>
          </p>
        )}
      </div>
      <div class="folder-row">
        <span class="label">{t(l, "settings.modelsDir")}</span>
        <input id="set-models-dir" value={draft.models_dir ?? ""} placeholder={view.models_dir} onInput={(e) => set({ models_dir: (e.target as HTMLInputElement).value.trim() || null })} />
        <button onClick={() => void pickFolder(view.models_dir).then((p) => p && set({ models_dir: p }))}>{t(l, "settings.choose")}</button>
      </div>
      <Backups />
      <StoragePanel />

      <h2>{t(l, "settings.engine")}</h2>
      <div class="grid">
        <label class="field">
          <span>{t(l, "settings.device")}</span>
          <select id="set-device" value={draft.device} onChange={(e) => set({ device: (e.target as HTMLSelectElement).value as DeviceChoice })}>
            {view.devices.map((d) => (
              <option key={d} value={d}>
                {d.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>{t(l, "settings.threads")}</span>
          <input id="set-threads" type="number" min="1" placeholder={`${t(l, "settings.auto")} (${view.hardware.cores})`} value={draft.threads ?? ""} onChange={(e) => set({ threads: num((e.target as HTMLInputElement).value) })} />
        </label>
        <label class="field">
          <span>{t(l, "settings.context")}</span>
          <input id="set-context" type="number" min="512" max="131072" step="512" placeholder={t(l, "settings.contextAuto")} value={draft.context ?? ""} onChange={(e) => set({ context: num((e.target as HTMLInputElement).value) })} />
        </label>
      </div>
      <p class="inline-help">
        {t(l, "settings.hardware", { mem: gb(view.hardware.memory_bytes), cores: view.hardware.cores })}
        {view.hardware.gpus.map((g) => ` · ${g.name} (${gb(g.memory_bytes)})`).join("")} · {t(l, "settings.nextStart")}
      </p>
      <h3>{t(l, "settings.samplingDefaults")}</h3>
      <div class="grid">
        {(["temperature", "top_p", "max_tokens", "seed"] as const).map((k) => (
          <label class="field" key={k}>
            <span>{t(l, `settings.${k === "top_p" ? "topP" : k === "max_tokens" ? "maxTokens" : k}` as Key)}</span>
            <input
              name={`default-${k}`}
              type="number"
              step={k === "temperature" || k === "top_p" ? "0.05" : "1"}
              placeholder={t(l, "settings.default")}
              value={draft.sampling[k] ?? ""}
              onChange={(e) => set({ sampling: { ...draft.sampling, [k]: num((e.target as HTMLInputElement).value) } })}
            />
          </label>
        ))}
      </div>
      <p class="inline-help">{t(l, "settings.samplingHelp")}</p>

      <h2>{t(l, "settings.server")}</h2>
      <label class="check">
        <input id="server-enabled" type="checkbox" checked={draft.server.enabled} onChange={(e) => set({ server: { ...draft.server, enabled: (e.target as HTMLInputElement).checked } })} />
        <span>{t(l, "settings.serverOn")}</span>
      </label>
      <div class="grid">
        <label class="field">
          <span>{t(l, "settings.host")}</span>
          <select id="server-host" value={draft.server.host} onChange={(e) => set({ server: { ...draft.server, host: (e.target as HTMLSelectElement).value } })}>
            <option value="127.0.0.1">127.0.0.1</option>
            <option value="localhost">localhost</option>
            <option value="::1">::1</option>
          </select>
        </label>
        <label class="field">
          <span>{t(l, "settings.port")}</span>
          <input id="server-port" type="number" min="1024" max="65535" value={draft.server.port} onChange={(e) => set({ server: { ...draft.server, port: Number((e.target as HTMLInputElement).value) } })} />
        </label>
        <label class="field">
          <span>{t(l, "settings.servedName")}</span>
          <input id="server-name" value={draft.server.served_model_name} onInput={(e) => set({ server: { ...draft.server, served_model_name: (e.target as HTMLInputElement).value } })} />
        </label>
      </div>
      <label class="check">
        <input id="server-require-key" type="checkbox" checked={draft.server.require_key} onChange={(e) => set({ server: { ...draft.server, require_key: (e.target as HTMLInputElement).checked } })} />
        <span>{t(l, "settings.requireKey")}</span>
        <input id="server-key" type="password" autocomplete="off" placeholder={view.has_server_key ? t(l, "settings.keySet") : t(l, "settings.keyNone")} value={serverKey} onInput={(e) => setServerKey((e.target as HTMLInputElement).value)} />
      </label>
      <p class={`server-status ${server.running ? "ok" : server.error ? "error" : "muted"}`} id="server-status">
        {server.running
          ? t(l, "settings.serverRunning", { addr: server.address ?? "", n: server.received, done: server.completed })
          : server.error
            ? t(l, "settings.serverError", { error: server.error })
            : t(l, "settings.serverOff")}
      </p>
      {server.running && server.address && (
        <pre class="snippet" id="server-snippet">{`from openai import OpenAI
client = OpenAI(base_url="${server.address}", api_key="${server.requires_key ? "<your key>" : "none"}")
r = client.chat.completions.create(model="${draft.server.served_model_name}", messages=[{"role": "user", "content": "…"}])
print(r.choices[0].message.reasoning_content, r.choices[0].message.content)`}</pre>
      )}

      <h2>{t(l, "settings.remote")}</h2>
      <label class="check">
        <input id="remote-enabled" type="checkbox" checked={draft.remote.enabled} onChange={(e) => set({ remote: { ...draft.remote, enabled: (e.target as HTMLInputElement).checked } })} />
        <span>{t(l, "settings.remoteOn")}</span>
      </label>
      <div class="grid">
        <label class="field wide">
          <span>{t(l, "settings.baseUrl")}</span>
          <input id="remote-url" value={draft.remote.base_url} placeholder="http://gpu-server:8000/v1" onInput={(e) => set({ remote: { ...draft.remote, base_url: (e.target as HTMLInputElement).value } })} />
        </label>
        <label class="field">
          <span>{t(l, "settings.remoteModel")}</span>
          <input id="remote-model" value={draft.remote.model} onInput={(e) => set({ remote: { ...draft.remote, model: (e.target as HTMLInputElement).value } })} />
        </label>
        <label class="field">
          <span>{t(l, "settings.apiKey")}</span>
          <input id="remote-key" type="password" autocomplete="off" placeholder={view.has_remote_key ? t(l, "settings.keySet") : t(l, "settings.keyNone")} value={remoteKey} onInput={(e) => setRemoteKey((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <p class="inline-help">{t(l, "settings.remoteHelp")}</p>
      <p class={view.secrets === "keychain" ? "inline-help" : "inline-help warning"} id="secrets-vault">
        {t(l, view.secrets === "keychain" ? "settings.keychain" : "settings.noKeychain")}
      </p>
      <LibraryPanel />
      <McpServers />
    </section>
  );
}

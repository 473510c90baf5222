import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { t } from "../i18n";
import { lang } from "../state";
import type { McpConfigView, McpServerStatus } from "../types";

/** Settings' MCP servers: the `mcpServers` file other apps write, edited as it is, saved on its
 *  own (it is a file in the data folder, not a setting), and each server's tools once checked. */
export function McpServers() {
  const l = lang.value;
  const [view, setView] = useState<McpConfigView | null>(null);
  const [text, setText] = useState("");
  const [servers, setServers] = useState<McpServerStatus[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ ok: boolean; text: string | null } | null>(null);

  useEffect(() => {
    void api
      .mcpConfig()
      .then((v) => {
        setView(v);
        setText(v.text);
      })
      .catch((e) => setStatus({ ok: false, text: errorText(e) }));
  }, []);

  const save = async () => {
    setBusy(true);
    setStatus(null);
    try {
      const v = await api.saveMcpConfig(text, view?.loaded ?? null);
      setView(v);
      setText(v.text);
      setServers(null);
      setStatus({ ok: true, text: null });
    } catch (e) {
      setStatus({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  const check = async () => {
    setBusy(true);
    setStatus(null);
    try {
      setServers(await api.mcpServers());
    } catch (e) {
      setStatus({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div id="mcp-settings">
      <h2>{t(l, "mcp.title")}</h2>
      <p class="inline-help">{t(l, "mcp.help", { path: view?.path ?? "mcp.json" })}</p>
      <textarea id="mcp-config" class="code" rows={10} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div class="row">
        <button id="mcp-save" class="primary" disabled={busy || view === null} onClick={() => void save()}>
          {t(l, "mcp.save")}
        </button>
        <button id="mcp-check" disabled={busy} onClick={() => void check()}>
          {busy ? t(l, "mcp.checking") : t(l, "mcp.check")}
        </button>
        {status?.ok && <span class="ok">{t(l, "mcp.saved")}</span>}
        {status && !status.ok && <span class="error" id="mcp-error">{status.text}</span>}
      </div>
      {view && view.problems.length > 0 && (
        <ul class="inline-help warning" id="mcp-problems">
          {view.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {servers !== null && servers.length === 0 && <p class="muted">{t(l, "mcp.none")}</p>}
      {servers !== null && servers.length > 0 && (
        <ul class="mcp-servers" id="mcp-servers">
          {servers.map((s) => (
            <li key={s.name} data-server={s.name} data-connected={s.connected ? "yes" : "no"}>
              <strong>{s.name}</strong> · {s.transport || "?"} ·{" "}
              {s.disabled ? t(l, "mcp.disabled") : s.connected ? t(l, "mcp.connected", { n: s.tools.length }) : t(l, "mcp.notConnected")}
              {s.problem && <div class="inline-help warning">{s.problem}</div>}
              {s.tools.length > 0 && (
                <div class="mcp-tools">
                  {s.tools.map((tool) => (
                    <span key={tool.call_name} class="mcp-tool" title={tool.description}>
                      {tool.name}
                      {tool.always_allowed ? ` (${t(l, "mcp.always")})` : ""}
                    </span>
                  ))}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { t, type Key } from "../i18n";
import { lang } from "../state";
import type { BackupsView } from "../types";

function size(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** Settings' backups: the store's copies (one a day, one before each update of its format, and
 *  those made here), a copy now, and one chosen to replace the conversations at the next start. */
export function Backups() {
  const l = lang.value;
  const [view, setView] = useState<BackupsView | null>(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    void api.listBackups().then(setView, (e) => setMsg({ ok: false, text: errorText(e) }));
  }, []);
  const act = async (work: () => Promise<BackupsView>, ok: string) => {
    setBusy(true);
    setMsg(null);
    try {
      setView(await work());
      setMsg({ ok: true, text: ok });
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  const when = (ms: number) => new Date(ms).toLocaleString(l === "zh" ? "zh-CN" : "en-GB");
  return (
    <div id="backups">
      <h2>{t(l, "backup.title")}</h2>
      <p class="inline-help">{t(l, "backup.help", { dir: view?.dir ?? "" })}</p>
      <div class="form-row">
        <button
          id="backup-now"
          disabled={busy}
          onClick={() =>
            void act(async () => {
              await api.createBackup();
              return api.listBackups();
            }, t(l, "backup.made"))
          }
        >
          {t(l, "backup.now")}
        </button>
        {msg && <span class={msg.ok ? "ok" : "error"} id="backup-msg">{msg.text}</span>}
      </div>
      {view?.restore_on_restart && (
        <p class="inline-help" id="backup-pending">
          {t(l, "backup.pending", { file: view.restore_on_restart })}{" "}
          <button class="link" onClick={() => void act(() => api.restoreBackupOnRestart(null), t(l, "backup.undone"))}>
            {t(l, "backup.undo")}
          </button>
        </p>
      )}
      {view && view.backups.length === 0 && <p class="muted">{t(l, "backup.none")}</p>}
      {view && view.backups.length > 0 && (
        <table class="backups">
          <tbody>
            {view.backups.map((b) => (
              <tr key={b.path}>
                <td>{when(b.created_ms)}</td>
                <td>{t(l, `backup.reason.${b.reason}` as Key)}</td>
                <td>{size(b.size)}</td>
                <td>
                  <button
                    class="link"
                    disabled={busy || view.restore_on_restart === b.path}
                    onClick={() => void act(() => api.restoreBackupOnRestart(b.path), t(l, "backup.chosen"))}
                  >
                    {t(l, "backup.restore")}
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

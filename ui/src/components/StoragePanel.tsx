import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { t } from "../i18n";
import { lang } from "../state";
import type { StoreSize } from "../bindings";
import { size } from "./format";

/** Settings' storage: what the store holds (documents' share named), dropping the read text
 *  of old attachments (names and SHA-256 stay for the reports), and compacting the file. */
export function StoragePanel() {
  const l = lang.value;
  const [view, setView] = useState<StoreSize | null>(null);
  const [days, setDays] = useState("30");
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  // Dropping asks twice: the first click says what it will do.
  const [armed, setArmed] = useState(false);
  const refresh = () => void api.storeSize().then(setView, (e) => setMsg({ ok: false, text: errorText(e) }));
  useEffect(refresh, []);
  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    setMsg(null);
    try {
      setMsg({ ok: true, text: await work() });
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
      refresh();
    }
  };
  const n = Number(days);
  const validDays = days.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= 36500;
  const total = view ? view.file_bytes + view.wal_bytes : 0;
  const share = view && total > 0 ? Math.round((100 * view.documents_bytes) / total) : 0;
  return (
    <div id="storage">
      <h2>{t(l, "storage.title")}</h2>
      {view && (
        <p id="storage-size">
          {t(l, "storage.size", { total: size(total), wal: size(view.wal_bytes), free: size(view.free_bytes) })}
          <br />
          {t(l, "storage.parts", { docs: size(view.documents_bytes), share, n: view.documents, messages: size(view.messages_bytes), library: size(view.library_bytes) })}
        </p>
      )}
      <div class="form-row">
        <label>
          {t(l, "storage.olderThan")}{" "}
          <input id="storage-days" class="narrow" value={days} inputMode="numeric" onInput={(e) => setDays((e.target as HTMLInputElement).value)} aria-invalid={!validDays} />{" "}
          {t(l, "storage.days")}
        </label>
        <button
          id="storage-drop"
          disabled={busy || !validDays || !view || view.documents_with_text === 0}
          onClick={() => {
            if (!armed) return setArmed(true);
            setArmed(false);
            void act(async () => {
              const d = await api.dropDocumentText(n);
              return t(l, "storage.dropped", { n: d.documents, bytes: size(d.bytes) });
            });
          }}
          onBlur={() => setArmed(false)}
        >
          {armed ? t(l, "storage.confirm", { n: view?.documents_with_text ?? 0 }) : t(l, "storage.drop")}
        </button>
        <button id="storage-compact" disabled={busy} onClick={() => void act(async () => t(l, "storage.compacted", { bytes: size(await api.compactStore()) }))}>
          {t(l, "storage.compact")}
        </button>
      </div>
      {!validDays && <p class="error">{t(l, "storage.badDays")}</p>}
      <p class="inline-help">{t(l, "storage.help")}</p>
      {msg && (
        <p class={msg.ok ? "ok" : "error"} id="storage-message">
          {msg.text}
        </p>
      )}
    </div>
  );
}

import { useEffect, useState } from "preact/hooks";
import { writeText } from "@tauri-apps/plugin-clipboard-manager";
import { api, errorText } from "../api";
import { t } from "../i18n";
import { lang } from "../state";
import type { About as AboutInfo, Dependency } from "../types";

/** Version, Fin-R1's citation, the disclaimer, diagnostics, and every bundled licence. */
export function About() {
  const l = lang.value;
  const [about, setAbout] = useState<AboutInfo | null>(null);
  const [filter, setFilter] = useState("");
  const [diag, setDiag] = useState<{ text: string; copied: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void api.about().then(setAbout, (e) => setError(errorText(e)));
  }, []);
  const copyDiagnostics = async () => {
    const text = await api.diagnostics();
    let copied = false;
    try {
      await writeText(text);
      copied = true;
    } catch {
      // No clipboard access: the text is shown selected, for Ctrl+C.
    }
    setDiag({ text, copied });
  };
  const match = (d: Dependency) => !filter || `${d.name} ${d.license}`.toLowerCase().includes(filter.toLowerCase());
  return (
    <section class="page" id="about-page">
      <header class="page-head">
        <h1>
          <img src="/icon.png" alt="" width={32} height={32} /> Fin-R1 Desktop {about?.version}
        </h1>
      </header>
      {error && <p class="error">{error}</p>}
      <p>{t(l, "about.what")}</p>
      <p class="disclaimer-box" id="about-disclaimer">
        {t(l, "about.reference")}
      </p>
      <h2>{t(l, "about.diagnostics")}</h2>
      <div class="form-row">
        <button class="primary" id="copy-diagnostics" onClick={() => void copyDiagnostics()}>
          {t(l, "about.copyDiagnostics")}
        </button>
        <button id="open-logs" onClick={() => void api.openLogFolder()}>
          {t(l, "about.openLogs")}
        </button>
        {diag && <span class="ok">{diag.copied ? t(l, "message.copied") : t(l, "about.selectCopy")}</span>}
      </div>
      {diag && (
        <textarea id="diagnostics" class="diagnostics" readOnly rows={14} ref={(el) => el?.select()}>
          {diag.text}
        </textarea>
      )}
      <h2>{t(l, "about.citation")}</h2>
      <p>
        {t(l, "about.citationHelp")}{" "}
        {about && (
          <a href={about.model_card} id="model-card">
            {about.model_card}
          </a>
        )}
      </p>
      <pre class="snippet" id="citation">
        {about?.citation}
      </pre>
      <h2>{t(l, "about.licences")}</h2>
      <p>
        {t(l, "about.ownLicence", { licence: about?.licence ?? "" })}{" "}
        {about && t(l, "about.counts", { rust: about.licences.rust.length, npm: about.licences.npm.length })}
      </p>
      <input class="search" id="licence-filter" placeholder={t(l, "about.filter")} value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      {about && (
        <table class="library licences" id="licences">
          <thead>
            <tr>
              <th>{t(l, "about.component")}</th>
              <th>{t(l, "about.version")}</th>
              <th>{t(l, "about.licence")}</th>
            </tr>
          </thead>
          <tbody>
            {(
              [
                ["fonts", about.licences.fonts],
                ["npm", about.licences.npm],
                ["Rust", about.licences.rust],
              ] as const
            ).flatMap(([kind, list]) =>
              list.filter(match).map((d) => (
                <tr key={`${kind}-${d.name}-${d.version}`}>
                  <td>
                    {d.repository ? <a href={d.repository}>{d.name}</a> : d.name} <span class="muted small">{kind}</span>
                  </td>
                  <td>{d.version}</td>
                  <td>{d.license}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}

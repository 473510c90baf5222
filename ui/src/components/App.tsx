import { useEffect } from "preact/hooks";
import { current, info, isStreaming, newChat, notice, notices, page, refreshInfo, refreshLibrary, stop } from "../state";
import { listen } from "@tauri-apps/api/event";
import { About } from "./About";
import { Evaluate } from "./Evaluate";
import { FirstRun } from "./FirstRun";
import { Models } from "./Models";
import { Settings } from "./Settings";
import { ChatView } from "./ChatView";
import { ModelBar } from "./ModelBar";
import { NewChat } from "./NewChat";
import { Sidebar } from "./Sidebar";
import { t } from "../i18n";
import { lang } from "../state";
import { DocumentViewer } from "./Attachments";
import { PageView } from "./PageView";

export function App() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "n") {
        e.preventDefault();
        newChat();
      } else if (mod && e.key.toLowerCase() === "k") {
        e.preventDefault();
        document.getElementById("search")?.focus();
      } else if (e.key === "Escape" && isStreaming() && !document.querySelector(".modal-back")) {
        // Escape closes an open dialog (a cited page, a document) first; only then stops.
        e.preventDefault();
        void stop();
      }
    };
    window.addEventListener("keydown", onKey);
    // A model opened from the file manager while the app runs.
    const un = listen("model-changed", () => void refreshInfo());
    // A library folder whose files changed was read again while the app runs.
    const unLibrary = listen("library-changed", () => void refreshLibrary().catch(() => undefined));
    return () => {
      window.removeEventListener("keydown", onKey);
      void un.then((f) => f());
      void unLibrary.then((f) => f());
    };
  }, []);
  const n = notice.value;
  const p = page.value;
  const firstRun = info.value !== null && !info.value.settings.first_run_done;
  return (
    <div class="app">
      <Sidebar />
      <main class="main">
        <ModelBar />
        {notices.value.map((text, i) => (
          <div class="banner" role="alert" key={i}>
            <span>{text}</span>
            <button class="link" onClick={() => (notices.value = notices.value.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <DocumentViewer />
        <PageView />
        {p === "evaluate" ? <Evaluate /> : p === "models" ? <Models /> : p === "settings" ? <Settings /> : p === "about" ? <About /> : current.value ? <ChatView /> : <NewChat />}
        <footer class="disclaimer">{t(lang.value, "disclaimer")}</footer>
      </main>
      {firstRun && <FirstRun />}
      {n && (
        <div class="notice" role="status">
          <span>{n.text}</span>
          {n.undo && (
            <button class="link" id="undo" onClick={() => n.undo?.()}>
              {t(lang.value, "sidebar.undo")}
            </button>
          )}
        </div>
      )}
    </div>
  );
}

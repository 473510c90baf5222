import { useEffect } from "preact/hooks";
import { current, isStreaming, newChat, notice, stop } from "../state";
import { ChatView } from "./ChatView";
import { ModelBar } from "./ModelBar";
import { NewChat } from "./NewChat";
import { Sidebar } from "./Sidebar";
import { t } from "../i18n";
import { lang } from "../state";

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
      } else if (e.key === "Escape" && isStreaming()) {
        e.preventDefault();
        void stop();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const n = notice.value;
  return (
    <div class="app">
      <Sidebar />
      <main class="main">
        <ModelBar />
        {current.value ? <ChatView /> : <NewChat />}
        <footer class="disclaimer">{t(lang.value, "disclaimer")}</footer>
      </main>
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

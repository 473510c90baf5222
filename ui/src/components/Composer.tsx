import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n";
import { draft, info, isStreaming, lang, live, send, stop } from "../state";

export function Composer() {
  const l = lang.value;
  const streaming = live.value?.status === "streaming";
  const noModel = !info.value?.model;
  // A new chat (Ctrl+N) and the chat that replaces it after the first question take the keys.
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => box.current?.focus(), []);
  const submit = () => {
    const q = draft.value.trim();
    if (!q || isStreaming() || noModel) return;
    void send({ kind: "ask", question: q });
  };
  return (
    <div class="composer">
      <textarea
        ref={box}
        id="composer"
        rows={3}
        placeholder={t(l, "composer.placeholder")}
        value={draft.value}
        disabled={noModel}
        onInput={(e) => (draft.value = (e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          // An IME composing Chinese uses Enter to pick characters: not a send.
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      {streaming ? (
        <button class="stop" id="stop" onClick={() => void stop()}>
          ■ {t(l, "composer.stop")}
        </button>
      ) : (
        <button class="primary" id="send" disabled={noModel || !draft.value.trim()} onClick={submit}>
          {t(l, "composer.send")}
        </button>
      )}
    </div>
  );
}

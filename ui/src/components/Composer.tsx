import { t } from "../i18n";
import { draft, info, isStreaming, lang, live, send, stop } from "../state";

export function Composer() {
  const l = lang.value;
  const streaming = live.value?.status === "streaming";
  const noModel = !info.value?.model;
  const submit = () => {
    const q = draft.value.trim();
    if (!q || isStreaming() || noModel) return;
    void send({ kind: "ask", question: q });
  };
  return (
    <div class="composer">
      <textarea
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

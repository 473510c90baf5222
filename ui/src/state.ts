// The UI's state as signals, and the actions that change it. Components read the signals they
// show, so a token re-renders the streaming message only, never the whole list.

import { batch, signal } from "@preact/signals";
import { api, errorText } from "./api";
import type { Lang } from "./i18n";
import { systemLang } from "./i18n";
import { applyMessage, emptyLive, type LiveAnswer } from "./stream";
import type {
  AppInfo,
  ConversationSummary,
  ConversationView,
  LibraryModel,
  SamplingOverrides,
  Scenario,
  SearchHit,
  TurnKind,
} from "./types";

export const lang = signal<Lang>(systemLang(typeof navigator === "undefined" ? undefined : navigator.language));
export const info = signal<AppInfo | null>(null);
export const library = signal<LibraryModel[]>([]);
export const conversations = signal<ConversationSummary[]>([]);
export const current = signal<ConversationView | null>(null);
export const live = signal<LiveAnswer | null>(null);
export const scenarios = signal<Scenario[]>([]);
export const brokenScenarios = signal<string[]>([]);
/** The preset picked for a new conversation; `null` with `newChat` is a free question. */
export const chosenScenario = signal<Scenario | null>(null);
export const formValues = signal<Record<string, string>>({});
export const searchQuery = signal("");
export const searchHits = signal<SearchHit[] | null>(null);
export const sampling = signal<SamplingOverrides>({});
export const draft = signal("");
export const modelBusy = signal(false);
export const notice = signal<{ text: string; undo?: () => void } | null>(null);
export const errorLine = signal<string | null>(null);
/** Ticks once a second while an answer streams (the reasoning timer reads it). */
export const now = signal(Date.now());

let ticker: ReturnType<typeof setInterval> | null = null;
function startTicker() {
  if (ticker === null) ticker = setInterval(() => (now.value = Date.now()), 1000);
}
function stopTicker() {
  if (ticker !== null) clearInterval(ticker);
  ticker = null;
}

export async function boot() {
  const saved = await api.getSetting<Lang>("ui.lang").catch(() => null);
  if (saved === "zh" || saved === "en") lang.value = saved;
  await Promise.all([refreshInfo(), refreshConversations(), refreshScenarios()]);
}

export async function refreshInfo() {
  info.value = await api.appInfo();
  library.value = await api.listModels().catch(() => []);
}

export async function refreshConversations() {
  conversations.value = await api.listConversations();
}

export async function refreshScenarios() {
  const list = await api.scenarios();
  batch(() => {
    scenarios.value = list.scenarios;
    brokenScenarios.value = list.broken;
  });
}

export async function setLang(l: Lang) {
  lang.value = l;
  await api.setSetting("ui.lang", l);
}

export function newChat() {
  if (live.value && live.value.status === "streaming") return;
  batch(() => {
    current.value = null;
    chosenScenario.value = null;
    formValues.value = {};
    draft.value = "";
    errorLine.value = null;
  });
}

export async function openConversation(id: number) {
  const view = await api.openConversation(id);
  const saved = await api.getSetting<SamplingOverrides>(`ui.sampling.${id}`).catch(() => null);
  batch(() => {
    current.value = view;
    sampling.value = saved ?? {};
    errorLine.value = null;
    if (live.value && live.value.conversationId !== id) live.value = null;
  });
}

export async function setSampling(s: SamplingOverrides) {
  sampling.value = s;
  const id = current.value?.conversation.id;
  if (id !== undefined) await api.setSetting(`ui.sampling.${id}`, s);
}

/** Loads a GGUF as the model; false (with the reason shown) if it cannot be used. */
export async function loadModel(path: string): Promise<boolean> {
  modelBusy.value = true;
  errorLine.value = null;
  try {
    await api.loadModel(path.trim());
    await refreshInfo();
    return true;
  } catch (e) {
    errorLine.value = errorText(e);
    return false;
  } finally {
    modelBusy.value = false;
  }
}

export function isStreaming(): boolean {
  return live.value?.status === "streaming";
}

/** Sends a turn and streams it into `live`; the stored conversation is reloaded around it. */
export async function send(turn: TurnKind) {
  if (isStreaming()) return;
  if (!info.value?.model) {
    errorLine.value = null;
    return;
  }
  const view = current.value;
  const scenario = view ? null : chosenScenario.value;
  errorLine.value = null;
  live.value = emptyLive();
  // The question is on its way: the composer empties (and gets it back if the send fails).
  const typed = draft.value;
  if (turn.kind === "ask") draft.value = "";
  startTicker();
  let reloaded = false;
  try {
    const summary = await api.send(
      {
        conversationId: view?.conversation.id ?? null,
        turn,
        scenario: scenario?.id ?? null,
        form: view ? {} : formValues.value,
        lang: lang.value,
        sampling: sampling.value,
      },
      (msg) => {
        const next = applyMessage(live.value ?? emptyLive(), msg, Date.now());
        live.value = next;
        if (msg.type === "started" && !reloaded) {
          reloaded = true;
          // Show the stored question and the answer's row at once; the text streams into it.
          void api.openConversation(msg.conversation_id).then((v) => {
            current.value = v;
            if (msg.created) {
              void api.setSetting(`ui.sampling.${msg.conversation_id}`, sampling.value);
              void refreshConversations();
            }
          });
        }
      },
    );
    const v = await api.openConversation(summary.conversation_id);
    batch(() => {
      current.value = v;
      live.value = null;
      if (summary.save_error) errorLine.value = summary.save_error;
    });
    await refreshConversations();
  } catch (e) {
    batch(() => {
      errorLine.value = errorText(e);
      live.value = null;
      if (turn.kind === "ask" && !draft.value) draft.value = typed;
    });
  } finally {
    stopTicker();
  }
}

export async function stop() {
  const id = live.value?.answerId;
  if (id !== null && id !== undefined) await api.stop(id);
}

export async function showBranch(messageId: number) {
  const view = current.value;
  if (!view || isStreaming()) return;
  current.value = await api.showBranch(view.conversation.id, messageId);
}

export async function deleteConversation(id: number, title: string, deletedText: string) {
  await api.remove(id);
  if (current.value?.conversation.id === id) newChat();
  await refreshConversations();
  notice.value = {
    text: deletedText.replace("{title}", title),
    undo: async () => {
      await api.restore(id);
      notice.value = null;
      await refreshConversations();
    },
  };
  setTimeout(() => {
    if (notice.value?.text === deletedText.replace("{title}", title)) notice.value = null;
  }, 10_000);
}

export async function runSearch(q: string) {
  searchQuery.value = q;
  if (!q.trim()) {
    searchHits.value = null;
    return;
  }
  const hits = await api.search(q);
  if (searchQuery.value === q) searchHits.value = hits;
}

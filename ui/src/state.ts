// The UI's state as signals, and the actions that change it. Components read the signals they
// show, so a token re-renders the streaming message only, never the whole list.

import { batch, effect, signal } from "@preact/signals";
import { api, errorText } from "./api";
import type { Lang } from "./i18n";
import { systemLang } from "./i18n";
import { applyMessage, emptyLive, type LiveAnswer } from "./stream";
import { missingFields } from "./formRows";
import { readyPaths, sent, withAttachedFiles } from "./attach";
import type {
  AppInfo,
  LibraryCollection,
  LibraryFolder,
  LibraryScope,
  ConversationSummary,
  Settings,
  SettingsView,
  Theme,
  ConversationView,
  LibraryModel,
  SamplingOverrides,
  Scenario,
  SearchHit,
  TurnKind,
} from "./types";

export type Page = "chat" | "evaluate" | "models" | "settings" | "about";
export const page = signal<Page>("chat");
/** Messages from the shell to show until dismissed (settings reset, last crash). */
export const notices = signal<string[]>([]);
/** The language chosen in Settings, kept in the page's storage too, so a Chinese UI starts in
 * Chinese instead of flashing the system's language until the settings arrive. */
function firstLang(): Lang {
  try {
    const kept = localStorage.getItem("fin-r1.lang");
    if (kept === "zh" || kept === "en") return kept;
  } catch {
    // No storage (tests): the system's language.
  }
  return systemLang(typeof navigator === "undefined" ? undefined : navigator.language);
}
export const lang = signal<Lang>(firstLang());
effect(() => {
  if (typeof document !== "undefined") document.documentElement.lang = lang.value === "zh" ? "zh-CN" : "en";
});

/** The settings' language: a choice is kept for the next start; none follows the system. */
function applyLang(chosen: Lang | null | undefined) {
  try {
    if (chosen) localStorage.setItem("fin-r1.lang", chosen);
    else localStorage.removeItem("fin-r1.lang");
  } catch {
    // Not kept: the next start guesses from the system.
  }
  lang.value = chosen ?? systemLang(typeof navigator === "undefined" ? undefined : navigator.language);
}
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
/** The preset's required fields a send found empty (marked in the form until filled). */
export const formMissing = signal<string[]>([]);
/** Counts refused sends, so the form brings its first empty field into view each time. */
export const formRefusals = signal(0);
export const searchQuery = signal("");
export const searchHits = signal<SearchHit[] | null>(null);
export const sampling = signal<SamplingOverrides>({});
/** Why the sampling panel's last change was refused; cleared by the next one that is kept. */
export const samplingError = signal<string | null>(null);
export const draft = signal("");
/** Ask the library with the next questions: its best passages go with each, numbered to cite. */
export const askLibrary = signal(false);
/** Folders in the library (for the composer's toggle and Settings). */
export const libraryFolders = signal<LibraryFolder[]>([]);
/** Hand-picked sets of the library's files. */
export const libraryCollections = signal<LibraryCollection[]>([]);
/** Which of the library a question asked of it is asked of: all of it, a folder, a collection. */
export const libraryScope = signal<LibraryScope>({ folder: null, collection: null });
export async function refreshLibrary() {
  const [folders, collections] = await Promise.all([api.libraryFolders(), api.libraryCollections()]);
  libraryFolders.value = folders;
  libraryCollections.value = collections;
  if (folders.length === 0) askLibrary.value = false;
  // A scope whose folder or collection is gone falls back to the whole library.
  const { folder, collection } = libraryScope.value;
  if ((folder !== null && !folders.some((f) => f.id === folder)) || (collection !== null && !collections.some((c) => c.id === collection))) {
    libraryScope.value = { folder: null, collection: null };
  }
}
export const modelBusy = signal(false);
export const notice = signal<{ text: string; undo?: () => void } | null>(null);
export const errorLine = signal<string | null>(null);
/** Ticks once a second while an answer streams (the reasoning timer reads it). */
export const now = signal(Date.now());

let ticker: ReturnType<typeof setInterval> | null = null;
/** Sends in flight (one left behind by a new chat may still be running). */
let ticking = 0;
function startTicker() {
  ticking += 1;
  if (ticker === null) ticker = setInterval(() => (now.value = Date.now()), 1000);
}
function stopTicker() {
  ticking = Math.max(0, ticking - 1);
  if (ticking === 0 && ticker !== null) {
    clearInterval(ticker);
    ticker = null;
  }
}

export async function boot() {
  await Promise.all([refreshInfo(), refreshConversations(), refreshScenarios()]);
  const s = info.value?.settings;
  if (s) {
    applyLang(s.lang === "zh" || s.lang === "en" ? s.lang : null);
    applyTheme(s.theme);
  }
  if (info.value?.notices.length) notices.value = [...notices.value, ...info.value.notices];
  if (s?.default_scenario) chosenScenario.value = scenarios.value.find((x) => x.id === s.default_scenario) ?? null;
  // Where the analyst was: the conversation open when the app closed (if it is still there).
  if (s?.first_run_done && !navigated) {
    const last = await api.getSetting<number>(LAST_CONVERSATION).catch(() => null);
    // Not over where the analyst went meanwhile (the model may take seconds to load again).
    if (typeof last === "number" && !navigated && current.value === null && page.value === "chat" && conversations.value.some((c) => c.id === last)) {
      await openConversation(last, true).catch(() => undefined);
    }
  }
  restored = true;
  if (current.value) rememberOpen(current.value.conversation.id);
  watchOtherWriters();
}

/** The analyst opened something before the start restored the last conversation. */
let navigated = false;

const LAST_CONVERSATION = "ui.last_conversation";
/** Set once the start has restored the last conversation: before, an empty view is not news. */
let restored = false;
let lastSaved: number | null | undefined;
/** Keeps which conversation is open, for the next start. */
function rememberOpen(id: number | null) {
  if (!restored || id === lastSaved) return;
  lastSaved = id;
  void api.setSetting(LAST_CONVERSATION, id).catch(() => undefined);
}

/** Conversations written by the CLI or another window appear without a restart, and the one
 *  open here is read again when it changed elsewhere (never while an answer streams into it). */
let watching: ReturnType<typeof setInterval> | null = null;
function watchOtherWriters() {
  if (watching !== null || typeof window === "undefined") return;
  const look = async () => {
    if (isStreaming() || document.hidden || editingQuestion.value !== null) return;
    const before = current.value;
    await refreshConversations().catch(() => undefined);
    const open = before && conversations.value.find((c) => c.id === before.conversation.id);
    if (open && current.value === before && open.updated_at > before.conversation.updated_at && !isStreaming()) {
      await reloadConversation(open.id).catch(() => undefined);
    }
  };
  watching = setInterval(() => void look(), 5000);
  window.addEventListener("focus", () => void look());
}

export async function refreshInfo() {
  info.value = await api.appInfo();
  library.value = await api.listModels().catch(() => []);
}

let chosenTheme: Theme = "system";
/** The palette last shown, so a dark app does not start light until its settings arrive. */
export function lastTheme(): Theme {
  try {
    const kept = localStorage.getItem("fin-r1.theme");
    if (kept === "light" || kept === "dark" || kept === "system") return kept;
  } catch {
    // No storage.
  }
  return "system";
}
/** The light or dark palette; "system" follows the desktop, also when it changes. */
export function applyTheme(theme: Theme) {
  if (typeof document === "undefined") return;
  chosenTheme = theme;
  try {
    localStorage.setItem("fin-r1.theme", theme);
  } catch {
    // Not kept: the next start shows the system's palette until the settings arrive.
  }
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  document.documentElement.dataset.theme = theme === "system" ? (dark.matches ? "dark" : "light") : theme;
}
if (typeof window !== "undefined" && window.matchMedia) {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (chosenTheme === "system") applyTheme("system");
  });
}

/** Saves settings and keeps the copy the app reads in step. */
export async function saveSettings(next: Settings, remoteKey?: string, serverKey?: string): Promise<SettingsView> {
  const view = await api.saveSettings(next, remoteKey, serverKey);
  batch(() => {
    if (info.value) info.value = { ...info.value, settings: view.settings };
    applyLang(view.settings.lang);
  });
  applyTheme(view.settings.theme);
  // The engine may have changed (remote on or off).
  await refreshInfo();
  return view;
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
  const s = info.value?.settings;
  if (s) await saveSettings({ ...s, lang: l });
}

export function newChat() {
  navigated = true;
  // An answer being written goes on in its conversation (and into the store) without the view.
  detachLive();
  rememberOpen(null);
  const preset = info.value?.settings.default_scenario;
  batch(() => {
    page.value = "chat";
    current.value = null;
    chosenScenario.value = scenarios.value.find((x) => x.id === preset) ?? null;
    formValues.value = {};
    formMissing.value = [];
    draft.value = "";
    errorLine.value = null;
    // A new chat starts from the defaults, not from the last conversation's panel.
    sampling.value = {};
    samplingError.value = null;
  });
}

/**
 * Conversation reloads, sequenced: each takes a number, and only the newest one issued may
 * write `current` (a slow reload started at "started" once landed after the final one and put
 * a stale "streaming" row back on screen).
 */
let reloadSeq = 0;

/**
 * Which send owns `live`: leaving a streaming answer (a new chat, another conversation) hands
 * it back, so the answer, still written to the store, no longer draws here or pulls the view
 * back to its conversation when it ends.
 */
let liveOwner = 0;
function detachLive() {
  if (live.value === null) return;
  liveOwner += 1;
  live.value = null;
}
export async function reloadConversation(id: number): Promise<ConversationView | null> {
  const mine = ++reloadSeq;
  const view = await api.openConversation(id);
  if (mine !== reloadSeq) return null;
  current.value = view;
  return view;
}

export async function openConversation(id: number, restoring = false) {
  if (!restoring) navigated = true;
  const mine = ++reloadSeq;
  const view = await api.openConversation(id);
  if (mine !== reloadSeq) return;
  rememberOpen(id);
  batch(() => {
    page.value = "chat";
    current.value = view;
    sampling.value = setFields(view.conversation.sampling);
    samplingError.value = null;
    errorLine.value = null;
    if (live.value && live.value.conversationId !== id) detachLive();
  });
}

/** The fields a layer sets (Rust writes the unset ones as null). */
function setFields(o: SamplingOverrides): SamplingOverrides {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as SamplingOverrides;
}

/** The sampling panel: kept with the open conversation (a new chat's goes with its first turn). */
export async function setSampling(s: SamplingOverrides) {
  const before = sampling.value;
  sampling.value = s;
  const id = current.value?.conversation.id;
  if (id === undefined) return;
  try {
    await api.setConversationSampling(id, s);
    samplingError.value = null;
  } catch (e) {
    // Refused (out of range): the stored values stay, and so does the panel.
    sampling.value = before;
    samplingError.value = errorText(e);
  }
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

/** A regenerate or an edit of a question whose answers had library passages is asked of the
 *  library again, whatever the composer's toggle says now. */
export function askedOfLibrary(view: ConversationView | null, turn: TurnKind): boolean {
  if (!view || turn.kind === "ask") return false;
  const answers = new Set(view.messages.filter((m) => m.parent_id === turn.question_id).map((m) => m.id));
  return (view.sources ?? []).some((s) => answers.has(s.message_id));
}

/** Sends a turn and streams it into `live`; the stored conversation is reloaded around it. */
/** What an edit changes beside the question: the preset's form and which documents stay (new
 *  ones are the composer's pending files). */
export interface EditRest {
  form: Record<string, string>;
  /** `null`: keep them all. */
  keep: number[] | null;
  /** Files added in the edit (the composer's own pending files stay for the next question). */
  files: string[];
}

/** The question being edited, if any: the view is not read again under it. */
export const editingQuestion = signal<number | null>(null);

/** Sends a question; false when it was refused before it was stored (the caller keeps what
 *  was typed: an edit reopens with it). */
export async function send(turn: TurnKind, edit?: EditRest): Promise<boolean> {
  if (isStreaming()) return false;
  if (!info.value?.model) {
    errorLine.value = null;
    return false;
  }
  const view = current.value;
  const scenario = view ? null : chosenScenario.value;
  // Checked here, beside the form, before anything is sent.
  if (!view && scenario) formValues.value = withAttachedFiles(formValues.value, scenario.fields.filter((f) => f.kind === "file").map((f) => f.name));
  const missing = view ? [] : missingFields(formValues.value, scenario);
  formMissing.value = missing;
  if (missing.length > 0) {
    formRefusals.value += 1;
    return false;
  }
  errorLine.value = null;
  const me = ++liveOwner;
  const owns = () => me === liveOwner;
  live.value = emptyLive();
  // The question is on its way: the composer empties (and gets it back if the send fails).
  const typed = draft.value;
  if (turn.kind === "ask") draft.value = "";
  const files = edit ? edit.files : turn.kind === "ask" ? readyPaths() : [];
  startTicker();
  let reloaded = false;
  try {
    const summary = await api.send(
      {
        conversation_id: view?.conversation.id ?? null,
        turn,
        scenario: scenario?.id ?? null,
        form: edit ? edit.form : view ? {} : formValues.value,
        lang: lang.value,
        sampling: view ? null : sampling.value,
        attachments: files,
        library: askLibrary.value || askedOfLibrary(view, turn) ? libraryScope.value : null,
        keep_attachments: edit ? edit.keep : null,
      },
      (msg) => {
        if (!owns()) return;
        const next = applyMessage(live.value ?? emptyLive(), msg, Date.now());
        live.value = next;
        if (msg.type === "started" && !reloaded) {
          reloaded = true;
          // Stored with the question: the chips move from the composer to the question.
          sent(files);
          // Show the stored question and the answer's row at once; the text streams into it.
          if (msg.created) rememberOpen(msg.conversation_id);
          void reloadConversation(msg.conversation_id).then(() => {
            if (msg.created) void refreshConversations();
          });
        }
      },
    );
    const mine = ++reloadSeq;
    const v = await api.openConversation(summary.conversation_id);
    batch(() => {
      // Left for another conversation meanwhile: updated only if the analyst is back on it.
      const here = owns() || current.value?.conversation.id === summary.conversation_id;
      if (mine === reloadSeq && here) current.value = v;
      if (owns()) {
        live.value = null;
        if (summary.save_error) errorLine.value = summary.save_error;
      }
    });
    await refreshConversations();
    return true;
  } catch (e) {
    if (owns()) {
      batch(() => {
        errorLine.value = errorText(e);
        live.value = null;
        if (turn.kind === "ask" && !draft.value) draft.value = typed;
      });
    }
    // The runner may have stored the edited question before it refused the rest (its documents,
    // the library): then the new version is shown, and the edit is not reopened to be sent twice.
    if (!reloaded && view && turn.kind === "edit") {
      const before = new Set(view.messages.map((m) => m.id));
      try {
        const v = await api.openConversation(view.conversation.id);
        if (v.messages.some((m) => !before.has(m.id))) {
          if (current.value?.conversation.id === v.conversation.id) current.value = v;
          return true;
        }
      } catch {
        // Unreadable now: the edit reopens with what was typed.
      }
    }
    return reloaded;
  } finally {
    stopTicker();
  }
}

export async function stop() {
  const id = live.value?.answerId;
  if (id !== null && id !== undefined) await api.stop(id);
}

/** The message a search hit opened: the chat brings it into view (and marks it) once shown. */
export const foundMessage = signal<number | null>(null);

/** Opens a search hit at the message that matched, on its version (branch) of the chat. */
export async function openHit(conversationId: number, messageId: number | null) {
  await openConversation(conversationId);
  if (messageId === null || isStreaming()) return;
  const mine = ++reloadSeq;
  const view = await api.showBranch(conversationId, messageId);
  if (mine !== reloadSeq) return;
  batch(() => {
    current.value = view;
    foundMessage.value = messageId;
    foundTerms.value = searchQuery.value.trim();
  });
}

/** The words of the search whose hit was opened: marked in the message it opened. */
export const foundTerms = signal("");

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

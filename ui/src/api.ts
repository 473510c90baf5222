// Typed calls to the shell's commands. Nothing else in the UI talks to Rust.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AppInfo,
  ConversationSummary,
  LibraryModel,
  ConversationView,
  Message,
  ModelSummary,
  SamplingOverrides,
  ScenarioList,
  SearchHit,
  StreamMessage,
  TurnKind,
} from "./types";

export interface SendRequest {
  conversationId: number | null;
  turn: TurnKind;
  scenario?: string | null;
  form?: Record<string, string>;
  lang?: string;
  sampling?: SamplingOverrides;
}

export interface TurnSummary {
  conversation_id: number;
  question_id: number;
  answer: Message;
  save_error: string | null;
}

export const api = {
  appInfo: () => invoke<AppInfo>("app_info"),
  loadModel: (path: string) => invoke<ModelSummary>("load_model", { path }),
  listModels: () => invoke<LibraryModel[]>("list_models"),
  listConversations: () => invoke<ConversationSummary[]>("list_conversations"),
  openConversation: (id: number) => invoke<ConversationView>("open_conversation", { id }),
  showBranch: (conversationId: number, messageId: number) =>
    invoke<ConversationView>("show_branch", { conversationId, messageId }),
  search: (query: string) => invoke<SearchHit[]>("search_conversations", { query }),
  rename: (id: number, title: string) => invoke<void>("rename_conversation", { id, title }),
  pin: (id: number, pinned: boolean) => invoke<void>("pin_conversation", { id, pinned }),
  remove: (id: number) => invoke<void>("delete_conversation", { id }),
  restore: (id: number) => invoke<void>("restore_conversation", { id }),
  scenarios: () => invoke<ScenarioList>("list_scenarios"),
  stop: (answerId: number) => invoke<boolean>("stop_generation", { answerId }),
  render: (markdown: string) => invoke<string>("render_markdown", { markdown }),
  rendererCss: () => invoke<string>("renderer_css"),
  getSetting: <T>(key: string) => invoke<T | null>("get_setting", { key }),
  setSetting: (key: string, value: unknown) => invoke<void>("set_setting", { key, value }),
  openExternal: (url: string) => invoke<void>("open_external", { url }),
  send(request: SendRequest, onMessage: (m: StreamMessage) => void): Promise<TurnSummary> {
    const channel = new Channel<StreamMessage>();
    channel.onmessage = onMessage;
    return invoke<TurnSummary>("send_message", { request, onEvent: channel });
  },
};

/** The message of a command's error, whatever shape it came in. */
export function errorText(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

// Typed calls to the shell's commands. Nothing else in the UI talks to Rust.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  About,
  AppInfo,
  CatalogView,
  ExportFormat,
  JobEvent,
  ReasoningMode,
  ServerStatus,
  Settings,
  SettingsView,
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
  /** A new conversation's sampling panel, kept with the conversation it opens. */
  sampling?: SamplingOverrides | null;
}

export interface DownloadModelRequest {
  catalogId?: string | null;
  repo?: string | null;
  file?: string | null;
  revision?: string | null;
  target?: string | null;
}

export interface ExportRequest {
  conversationId: number;
  format: ExportFormat;
  reasoning: ReasoningMode;
  messages: number[] | null;
  title: string | null;
  path: string;
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
  setConversationSampling: (id: number, sampling: SamplingOverrides) =>
    invoke<void>("set_conversation_sampling", { id, sampling }),
  remove: (id: number) => invoke<void>("delete_conversation", { id }),
  restore: (id: number) => invoke<void>("restore_conversation", { id }),
  scenarios: () => invoke<ScenarioList>("list_scenarios"),
  stop: (answerId: number) => invoke<boolean>("stop_generation", { answerId }),
  render: (markdown: string) => invoke<string>("render_markdown", { markdown }),
  rendererCss: () => invoke<string>("renderer_css"),
  getSetting: <T>(key: string) => invoke<T | null>("get_setting", { key }),
  setSetting: (key: string, value: unknown) => invoke<void>("set_setting", { key, value }),
  openExternal: (url: string) => invoke<void>("open_external", { url }),
  getSettings: () => invoke<SettingsView>("get_settings"),
  /** Keys: `undefined` keeps the stored one, `""` clears it. */
  saveSettings: (settings: Settings, remoteApiKey?: string, serverApiKey?: string) =>
    invoke<SettingsView>("save_settings", { settings, remoteApiKey: remoteApiKey ?? null, serverApiKey: serverApiKey ?? null }),
  serverStatus: () => invoke<ServerStatus>("server_status"),
  chooseDataDir: (path: string | null) => invoke<SettingsView>("choose_data_dir", { path }),
  catalog: () => invoke<CatalogView>("model_catalog"),
  download(request: DownloadModelRequest, onEvent: (e: JobEvent) => void): Promise<LibraryModel> {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return invoke<LibraryModel>("download_model", { request, onEvent: channel });
  },
  quantize(checkpoint: string, target: string, onEvent: (e: JobEvent) => void): Promise<LibraryModel> {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return invoke<LibraryModel>("quantize_model", { checkpoint, target, onEvent: channel });
  },
  cancelJob: () => invoke<boolean>("cancel_model_job"),
  importModel: (path: string) => invoke<LibraryModel>("import_model", { path }),
  removeModel: (path: string) => invoke<boolean>("remove_model", { path }),
  setHubToken: (token: string) => invoke<void>("set_hub_token", { token }),
  exportConversation: (request: ExportRequest) => invoke<string>("export_conversation", { request }),
  openReport: (path: string) => invoke<void>("open_report", { path }),
  openLogFolder: () => invoke<string>("open_log_folder"),
  diagnostics: () => invoke<string>("diagnostics"),
  about: () => invoke<About>("about"),
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

// Typed calls to the shell's commands: the generated `commands` (bindings.ts), with the few
// conveniences the components want. Nothing else in the UI talks to Rust.

import { Channel, invoke } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import { hasKey, t, type Key, type Lang } from "./i18n";
import { remoteInChinese } from "./remoteText";
import type { OriginalOf, Value } from "./bindings";
import type { ScanProgress, DownloadModel, EvalEvent, EvalExport, EvalRequest, ExportRequest, JobEvent, LibraryModel, RunSummary, SendRequest, StreamMessage, TurnSummary } from "./types";

export type { DownloadModel as DownloadModelRequest, ExportRequest, SendRequest, TurnSummary };

/** A channel for what Rust sends. (The generated signatures type a channel's messages in
 *  serde's reading shape, a wider one; the shell only ever writes the narrower shape.) */
function channel<T, Wire>(on: (m: T) => void): Channel<Wire> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c as unknown as Channel<Wire>;
}

export const api = {
  appInfo: commands.appInfo,
  loadModel: commands.loadModel,
  listModels: commands.listModels,
  listConversations: commands.listConversations,
  openConversation: commands.openConversation,
  showBranch: commands.showBranch,
  search: commands.searchConversations,
  rename: commands.renameConversation,
  attachments: commands.conversationAttachments,
  pin: commands.pinConversation,
  setConversationSampling: commands.setConversationSampling,
  remove: commands.deleteConversation,
  restore: commands.restoreConversation,
  scenarios: commands.listScenarios,
  stop: commands.stopGeneration,
  answerApproval: commands.answerToolApproval,
  mcpConfig: commands.getMcpConfig,
  saveMcpConfig: commands.saveMcpConfig,
  mcpServers: commands.mcpServers,
  libraryFolders: commands.libraryFolders,
  libraryFiles: commands.libraryFiles,
  checkSource: commands.checkSource,
  storeSize: commands.storeSize,
  dropDocumentText: commands.dropDocumentText,
  compactStore: commands.compactStore,
  libraryCollections: commands.libraryCollections,
  addToLibraryCollection: commands.addToLibraryCollection,
  removeFromLibraryCollection: commands.removeFromLibraryCollection,
  deleteLibraryCollection: commands.deleteLibraryCollection,
  /** A cited PDF's bytes (raw, not JSON: outside the typed bindings). */
  sourcePdf: (messageId: number, n: number) => invoke<ArrayBuffer>("source_pdf", { messageId, n }),
  documentOriginal: commands.documentOriginal,
  searchHub: commands.searchHub,
  hubFiles: commands.hubFiles,
  documentPdf: (of: OriginalOf) => invoke<ArrayBuffer>("document_pdf", { of }),
  removeLibraryFolder: commands.removeLibraryFolder,
  stopLibraryScan: commands.stopLibraryScan,
  addLibraryFolder: (path: string, onProgress: (p: ScanProgress) => void) => commands.addLibraryFolder(path, channel(onProgress)),
  reindexLibraryFolder: (id: number, onProgress: (p: ScanProgress) => void) => commands.reindexLibraryFolder(id, channel(onProgress)),
  render: commands.renderMarkdown,
  checkCalculations: commands.checkCalculations,
  rendererCss: commands.rendererCss,
  /** The page's own preferences (keys under `ui.`), as JSON. */
  getSetting: <T>(key: string) => commands.getSetting(key) as Promise<T | null>,
  setSetting: (key: string, value: unknown) => commands.setSetting(key, value as Value),
  openExternal: commands.openExternal,
  getSettings: commands.getSettings,
  /** Keys: `undefined` keeps the stored one, `""` clears it. */
  saveSettings: (settings: Parameters<typeof commands.saveSettings>[0], remoteApiKey?: string, serverApiKey?: string) =>
    commands.saveSettings(settings, remoteApiKey ?? null, serverApiKey ?? null),
  serverStatus: commands.serverStatus,
  chooseDataDir: commands.chooseDataDir,
  listBackups: commands.listBackups,
  createBackup: commands.createBackup,
  restoreBackupOnRestart: commands.restoreBackupOnRestart,
  catalog: commands.modelCatalog,
  download: (request: DownloadModel, onEvent: (e: JobEvent) => void): Promise<LibraryModel> =>
    commands.downloadModel(request, channel(onEvent)),
  quantize: (checkpoint: string, target: string, onEvent: (e: JobEvent) => void): Promise<LibraryModel> =>
    commands.quantizeModel(checkpoint, target, channel(onEvent)),
  cancelJob: commands.cancelModelJob,
  importModel: commands.importModel,
  removeModel: commands.removeModel,
  setHubToken: commands.setHubToken,
  evalStart: (request: EvalRequest, onEvent: (e: EvalEvent) => void): Promise<RunSummary> => commands.evalStart(request, channel(onEvent)),
  evalStop: commands.evalStop,
  evalRuns: commands.evalRuns,
  evalRun: commands.evalRun,
  evalAdd: commands.evalAdd,
  evalKeys: commands.evalKeys,
  evalExport: (request: EvalExport) => commands.evalExport(request),
  exportConversation: (request: ExportRequest) => commands.exportConversation(request),
  openReport: commands.openReport,
  openLogFolder: commands.openLogFolder,
  diagnostics: commands.diagnostics,
  about: commands.about,
  send: (request: SendRequest, onMessage: (m: StreamMessage) => void): Promise<TurnSummary> =>
    commands.sendMessage(request, channel(onMessage)),
};

/** The message of a command's error, whatever shape it came in. */
/**
 * A command's error as the analyst reads it: what went wrong in the UI's language (by the
 * error's kind), then the core's details (file names, figures) as they came.
 */
export function errorText(e: unknown, l: Lang = uiLang()): string {
  if (!e || typeof e !== "object" || !("message" in e)) return String(e);
  const message = String((e as { message: unknown }).message);
  const kind = "kind" in e ? String((e as { kind: unknown }).kind) : "";
  const key = `error.${kind}` as Key;
  // A refusal's own words are the message; "invalid input" over them would say less.
  if (!kind || kind === "invalid_request" || kind === "other" || !hasKey(key)) return l === "zh" ? (remoteInChinese(message) ?? message) : message;
  const headline = t(l, key);
  const details = l === "zh" ? (remoteInChinese(message) ?? message) : message;
  // The English details often say the same at their start; no need to say it twice.
  if (l === "en" && message.toLowerCase().startsWith(headline.toLowerCase().slice(0, 12))) return message;
  return l === "zh" ? `${headline}：${details}` : `${headline}: ${message}`;
}

/** The page's language (state.ts keeps `<html lang>` in step with the chosen one). */
export function uiLang(): Lang {
  return typeof document !== "undefined" && document.documentElement.lang.startsWith("en") ? "en" : "zh";
}

// The shapes the shell's commands and channel carry, generated from the Rust types
// (bindings.ts, by scripts/gen-bindings.sh; a test fails when it is stale). Where serde reads a
// type more loosely than it writes it (defaults, unknown names), the page sees what Rust
// writes: the `_Serialize` shape; what the page builds and sends is the `_Deserialize` one.

import type * as B from "./bindings";

export type About = B.About_Serialize;
export type Advice = B.Advice_Serialize;
export type AppInfo = B.AppInfo_Serialize;
export type CatalogView = B.CatalogView_Serialize;
export type Bench = B.Bench;
export type EvalEvent = B.EvalEvent_Serialize;
export type EvalExport = B.EvalExport;
export type EvalKeys = B.EvalKeys;
export type EvalRequest = B.EvalRequest_Deserialize;
export type EvalReport = B.EvalReport_Serialize;
export type Imported = B.Imported_Serialize;
export type ItemReview = B.ItemReview_Serialize;
export type JudgeMode = B.JudgeMode;
export type RunDetail = B.RunDetail_Serialize;
export type RunSummary = B.RunSummary_Serialize;
export type CommandError = B.CommandError_Serialize;
export type Conversation = B.Conversation_Serialize;
export type ConversationSummary = B.ConversationSummary_Serialize;
export type ConversationView = B.ConversationView_Serialize;
export type Dependency = B.Dependency_Serialize;
export type DeviceChoice = B.DeviceChoice;
export type DownloadModel = B.DownloadModel_Deserialize;
export type EngineRef = B.EngineRef_Serialize;
export type CatalogEntry = B.Entry_Serialize;
export type ErrorKind = B.ErrorKind_Serialize;
export type ExportRequest = B.ExportRequest_Deserialize;
export type ScenarioField = B.Field_Serialize;
export type ExportFormat = B.Format;
export type FileFit = B.FileFit;
export type GenerationEvent = B.GenerationEvent_Serialize;
export type Gpu = B.Gpu;
export type Hardware = B.Hardware;
export type JobEvent = B.JobEvent;
export type Lang = B.Lang;
export type LibraryModel = B.LibraryModel_Serialize;
export type Message = B.Message_Serialize;
export type QuestionForm = B.QuestionForm_Serialize;
export type Role = B.MessageRole;
export type MessageStatus = B.MessageStatus;
export type ModelSummary = B.ModelSummary_Serialize;
export type ReasoningMode = B.ReasoningMode;
export type SamplingOverrides = B.SamplingOverrides_Deserialize;
export type SamplingParams = B.SamplingParams_Serialize;
export type Scenario = B.Scenario_Serialize;
export type ScenarioList = B.ScenarioList_Serialize;
export type SearchField = B.SearchField;
export type SearchHit = B.SearchHit_Serialize;
export type SendRequest = B.SendRequest_Deserialize;
export type ServerStatus = B.ServerStatus_Serialize;
export type Settings = B.Settings_Serialize;
export type SettingsView = B.SettingsView_Serialize;
export type StopReason = B.StopReason;
export type StreamMessage = B.StreamMessage_Serialize;
export type Text = B.Text;
export type Theme = B.Theme;
export type TurnKind = B.TurnKind;
export type TurnSummary = B.TurnSummary_Serialize;
export type Usage = B.Usage;
export type Vault = B.Vault;
export type Attachment = B.Attachment_Serialize;
export type DocumentPreview = B.DocumentPreview_Serialize;
export type ReadProgress = B.ReadProgress;

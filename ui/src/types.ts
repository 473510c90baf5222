// The shapes the shell's commands and channel carry (mirrors of the Rust types).

export type MessageStatus = "streaming" | "complete" | "cancelled" | "interrupted" | "error";
export type Role = "system" | "user" | "assistant";

export interface Conversation {
  id: number;
  uid: string;
  title: string;
  scenario_id: string | null;
  system_prompt: string | null;
  model: string | null;
  pinned: boolean;
  active_leaf_id: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  /** Sampling set for this conversation (the panel), kept in the store. */
  sampling: SamplingOverrides;
}

export interface ConversationSummary extends Conversation {
  messages: number;
}

export interface SamplingParams {
  temperature: number;
  top_p: number;
  top_k: number;
  repetition_penalty: number;
  max_tokens: number;
  seed: number | null;
  stop: string[];
}

export interface EngineRef {
  engine: string;
  model_file: string | null;
  model_sha256: string | null;
  quantization: string | null;
  remote_url: string | null;
}

export interface Message {
  id: number;
  conversation_id: number;
  parent_id: number | null;
  role: Role;
  content: string;
  reasoning: string;
  answer: string;
  status: MessageStatus;
  stop_reason: string | null;
  error_kind: string | null;
  error_message: string | null;
  prompt_tokens: number | null;
  cached_prompt_tokens: number | null;
  reasoning_tokens: number | null;
  answer_tokens: number | null;
  ttft_ms: number | null;
  prefill_tok_s: number | null;
  decode_tok_s: number | null;
  total_ms: number | null;
  engine: EngineRef | null;
  system_prompt: string | null;
  sampling: SamplingParams | null;
  seed: number | null;
  scenario_id: string | null;
  form: { question?: string; fields?: Record<string, string> } | null;
  created_at: number;
  updated_at: number;
}

export interface ConversationView {
  conversation: Conversation;
  messages: Message[];
  active_path: number[];
}

export type SearchField = "title" | "question" | "reasoning" | "answer";
export interface SearchHit {
  conversation_id: number;
  title: string;
  message_id: number | null;
  field: SearchField;
  snippet: string;
  updated_at: number;
}

export interface Text {
  zh: string;
  en: string;
}

export interface ScenarioField {
  name: string;
  label: Text;
  kind: string;
  required: boolean;
  placeholder?: Text | null;
  options?: string[];
}

export interface Scenario {
  format: number;
  id: string;
  icon: string;
  name: Text;
  description: Text;
  system_prompt: string;
  prompt_template: string;
  starter_questions: Text[];
  fields: ScenarioField[];
  sampling: Record<string, number | undefined>;
}

export interface ScenarioList {
  scenarios: Scenario[];
  broken: string[];
}

export interface ModelSummary {
  path: string;
  file_name: string;
  file_size: number;
  name: string | null;
  quantization: string;
  context: number;
  n_params: number;
  engine: "local" | "remote";
}

export interface AppInfo {
  version: string;
  data_dir: string;
  /** Where reports are offered to be saved first. */
  documents_dir: string | null;
  model: ModelSummary | null;
  local_model: ModelSummary | null;
  recent_models: string[];
  settings: Settings;
  notices: string[];
}

export interface Usage {
  prompt_tokens: number;
  cached_prompt_tokens: number;
  reasoning_tokens: number;
  answer_tokens: number;
  time_to_first_token_ms: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  total_ms: number;
}

export type GenerationEvent =
  | { type: "reasoning"; text: string }
  | { type: "answer"; text: string }
  | ({ type: "usage" } & Usage)
  | { type: "done"; reason: string; reasoning_unterminated: boolean; seed: number; dropped_turns: number }
  | { type: "error"; kind: string; message: string };

export type StreamMessage =
  | { type: "started"; conversation_id: number; question_id: number; answer_id: number; created: boolean; title: string }
  | { type: "events"; events: GenerationEvent[] };

export interface SamplingOverrides {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  repetition_penalty?: number | null;
  max_tokens?: number | null;
  seed?: number | null;
  stop?: string[] | null;
}

export type TurnKind =
  | { kind: "ask"; question: string }
  | { kind: "regenerate"; question_id: number }
  | { kind: "edit"; question_id: number; question: string };

export interface CommandError {
  kind: string;
  message: string;
}

export interface LibraryModel {
  path: string;
  file_name: string;
  size: number;
  sha256: string | null;
  name: string | null;
  architecture: string;
  quantization: string;
  n_params: number;
  context: number;
  source: string;
  repo: string | null;
  added_at: number;
}

export type Theme = "system" | "light" | "dark";

export interface Settings {
  lang: "zh" | "en" | null;
  theme: Theme;
  models_dir: string | null;
  default_scenario: string | null;
  sampling: SamplingOverrides;
  threads: number | null;
  device: string;
  server: { enabled: boolean; host: string; port: number; served_model_name: string; require_key: boolean };
  remote: { enabled: boolean; base_url: string; model: string };
  hub_endpoint: string | null;
  first_run_done: boolean;
}

export interface Gpu {
  name: string;
  memory_bytes: number;
}

export interface Hardware {
  memory_bytes: number;
  available_bytes: number;
  cores: number;
  gpus: Gpu[];
  cuda_build: boolean;
  metal_build: boolean;
}

export interface ServerStatus {
  running: boolean;
  address: string | null;
  requires_key: boolean;
  error: string | null;
  received: number;
  completed: number;
  cancelled: number;
  failed: number;
}

export interface SettingsView {
  settings: Settings;
  has_remote_key: boolean;
  has_server_key: boolean;
  /** Where keys are kept: the OS keychain, or (none answered) the app's store. */
  secrets: "keychain" | "store";
  devices: string[];
  data_dir: string;
  next_data_dir: string;
  models_dir: string;
  hardware: Hardware;
  server: ServerStatus;
}

export interface CatalogEntry {
  id: string;
  name: string;
  repo: string;
  kind: string;
  quantization: string | null;
  size: number | null;
  params: number;
  licence: string;
  recommended: boolean;
  note: string;
}

export interface Advice {
  entry: CatalogEntry;
  download_bytes: number;
  memory_bytes: number;
  fits: boolean;
  suggested: boolean;
}

export interface CatalogView {
  hardware: Hardware;
  models: Advice[];
  library: LibraryModel[];
  endpoint: string;
  has_token: boolean;
  models_dir: string;
  busy: boolean;
}

export type JobEvent =
  | { type: "source"; repo: string; file: string }
  | { type: "start"; file: string; total: number; resumed_from: number }
  | { type: "progress"; file: string; done: number; total: number; bytes_per_sec: number }
  | { type: "quantize"; done: number; total: number; tensor: string }
  | { type: "checking"; path: string };

export type ReasoningMode = "full" | "collapsed" | "none";
export type ExportFormat = "md" | "html" | "pdf" | "json";

export interface Dependency {
  name: string;
  version: string;
  license: string;
  repository: string | null;
}

export interface About {
  version: string;
  licence: string;
  licences: { rust: Dependency[]; npm: Dependency[]; fonts: Dependency[] };
  citation: string;
  model_card: string;
}

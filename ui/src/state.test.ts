import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ConversationView, Message, StreamMessage } from "./types";

// The shell, as the page sees it: invoke() calls answered by these fakes.
const calls: { cmd: string; args: unknown }[] = [];
let openConversation: (id: number) => Promise<ConversationView>;
let send: (req: unknown, onMessage: (m: StreamMessage) => void) => Promise<unknown>;

vi.mock("./api", () => ({
  errorText: (e: unknown) => String(e),
  api: {
    openConversation: (id: number) => openConversation(id),
    send: (req: unknown, cb: (m: StreamMessage) => void) => send(req, cb),
    listConversations: async () => [],
    setConversationSampling: async (id: number, sampling: { temperature?: number | null }) => {
      calls.push({ cmd: "set_conversation_sampling", args: { id, sampling } });
      if ((sampling.temperature ?? 0) > 2) throw new Error("temperature 5 is out of range: 0 (greedy) to 2");
    },
  },
}));

const state = await import("./state");

function answer(status: Message["status"], text: string): Message {
  return {
    id: 2, conversation_id: 1, parent_id: 1, role: "assistant", content: "", reasoning: "", answer: text, status,
    stop_reason: null, error_kind: null, error_message: null, prompt_tokens: null, cached_prompt_tokens: null,
    reasoning_tokens: null, answer_tokens: null, ttft_ms: null, prefill_tok_s: null, decode_tok_s: null,
    total_ms: null, engine: null, system_prompt: null, sampling: null, seed: null, scenario_id: null, form: null,
    created_at: 0, updated_at: 0,
  };
}

const unset = { temperature: null, top_p: null, top_k: null, repetition_penalty: null, max_tokens: null, seed: null, stop: null };

function view(status: Message["status"], text: string, set: { temperature?: number; max_tokens?: number } = {}): ConversationView {
  const sampling = { ...unset, ...set };
  return {
    conversation: {
      id: 1, uid: "u", title: "PV", scenario_id: null, system_prompt: null, model: null, pinned: false,
      active_leaf_id: 2, created_at: 0, updated_at: 0, deleted_at: null, sampling,
    },
    messages: [answer(status, text)],
    active_path: [1, 2],
    tool_calls: [],
    sources: [],
  };
}

beforeEach(() => {
  calls.length = 0;
  state.current.value = null;
  state.live.value = null;
  state.sampling.value = {};
  state.info.value = { model: { file_name: "m.gguf" }, settings: {} } as never;
});

describe("a turn's reloads", () => {
  it("never lets the reload begun at 'started' overwrite the final state", async () => {
    // The reload asked for at "started" answers last, with the row still streaming.
    let releaseStale: () => void = () => {};
    const stale = new Promise<void>((r) => (releaseStale = r));
    let n = 0;
    openConversation = async () => {
      n += 1;
      if (n === 1) {
        await stale;
        return view("streaming", "现值");
      }
      return view("complete", "现值约 907 元");
    };
    send = async (_req, cb) => {
      cb({ type: "started", conversation_id: 1, question_id: 1, answer_id: 2, created: true, title: "PV", notices: [], sources: [] });
      return { conversation_id: 1, question_id: 1, answer: answer("complete", "现值约 907 元"), save_error: null };
    };
    await state.send({ kind: "ask", question: "PV?" });
    expect(state.current.value?.messages[0].status).toBe("complete");
    releaseStale();
    await new Promise((r) => setTimeout(r, 0));
    expect(state.current.value?.messages[0].status).toBe("complete");
    expect(state.current.value?.messages[0].answer).toBe("现值约 907 元");
  });
});

describe("sampling", () => {
  it("comes from the conversation and is kept with it", async () => {
    openConversation = async () => view("complete", "x", { temperature: 0.1 });
    await state.openConversation(1);
    expect(state.sampling.value).toEqual({ temperature: 0.1 });
    await state.setSampling({ temperature: 0.3 });
    expect(calls).toEqual([{ cmd: "set_conversation_sampling", args: { id: 1, sampling: { temperature: 0.3 } } }]);
  });

  it("a value the shell refuses is said beside the panel, and the stored one stays", async () => {
    openConversation = async () => view("complete", "x", { temperature: 0.1 });
    await state.openConversation(1);
    await state.setSampling({ temperature: 5 });
    expect(state.samplingError.value).toContain("out of range");
    expect(state.sampling.value).toEqual({ temperature: 0.1 });
    // The next change that is kept clears it (it stayed on screen before).
    await state.setSampling({ temperature: 0.2 });
    expect(state.samplingError.value).toBeNull();
    expect(state.sampling.value).toEqual({ temperature: 0.2 });
  });

  it("a new chat starts from the defaults, not the last conversation's", async () => {
    openConversation = async () => view("complete", "x", { temperature: 0.1, max_tokens: 64 });
    await state.openConversation(1);
    state.newChat();
    expect(state.sampling.value).toEqual({});
    let sent: unknown = null;
    send = async (req) => {
      sent = req;
      throw new Error("no model");
    };
    await state.send({ kind: "ask", question: "PV?" });
    expect((sent as { sampling: unknown }).sampling).toEqual({});
  });
});

describe("the library", () => {
  it("a regenerate or an edit of a question whose answer cited the library asks it again", () => {
    const withSources: ConversationView = {
      ...view("complete", "Revenue grew [1]"),
      sources: [{ message_id: 2, n: 1, part_id: 7, path: "/r.pdf", file_name: "r.pdf", page: 3, label: "r.pdf · p. 3", sha256: "ab", text: "Revenue" }],
    };
    expect(state.askedOfLibrary(withSources, { kind: "regenerate", question_id: 1 })).toBe(true);
    expect(state.askedOfLibrary(withSources, { kind: "edit", question_id: 1, question: "Again?" })).toBe(true);
    expect(state.askedOfLibrary(withSources, { kind: "ask", question: "New" })).toBe(false);
    expect(state.askedOfLibrary(view("complete", "no sources"), { kind: "regenerate", question_id: 1 })).toBe(false);
    expect(state.askedOfLibrary(null, { kind: "regenerate", question_id: 1 })).toBe(false);
  });
});

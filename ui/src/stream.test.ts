import { describe, expect, it } from "vitest";
import { applyEvent, applyMessage, emptyLive, prefillSecondsLeft, reasoningPhase } from "./stream";
import type { StreamMessage } from "./types";

const started: StreamMessage = { type: "started", conversation_id: 3, question_id: 7, answer_id: 8, created: true, title: "现值", notices: [], sources: [] };

describe("stream assembly", () => {
  it("shows an MCP call waiting for the analyst until its result comes, and the turn's notices", () => {
    let live = applyMessage(emptyLive(), { ...(started as Extract<StreamMessage, { type: "started" }>), notices: ["MCP tools not offered: no MCP server is named \"x\""] }, 0);
    expect(live.notices).toHaveLength(1);
    const call = { id: "call_1", name: "everything__echo", arguments: { message: "hi" } };
    live = applyMessage(live, { type: "events", events: [{ type: "tool_call", ...call }] }, 10);
    live = applyMessage(
      live,
      { type: "approval", request: { id: "8:call_1", answer_id: 8, call, server: "everything", tool: "echo", description: "Echoes", timeout_secs: 120 } },
      20,
    );
    expect(live.approvals.map((a) => a.id)).toEqual(["8:call_1"]);
    expect(live.tools[0].result).toBeNull();
    const result = { id: "call_1", name: "everything__echo", source: "everything", status: "denied" as const, content: "not run: the analyst did not allow it", ms: 0 };
    live = applyMessage(live, { type: "events", events: [{ type: "tool_result", ...result }] }, 30);
    expect(live.approvals).toEqual([]);
    expect(live.tools[0].result?.status).toBe("denied");
  });

  it("follows the prompt's reading, with time left at the rate seen (reused tokens are not speed)", () => {
    let live = applyMessage(emptyLive(), started, 0);
    const step = (done: number, at: number) => {
      live = applyMessage(live, { type: "events", events: [{ type: "prefill", done, total: 754 }] }, at);
    };
    step(250, 1000);
    expect(live.prefill).toMatchObject({ done: 250, total: 754, startDone: 250 });
    expect(prefillSecondsLeft(live.prefill!)).toBeNull();
    step(506, 5000);
    // 256 tokens in 4 s: 248 left take about 4 s.
    expect(prefillSecondsLeft(live.prefill!)).toBe(4);
    step(754, 9000);
    expect(prefillSecondsLeft(live.prefill!)).toBe(0);
    // A regenerate reads again from a smaller count: the timing starts over.
    step(100, 20000);
    expect(live.prefill).toMatchObject({ startDone: 100, startedAt: 20000 });
  });

  it("keeps reasoning and answer apart, in order, across batches", () => {
    let live = applyMessage(emptyLive(), started, 0);
    expect(live.answerId).toBe(8);
    expect(reasoningPhase(live)).toBe("none");
    live = applyMessage(live, { type: "events", events: [{ type: "reasoning", text: "先折现" }] }, 100);
    expect(reasoningPhase(live)).toBe("thinking");
    live = applyMessage(
      live,
      { type: "events", events: [{ type: "reasoning", text: "两次。" }, { type: "answer", text: "现值约" }] },
      1300,
    );
    live = applyMessage(live, { type: "events", events: [{ type: "answer", text: " 907 元" }] }, 1400);
    expect(live.reasoning).toBe("先折现两次。");
    expect(live.answer).toBe("现值约 907 元");
    expect(live.reasoningStartedAt).toBe(100);
    expect(live.answerStartedAt).toBe(1300);
    expect(reasoningPhase(live)).toBe("thought");
    expect(live.status).toBe("streaming");
  });

  it("records usage, and the end: complete, stopped or failed", () => {
    const usage = {
      type: "usage" as const,
      prompt_tokens: 10,
      cached_prompt_tokens: 0,
      reasoning_tokens: 4,
      answer_tokens: 3,
      time_to_first_token_ms: 120,
      prefill_tok_s: 100,
      decode_tok_s: 20,
      total_ms: 500,
    };
    const done = { type: "done" as const, reason: "end" as const, reasoning_unterminated: false, seed: 1, dropped_turns: 0 };
    let live = applyMessage(emptyLive(), { type: "events", events: [{ type: "answer", text: "x" }, usage, done] }, 5);
    expect(live.usage?.reasoning_tokens).toBe(4);
    expect(live.stopReason).toBe("end");
    expect(live.endedAt).toBe(5);
    // The status is what the shell says it is stored as; the page maps nothing itself.
    expect(live.status).toBe("streaming");
    live = applyMessage(live, { type: "ended", status: "complete" }, 6);
    expect(live.status).toBe("complete");
    live = applyMessage(emptyLive(), { type: "events", events: [{ ...done, reason: "cancelled" }] }, 5);
    live = applyMessage(live, { type: "ended", status: "cancelled" }, 5);
    expect(live.status).toBe("cancelled");
    live = applyMessage(emptyLive(), { type: "events", events: [{ type: "error", kind: "prompt_too_long", message: "too long" }] }, 5);
    live = applyMessage(live, { type: "ended", status: "error" }, 5);
    expect(live.status).toBe("error");
    expect(live.error?.kind).toBe("prompt_too_long");
  });

  it("does not change the state it was given", () => {
    const a = emptyLive();
    applyMessage(a, { type: "events", events: [{ type: "answer", text: "x" }] }, 1);
    expect(a.answer).toBe("");
  });
});

describe("tool calls in a live answer", () => {
  it("a call becomes a card that its result fills in; a malformed one stays text with a note", () => {
    let live = emptyLive();
    live = applyEvent(live, { type: "tool_call", id: "call_1", name: "calculate", arguments: { expression: "3*9" } }, 1);
    expect(live.tools).toEqual([{ call: { id: "call_1", name: "calculate", arguments: { expression: "3*9" } }, result: null }]);
    live = applyEvent(live, { type: "tool_result", id: "call_1", name: "calculate", source: "calculator", status: "done", content: '{"result":"27"}', ms: 1 }, 2);
    expect(live.tools[0].result?.content).toBe('{"result":"27"}');
    live = applyEvent(live, { type: "tool_call_malformed", text: "<tool_call>{bad}</tool_call>", reason: "not JSON" }, 3);
    expect(live.answer).toBe("<tool_call>{bad}</tool_call>");
    expect(live.toolNotes).toEqual(["not JSON"]);
  });
});

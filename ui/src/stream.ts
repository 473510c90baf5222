// Assembles a live answer from the channel's messages: reasoning and answer kept apart, the
// figures and the end recorded. Pure, so the UI's view of a stream is tested without a window.

import type { AnswerSource, ApprovalRequest, ErrorKind, GenerationEvent, MessageStatus, StopReason, StreamMessage, ToolCall, ToolResult, Usage } from "./types";

/** A tool the model called, and (once it ran, or was refused) what it gave. */
export interface ToolCard {
  call: ToolCall;
  result: ToolResult | null;
}

export interface LiveAnswer {
  conversationId: number | null;
  questionId: number | null;
  answerId: number | null;
  title: string | null;
  reasoning: string;
  answer: string;
  status: MessageStatus;
  usage: Usage | null;
  stopReason: StopReason | null;
  reasoningUnterminated: boolean;
  error: { kind: ErrorKind; message: string } | null;
  /** When the first reasoning text and the first answer text arrived (ms, the caller's clock). */
  reasoningStartedAt: number | null;
  answerStartedAt: number | null;
  endedAt: number | null;
  /** Reading the prompt: tokens in the cache of the total, and where the reading began. */
  prefill: PrefillProgress | null;
  tools: ToolCard[];
  /** Why a `<tool_call>` the model wrote was no call (it stays in the answer as text). */
  toolNotes: string[];
  /** MCP calls waiting for the analyst's allow or deny (gone once their result comes). */
  approvals: ApprovalRequest[];
  /** What the turn could not offer (an MCP server that did not start). */
  notices: string[];
  /** The library's passages the answer was given, numbered as it cites them. */
  sources: AnswerSource[];
}

export interface PrefillProgress {
  done: number;
  total: number;
  /** The first report's count (tokens reused from the cache) and its time. */
  startDone: number;
  startedAt: number;
  at: number;
}

export function emptyLive(): LiveAnswer {
  return {
    conversationId: null,
    questionId: null,
    answerId: null,
    title: null,
    reasoning: "",
    answer: "",
    status: "streaming",
    usage: null,
    stopReason: null,
    reasoningUnterminated: false,
    error: null,
    reasoningStartedAt: null,
    answerStartedAt: null,
    endedAt: null,
    prefill: null,
    tools: [],
    toolNotes: [],
    approvals: [],
    notices: [],
    sources: [],
  };
}

/** Applies one channel message; returns a new object (the old one is left as it was). */
export function applyMessage(live: LiveAnswer, msg: StreamMessage, now: number): LiveAnswer {
  if (msg.type === "started") {
    return {
      ...live,
      conversationId: msg.conversation_id,
      questionId: msg.question_id,
      answerId: msg.answer_id,
      title: msg.title,
      notices: msg.notices ?? [],
      sources: msg.sources ?? [],
    };
  }
  if (msg.type === "approval") return { ...live, approvals: [...live.approvals, msg.request] };
  // The status comes from the shell (the one mapping from an ending to a status, in Rust).
  if (msg.type === "ended") return { ...live, status: msg.status };
  let next = { ...live };
  for (const ev of msg.events) next = applyEvent(next, ev, now);
  return next;
}

export function applyEvent(live: LiveAnswer, ev: GenerationEvent, now: number): LiveAnswer {
  switch (ev.type) {
    case "prefill": {
      const p = live.prefill;
      const start = p === null || ev.done < p.done ? { startDone: ev.done, startedAt: now } : { startDone: p.startDone, startedAt: p.startedAt };
      return { ...live, prefill: { done: ev.done, total: ev.total, ...start, at: now } };
    }
    case "reasoning":
      return {
        ...live,
        reasoning: live.reasoning + ev.text,
        reasoningStartedAt: live.reasoningStartedAt ?? now,
      };
    case "answer":
      return {
        ...live,
        answer: live.answer + ev.text,
        answerStartedAt: live.answerStartedAt ?? now,
      };
    case "usage": {
      const { type: _t, ...usage } = ev;
      return { ...live, usage };
    }
    case "done":
      return {
        ...live,
        stopReason: ev.reason,
        reasoningUnterminated: ev.reasoning_unterminated,
        endedAt: now,
      };
    case "error":
      return { ...live, error: { kind: ev.kind, message: ev.message }, endedAt: now };
    case "tool_call": {
      const { type: _t, ...call } = ev;
      return { ...live, tools: [...live.tools, { call, result: null }] };
    }
    case "tool_result": {
      const { type: _t, ...result } = ev;
      const i = live.tools.findIndex((c) => c.call.id === result.id && c.result === null);
      const card = i >= 0 ? { ...live.tools[i], result } : { call: { id: result.id, name: result.name, arguments: {} }, result };
      const tools = i >= 0 ? live.tools.map((c, j) => (j === i ? card : c)) : [...live.tools, card];
      return { ...live, tools, approvals: live.approvals.filter((a) => a.call.id !== result.id) };
    }
    case "tool_call_malformed":
      return { ...live, answer: live.answer + ev.text, answerStartedAt: live.answerStartedAt ?? now, toolNotes: [...live.toolNotes, ev.reason] };
  }
}

/** The phase the reasoning panel shows. */
export type ReasoningPhase = "none" | "thinking" | "thought";

export function reasoningPhase(live: LiveAnswer): ReasoningPhase {
  if (live.reasoningStartedAt === null) return "none";
  if (live.answerStartedAt === null && live.status === "streaming") return "thinking";
  return "thought";
}

/**
 * Seconds left reading the prompt at the rate seen so far; null until a step has been timed.
 * Measured from the first report, so reused tokens do not count as speed.
 */
export function prefillSecondsLeft(p: PrefillProgress): number | null {
  const ran = p.done - p.startDone;
  const ms = p.at - p.startedAt;
  if (ran <= 0 || ms <= 0) return null;
  return Math.ceil(((p.total - p.done) * ms) / ran / 1000);
}

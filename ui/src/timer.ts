// "Thinking… 12 s" while the model reasons, "Thought for 38 s" once the answer begins.

import type { Lang } from "./i18n";
import { t } from "./i18n";

/** Whole seconds between two instants (ms), never negative. */
export function seconds(from: number, to: number): number {
  return Math.max(0, Math.floor((to - from) / 1000));
}

/** How long reasoning took: until the answer's first text, or until the end if there was none. */
export function reasoningSeconds(startedAt: number, answerAt: number | null, endedAt: number | null, now: number): number {
  return seconds(startedAt, answerAt ?? endedAt ?? now);
}

export function reasoningLabel(
  lang: Lang,
  startedAt: number | null,
  answerAt: number | null,
  endedAt: number | null,
  now: number,
): string {
  if (startedAt === null) return t(lang, "reasoning.title");
  const s = reasoningSeconds(startedAt, answerAt, endedAt, now);
  if (answerAt === null && endedAt === null) return t(lang, "reasoning.thinking", { s });
  return t(lang, "reasoning.thought", { s });
}

/** For a stored message: the reasoning's length is not stored, only its tokens and speed. */
export function storedReasoningSeconds(reasoningTokens: number | null, decodeTokS: number | null): number | null {
  if (!reasoningTokens || !decodeTokS) return null;
  return Math.round(reasoningTokens / decodeTokS);
}

// Search results as the sidebar lists them: one per conversation (its best hit), with the
// words searched for marked in the snippet.

import type { SearchHit } from "./types";

export function onePerConversation(hits: SearchHit[]): SearchHit[] {
  const seen = new Set<number>();
  return hits.filter((h) => {
    if (seen.has(h.conversation_id)) return false;
    seen.add(h.conversation_id);
    return true;
  });
}

export interface Segment {
  text: string;
  match: boolean;
}

/** The snippet cut into plain and matching pieces (any of the query's words, any case). */
export function highlight(snippet: string, query: string): Segment[] {
  const words = query
    .split(/\s+/)
    .map((w) => w.replace(/^"+|"+$/g, ""))
    .filter((w) => w.length > 0)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (words.length === 0) return [{ text: snippet, match: false }];
  const re = new RegExp(`(${words.join("|")})`, "gi");
  return snippet
    .split(re)
    .filter((piece) => piece !== "")
    .map((piece) => ({ text: piece, match: words.some((w) => new RegExp(`^${w}$`, "i").test(piece)) }));
}

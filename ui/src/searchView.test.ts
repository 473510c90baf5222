import { describe, expect, it } from "vitest";
import { highlight, onePerConversation } from "./searchView";
import type { SearchHit } from "./types";

const hit = (conversation_id: number, field: string, message_id: number | null): SearchHit =>
  ({ conversation_id, title: `c${conversation_id}`, message_id, field, snippet: "", updated_at: 0 }) as unknown as SearchHit;

describe("search results", () => {
  it("lists a conversation once, at its best hit", () => {
    const hits = [hit(1, "answer", 12), hit(1, "title", null), hit(2, "question", 20), hit(1, "question", 11)];
    expect(onePerConversation(hits).map((h) => [h.conversation_id, h.message_id])).toEqual([
      [1, 12],
      [2, 20],
    ]);
  });

  it("marks the words searched for, in any case", () => {
    expect(highlight("The Discount rate and discounting", "discount")).toEqual([
      { text: "The ", match: false },
      { text: "Discount", match: true },
      { text: " rate and ", match: false },
      { text: "discount", match: true },
      { text: "ing", match: false },
    ]);
    expect(highlight("现值是多少", "现值")).toEqual([
      { text: "现值", match: true },
      { text: "是多少", match: false },
    ]);
    expect(highlight("a (b) c", "(b)")).toEqual([
      { text: "a ", match: false },
      { text: "(b)", match: true },
      { text: " c", match: false },
    ]);
    expect(highlight("plain", "  ")).toEqual([{ text: "plain", match: false }]);
  });
});

import { describe, expect, it } from "vitest";
import { reasoningLabel, storedReasoningSeconds } from "./timer";

describe("reasoning timer", () => {
  it("counts while thinking, then freezes when the answer starts", () => {
    expect(reasoningLabel("en", 1000, null, null, 13_500)).toBe("Thinking… 12 s");
    expect(reasoningLabel("zh", 1000, null, null, 13_500)).toBe("思考中… 12 秒");
    expect(reasoningLabel("en", 1000, 39_000, null, 99_000)).toBe("Thought for 38 s");
    expect(reasoningLabel("zh", 1000, 39_000, 50_000, 99_000)).toBe("已思考 38 秒");
  });
  it("stops at the end when no answer came, and never goes negative", () => {
    expect(reasoningLabel("en", 1000, null, 6000, 99_000)).toBe("Thought for 5 s");
    expect(reasoningLabel("en", 5000, null, null, 1000)).toBe("Thinking… 0 s");
    expect(reasoningLabel("en", null, null, null, 0)).toBe("Reasoning");
  });
  it("estimates a stored answer's reasoning time from its tokens and speed", () => {
    expect(storedReasoningSeconds(400, 20)).toBe(20);
    expect(storedReasoningSeconds(null, 20)).toBeNull();
  });
});

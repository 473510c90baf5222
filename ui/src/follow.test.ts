import { describe, expect, it } from "vitest";
import { atBottom, SLACK } from "./follow";

describe("following the stream", () => {
  it("counts the last few pixels as the bottom, and a scroll up as reading", () => {
    expect(atBottom(600, 1000, 400)).toBe(true);
    expect(atBottom(600 - SLACK, 1000, 400)).toBe(true);
    expect(atBottom(600 - SLACK - 1, 1000, 400)).toBe(false);
    expect(atBottom(0, 300, 400)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { atBottom, movedUp, SLACK } from "./follow";

describe("following the stream", () => {
  it("counts the last few pixels as the bottom, and a scroll up as reading", () => {
    expect(atBottom(600, 1000, 400)).toBe(true);
    expect(atBottom(600 - SLACK, 1000, 400)).toBe(true);
    expect(atBottom(600 - SLACK - 1, 1000, 400)).toBe(false);
    expect(atBottom(0, 300, 400)).toBe(true);
  });

  // A move made without a wheel (a scrollbar drag, a key) that the next token reaches before
  // the scroll event does: following must not undo it.
  it("sees a move up that no scroll event has reported yet", () => {
    // Left at 600 of 1000; the answer has since grown to 1100.
    expect(movedUp(600, 0, 1100, 400)).toBe(true);
    expect(movedUp(600, 600 - SLACK - 10, 1100, 400)).toBe(true);
  });

  it("does not take growth, a first stick or a shrink for a move", () => {
    expect(movedUp(600, 600, 1100, 400)).toBe(false);
    expect(movedUp(null, 0, 1100, 400)).toBe(false);
    // The content shrank to 900: the browser clamped the view to its new end.
    expect(movedUp(600, 500, 900, 400)).toBe(false);
  });
});

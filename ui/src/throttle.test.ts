import { describe, expect, it, vi } from "vitest";
import { Throttled } from "./throttle";

describe("throttled re-render", () => {
  it("renders the first text at once, then at most once per interval, ending on the latest", async () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const shown: string[] = [];
    const r = new Throttled(async (t: string) => {
      calls.push(t);
      return `<p>${t}</p>`;
    }, (html) => shown.push(html), 100);
    r.push("a");
    await vi.advanceTimersByTimeAsync(0);
    for (const t of ["ab", "abc", "abcd"]) r.push(t);
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(60);
    expect(calls).toEqual(["a", "abcd"]);
    expect(shown.at(-1)).toBe("<p>abcd</p>");
    vi.useRealTimers();
  });

  it("does not lose text that arrives while a render is in flight", async () => {
    let release: () => void = () => {};
    const calls: string[] = [];
    const r = new Throttled(
      (t: string) =>
        new Promise<string>((res) => {
          calls.push(t);
          release = () => res(t);
        }),
      () => {},
      0,
    );
    r.push("one");
    r.push("one two", true);
    release();
    await new Promise((res) => setTimeout(res, 5));
    release();
    await new Promise((res) => setTimeout(res, 5));
    expect(calls).toEqual(["one", "one two"]);
  });
});

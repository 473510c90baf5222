import { describe, expect, it } from "vitest";
import { eta, gb, safeName, size } from "./components/format";

describe("numbers on the model pages", () => {
  it("shows sizes in the unit an analyst reads", () => {
    expect(size(4_683_073_760)).toBe("4.68 GB");
    expect(size(98_400_000)).toBe("98.4 MB");
    expect(size(512)).toBe("512 B");
    expect(gb(25_300_000_000)).toBe("25 GB");
    expect(gb(7_900_000_000)).toBe("7.9 GB");
  });
  it("shows time left, and dashes when it is unknown", () => {
    expect(eta(185)).toBe("3:05");
    expect(eta(3725)).toBe("1:02:05");
    expect(eta(Infinity)).toBe("--:--");
  });
});

describe("report file names", () => {
  it("keep a title's words, one dash between them", () => {
    expect(safeName("Q3 review - ACME Corp")).toBe("Q3-review-ACME-Corp");
    expect(safeName("两年后收到1000元的现值是多少？")).toBe("两年后收到1000元的现值是多少？");
    expect(safeName(" a/b:c ")).toBe("a-b-c");
    expect(safeName("   ")).toBe("report");
  });
});

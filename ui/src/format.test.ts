import { describe, expect, it } from "vitest";
import { columnName, eta, firstLine, gb, safeName, shortTitle, size } from "./components/format";

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

describe("titles: stored whole, shown short", () => {
  const q = "What is the NPV of a project costing $1m with inflows of $300k a year for five years at 8%?\nShow the working.";
  it("shows the first line, cut at a word", () => {
    expect(firstLine(`  \n${q}`)).toBe("What is the NPV of a project costing $1m with inflows of $300k a year for five years at 8%?");
    expect(shortTitle(q, 40)).toBe("What is the NPV of a project costing $1m…");
    expect(shortTitle("Short one")).toBe("Short one");
    expect(shortTitle("Line one\nline two")).toBe("Line one …");
  });
  it("cuts Chinese at the limit, having no spaces", () => {
    expect(shortTitle("上市公司董事在定期报告公告前15日内买入本公司股票，是否构成窗口期违规？", 12)).toBe("上市公司董事在定期报告公…");
  });
  it("names a file after the first line", () => {
    expect(safeName(q)).toBe("What-is-the-NPV-of-a-project-costing-$1m-with-inflows-of-$30");
  });
});

describe("a report's file name", () => {
  it("takes the format's extension in place of another report format's", async () => {
    const { withExtension } = await import("./components/format");
    expect(withExtension("/docs/memo.docx", "pdf")).toBe("/docs/memo.pdf");
    expect(withExtension("/docs/memo.pdf", "docx")).toBe("/docs/memo.docx");
    expect(withExtension("/docs/memo.docx", "docx")).toBe("/docs/memo.docx");
    expect(withExtension("/docs/2024.v2", "md")).toBe("/docs/2024.v2.md");
  });
});

describe("a sheet's column letters", () => {
  it("names columns as Excel does", () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702, 16383].map(columnName)).toEqual(["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]);
  });
});

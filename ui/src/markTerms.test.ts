import { describe, expect, it } from "vitest";
import { searchTerms, termRanges } from "./markTerms";

describe("the searched words in the opened message", () => {
  it("takes the words of a search, longest first", () => {
    expect(searchTerms("Net interest  margin, a")).toEqual(["interest", "margin", "net"]);
    expect(searchTerms("净息差 NIM")).toEqual(["净息差", "nim"]);
    expect(searchTerms("  ")).toEqual([]);
  });
  it("finds each occurrence, case aside, never two over one another", () => {
    expect(termRanges("Margin and net margin; NET", ["margin", "net"])).toEqual([
      [0, 6],
      [11, 14],
      [15, 21],
      [23, 26],
    ]);
    expect(termRanges("净息差收窄，净息差", ["净息差"])).toEqual([
      [0, 3],
      [6, 9],
    ]);
    expect(termRanges("interest", ["interest", "rest"])).toEqual([[0, 8]]);
  });
});

import { describe, expect, it } from "vitest";
import { markedItems, normalise } from "./pageMark";

const page = [
  "Annual Report 2024",
  "Consolidated income statement",
  "Revenue grew 12% to CNY 4,210 million in 2024,",
  "driven by fee income from wealth management.",
  "Net interest margin",
  "1.82%",
  "Risk factors",
  "Credit risk rose in the property sector.",
];

describe("the passage on its page", () => {
  it("keeps letters and digits, with their places", () => {
    expect(normalise("A b,1").text).toBe("ab1");
    expect(normalise("A b,1").at).toEqual([0, 2, 4]);
    expect(normalise("净利润 增长").text).toBe("净利润增长");
  });

  it("marks the lines a passage read with other spacing and line breaks came from", () => {
    const passage = "Revenue grew 12 % to CNY 4,210 million in 2024, driven by fee income\nfrom wealth management.";
    expect(markedItems(page, passage)).toEqual([2, 3]);
  });

  it("finds a table's rows though the reader drew them with pipes", () => {
    const passage = "| Net interest margin | 1.82% |";
    expect(markedItems(page, passage)).toEqual([4, 5]);
  });

  it("marks nothing for a passage that is not on the page, and never a lone figure's coincidence", () => {
    expect(markedItems(page, "Liquidity coverage ratio stood at 145% at year end, above the floor.")).toEqual([]);
    expect(markedItems(page, "")).toEqual([]);
    expect(markedItems([], "Revenue grew")).toEqual([]);
  });

  it("leaves out the line the app adds to an OCR'd page", () => {
    const passage = "[p. 8: read by OCR, confidence 91%]\nCredit risk rose in the property sector.";
    expect(markedItems(page, passage)).toEqual([7]);
  });

  it("finds a Chinese passage", () => {
    const zh = ["2024年年度报告", "贷款余额较上年增长百分之八点五，", "主要来自普惠金融与绿色信贷。", "风险提示"];
    expect(markedItems(zh, "贷款余额较上年增长百分之八点五，主要来自普惠金融与绿色信贷。")).toEqual([1, 2]);
  });
});

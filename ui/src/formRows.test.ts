import { describe, expect, it } from "vitest";
import { formRows, missingFields } from "./formRows";
import type { Scenario } from "./types";

const preset = {
  fields: [
    { name: "rule", label: { zh: "法规或制度条文", en: "Regulation or policy text" }, required: true },
    { name: "facts", label: { zh: "业务事实", en: "Business facts" }, required: true },
    { name: "jurisdiction", label: { zh: "适用地区", en: "Jurisdiction" }, required: false },
  ],
} as unknown as Scenario;

describe("a question's form", () => {
  it("reads as the preset labels it, in its order, in the UI's language", () => {
    const values = { jurisdiction: "HK", facts: "A trade", rule: "Art. 5", old_field: "x", empty: " " };
    expect(formRows(values, preset, "en")).toEqual([
      ["Regulation or policy text", "Art. 5"],
      ["Business facts", "A trade"],
      ["Jurisdiction", "HK"],
      ["old_field", "x"],
    ]);
    expect(formRows(values, preset, "zh")[0]).toEqual(["法规或制度条文", "Art. 5"]);
    expect(formRows({ a: "1" }, undefined, "en")).toEqual([["a", "1"]]);
  });

  it("names the required fields left empty", () => {
    expect(missingFields({ rule: " ", facts: "x" }, preset)).toEqual(["rule"]);
    expect(missingFields({}, null)).toEqual([]);
  });
});

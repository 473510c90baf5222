import { describe, expect, it } from "vitest";
import { dictionaries, systemLang, t } from "./i18n";

describe("i18n", () => {
  it("has every key in both languages, none empty", () => {
    const zh = Object.keys(dictionaries.zh).sort();
    const en = Object.keys(dictionaries.en).sort();
    expect(en).toEqual(zh);
    for (const lang of ["zh", "en"] as const) {
      for (const [k, v] of Object.entries(dictionaries[lang])) expect(v.trim(), `${lang} ${k}`).not.toBe("");
    }
  });
  it("uses the same placeholders in both languages", () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const k of Object.keys(dictionaries.zh) as (keyof typeof dictionaries.zh)[]) {
      expect(names(dictionaries.en[k]), k).toEqual(names(dictionaries.zh[k]));
    }
  });
  it("fills placeholders", () => {
    expect(t("en", "message.branch", { i: 2, n: 3 })).toBe("Version 2 of 3");
    expect(t("zh", "stats.tokens", { r: 5, a: 6 })).toBe("5 推理 + 6 回答 tokens");
  });
  it("says one page, not 1 pages", () => {
    expect(t("en", "attach.pages", { n: 1 })).toBe("1 page");
    expect(t("en", "attach.pages", { n: 12 })).toBe("12 pages");
    expect(t("en", "library.folder", { files: 1, indexed: 1, refused: 0, pages: 1, parts: 2 })).toBe("1 file (1 read, 0 refused) · 1 page · 2 passages");
    expect(t("zh", "attach.pages", { n: 1 })).toBe("1 页");
  });
  it("guesses the language from the system", () => {
    expect(systemLang("zh-CN")).toBe("zh");
    expect(systemLang("en-US")).toBe("en");
    expect(systemLang(undefined)).toBe("en");
  });
});

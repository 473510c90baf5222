import { describe, expect, it } from "vitest";
import { errorText } from "./api";

describe("errors as the analyst reads them", () => {
  const e = { kind: "truncated", message: "/models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB" };
  it("says what went wrong in the UI's language, then the details", () => {
    expect(errorText(e, "zh")).toBe("模型文件不完整（被截断）：/models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB");
    expect(errorText(e, "en")).toBe("The model file is incomplete (truncated): /models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB");
  });
  it("keeps the message alone where the kind is unknown, or already said", () => {
    expect(errorText({ kind: "something_new", message: "x" }, "zh")).toBe("x");
    expect(errorText({ kind: "disk_full", message: "The disk is full: 12 MB free" }, "en")).toBe("The disk is full: 12 MB free");
    expect(errorText("plain", "en")).toBe("plain");
  });
});

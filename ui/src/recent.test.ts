import { describe, expect, it } from "vitest";
import { Recent } from "./recent";

describe("Recent", () => {
  it("keeps the newest entries, a value set again counting as new", () => {
    const r = new Recent<number, string>(2);
    r.set(1, "a");
    r.set(2, "b");
    r.set(1, "a2");
    r.set(3, "c");
    expect([r.get(1), r.get(2), r.get(3)]).toEqual(["a2", undefined, "c"]);
  });
});

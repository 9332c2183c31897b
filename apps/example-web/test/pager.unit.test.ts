// The cursor pager's links (lib/pager.ts): filters kept, the cursor only where it belongs.
import { describe, expect, it } from "vitest";
import { cursorOf, pageLinks } from "../lib/pager.ts";

describe("cursor pages as links", () => {
  it("the first page links only to older entries, keeping the filters", () => {
    expect(pageLinks("/audit", { kind: "team", actor: "" }, "", "41")).toEqual({ older: "/audit?kind=team&before=41" });
  });

  it("an older page links back to the newest (filters kept) and on, or only back on the last page", () => {
    expect(pageLinks("/audit", { kind: "team" }, "41", "12")).toEqual({
      newest: "/audit?kind=team",
      older: "/audit?kind=team&before=12",
    });
    expect(pageLinks("/security", {}, "12", null)).toEqual({ newest: "/security" });
    expect(pageLinks("/security", {}, "", null)).toEqual({});
  });

  it("takes only a positive integer as a cursor", () => {
    expect(["41", "0", "-1", "1e3", "41&x=1", ["41"], undefined].map(cursorOf)).toEqual(["41", "", "", "", "", "", ""]);
  });
});

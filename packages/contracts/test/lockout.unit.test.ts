import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bruteForceKeys, identifierKey, normalizeIdentifier } from "../src/lockout.ts";

describe("brute-force key naming", () => {
  it("hashes the canonical spelling with Web Crypto, the same bytes node:crypto gives", async () => {
    for (const raw of ["alice@example.org", " ALİCE@EXAMPLE.ORG\u200b", "ｂｏｂ@example.org", "é@x.y"]) {
      const expected = createHash("sha256").update(normalizeIdentifier(raw)).digest("hex").slice(0, 32);
      expect(await identifierKey(raw)).toBe(expected);
    }
  });

  it("gives respellings of one account one key, and different accounts different keys", async () => {
    expect(await identifierKey(" Alice@Example.org ")).toBe(await identifierKey("alice@example.org"));
    expect(await identifierKey("alice@example.org")).not.toBe(await identifierKey("bob@example.org"));
  });

  it("names an account's lock by scope and hash, never by the address", async () => {
    const key = bruteForceKeys.accountLock("login", await identifierKey("alice@example.org"));
    expect(key).toMatch(/^gh:bf:login:lock:id:[0-9a-f]{32}$/);
    expect(key).not.toContain("alice");
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { credentialFrom, credentialKey, extractSessionCookie } from "../src/index.ts";

const V = "MTc5NTg0OTAxOHxEWDhFQVFMX2dBQUJFQUVRQUFCX180X0FBQUU9fA-_x==";

describe("extractSessionCookie", () => {
  it("finds the Kratos cookie among others, with or without spaces", () => {
    expect(extractSessionCookie(`a=1; ory_kratos_session=${V}; b=2`)).toBe(V);
    expect(extractSessionCookie(`a=1;ory_kratos_session=${V};b=2`)).toBe(V);
    expect(extractSessionCookie(`ory_kratos_session=${V}`)).toBe(V);
    expect(extractSessionCookie(`  ory_kratos_session = ${V} ;`)).toBe(V);
  });

  it("unquotes a quoted value", () => {
    expect(extractSessionCookie(`x=y; ory_kratos_session="${V}"`)).toBe(V);
  });

  it("honours a custom cookie name and matches names exactly", () => {
    expect(extractSessionCookie(`my_session=${V}`, "my_session")).toBe(V);
    expect(extractSessionCookie(`ORY_KRATOS_SESSION=${V}`)).toBeUndefined();
    expect(extractSessionCookie(`xory_kratos_session=${V}`)).toBeUndefined();
    expect(extractSessionCookie(`ory_kratos_session_x=${V}`)).toBeUndefined();
  });

  it("returns undefined when absent, empty or valueless", () => {
    expect(extractSessionCookie(undefined)).toBeUndefined();
    expect(extractSessionCookie("")).toBeUndefined();
    expect(extractSessionCookie("a=1; b=2")).toBeUndefined();
    expect(extractSessionCookie("ory_kratos_session=")).toBeUndefined();
    expect(extractSessionCookie('ory_kratos_session=""')).toBeUndefined();
    expect(extractSessionCookie("ory_kratos_session")).toBeUndefined();
  });

  it("refuses the same cookie twice with different values (ambiguous: could be two users)", () => {
    expect(extractSessionCookie(`ory_kratos_session=${V}; ory_kratos_session=other`)).toBeUndefined();
    expect(extractSessionCookie(`ory_kratos_session=other; a=1; ory_kratos_session=${V}`)).toBeUndefined();
  });

  it("accepts the same cookie twice with the same value", () => {
    expect(extractSessionCookie(`ory_kratos_session=${V}; a=1; ory_kratos_session=${V}`)).toBe(V);
    expect(extractSessionCookie(`ory_kratos_session=${V}; ory_kratos_session="${V}"`)).toBe(V);
  });

  it("refuses an oversized header or value", () => {
    const filler = `pad=${"x".repeat(8 * 1024)}`;
    expect(extractSessionCookie(`ory_kratos_session=${V}; ${filler}`)).toBeUndefined();
    expect(extractSessionCookie(`ory_kratos_session=${"a".repeat(4 * 1024 + 1)}`)).toBeUndefined();
    expect(extractSessionCookie(`ory_kratos_session=${"a".repeat(4 * 1024)}`)).toHaveLength(4 * 1024);
  });

  it("refuses values with control characters or other non-cookie octets", () => {
    for (const bad of ["ab\u0000cd", "ab\tcd", "ab\u007fcd", "ab\rcd", "ab cd", "ab\\cd", "abé", 'a"b']) {
      expect(extractSessionCookie(`ory_kratos_session=${bad}`), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it("ignores junk in other cookies", () => {
    expect(extractSessionCookie(`weird=a b\u0001; ory_kratos_session=${V}; =novalue; flag`)).toBe(V);
  });
});

describe("credentialFrom", () => {
  it("uses the cookie when there is no token", () => {
    expect(credentialFrom({ cookieHeader: `a=1; ory_kratos_session=${V}` })).toEqual({ kind: "cookie", value: V });
    expect(credentialFrom({ cookieHeader: `sid=${V}` }, "sid")).toEqual({ kind: "cookie", value: V });
  });

  it("prefers the session token when both are sent (as Kratos does)", () => {
    expect(credentialFrom({ cookieHeader: `ory_kratos_session=${V}`, sessionToken: "ory_st_abc" })).toEqual({
      kind: "token",
      value: "ory_st_abc",
    });
  });

  it("treats an empty token as absent but refuses a malformed one instead of falling back to the cookie", () => {
    expect(credentialFrom({ cookieHeader: `ory_kratos_session=${V}`, sessionToken: "" })).toEqual({
      kind: "cookie",
      value: V,
    });
    expect(credentialFrom({ cookieHeader: `ory_kratos_session=${V}`, sessionToken: "ory st\u0000" })).toBeUndefined();
    expect(credentialFrom({ sessionToken: "x".repeat(4097) })).toBeUndefined();
  });

  it("returns undefined when there is nothing usable", () => {
    expect(credentialFrom({})).toBeUndefined();
    expect(credentialFrom({ cookieHeader: "a=1" })).toBeUndefined();
    expect(credentialFrom({ cookieHeader: "ory_kratos_session=a; ory_kratos_session=b" })).toBeUndefined();
  });
});

describe("credentialKey", () => {
  it("is a stable hex SHA-256 that never contains the raw value", async () => {
    const cookie = { kind: "cookie", value: V } as const;
    const k1 = await credentialKey(cookie);
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(await credentialKey({ kind: "cookie", value: V })).toBe(k1);
    expect(k1).not.toContain(V);
    // Exactly SHA-256("kind:value"), so keys stay compatible across processes and versions.
    expect(await credentialKey({ kind: "token", value: "abc" })).toBe(
      createHash("sha256").update("token:abc").digest("hex"),
    );
  });

  it("differs between a cookie and a token with the same value, and between values", async () => {
    const asCookie = await credentialKey({ kind: "cookie", value: "same" });
    const asToken = await credentialKey({ kind: "token", value: "same" });
    expect(asCookie).not.toBe(asToken);
    expect(await credentialKey({ kind: "cookie", value: "other" })).not.toBe(asCookie);
  });
});

describe("hashCredential: the hex SHA-256 of kind:value", () => {
  it("gives the same hex SHA-256 as crypto.subtle for cookies, tokens and other kinds", async () => {
    const { hashCredential } = await import("../src/credentials.ts");
    for (const [kind, value] of [
      ["cookie", "MTY5abc-_="],
      ["token", "ory_st_abcdef"],
      ["api_key", "sk_xyz"],
      ["jwt", "é unicode ✓"],
    ] as const) {
      const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${kind}:${value}`));
      const expected = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
      expect(await hashCredential(kind, value)).toBe(expected);
    }
  });
});

describe("digestCredential: the in-process cache key", () => {
  it("is the same SHA-256 as hashCredential, one character per byte, on node:crypto and Web Crypto alike", async () => {
    const { digestCredential, digestHex, hashCredential } = await import("../src/credentials.ts");
    const { digestCredentialSync } = await import("../src/index.ts");
    for (const [kind, value] of [
      ["cookie", "MTY5abc-_="],
      ["token", "ory_st_abcdef"],
      ["jwt", "é unicode ✓"],
    ] as const) {
      const digest = digestCredentialSync(kind, value);
      expect(digest).toHaveLength(32);
      expect(await digestCredential(kind, value)).toBe(digest);
      const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${kind}:${value}`)));
      // What the WebCrypto path (Edge runtimes) builds from the same bytes.
      expect(String.fromCharCode(...d)).toBe(digest);
      expect(digestHex(digest)).toBe(await hashCredential(kind, value));
    }
  });
});

describe("looksLikeKratosSession: which 401s are worth a readiness check", () => {
  it("accepts the shapes Kratos v1.3.1 issues and refuses anything else", async () => {
    const { looksLikeKratosSession } = await import("../src/credentials.ts");
    // base64url("<unix time>|<payload>|<32-byte HMAC>"), as gorilla/securecookie writes it.
    const mac = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37) % 256));
    const cookie = btoa(`1796281949|${"qmqpNReKAkvg_1SVWKhKYA48umKV5yVabrOWByzCNoK7gbl4El1Vln80QHUfi"}|${mac}`)
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    const yes = [
      { kind: "cookie", value: cookie },
      { kind: "token", value: `ory_st_${"aZ09".repeat(8)}` },
      { kind: "token", value: "aZ09".repeat(8) }, // tokens from before the ory_st_ prefix
    ] as const;
    const no = [
      { kind: "cookie", value: "MTY5garbage" },
      { kind: "cookie", value: "a".repeat(200) },
      { kind: "cookie", value: btoa(`1796281949|payload-without-mac`) },
      { kind: "cookie", value: `${cookie}!` },
      { kind: "token", value: "ory_st_short" },
      { kind: "token", value: `ory_st_${"a".repeat(33)}` },
      { kind: "token", value: `ory_st_${"a-b_".repeat(8)}` },
    ] as const;
    for (const c of yes) expect(looksLikeKratosSession(c), c.value).toBe(true);
    for (const c of no) expect(looksLikeKratosSession(c), c.value).toBe(false);
  });
});

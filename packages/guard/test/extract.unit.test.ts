// Step 1 (credential extraction) on its own: no stack needed. Hostile header
// combinations must end in "absent", 400 or 401, never in a crash or in picking one
// of two identities.
import {
  credentialKey as kratosCredentialKey,
  extractSessionCookie as kratosExtractSessionCookie,
} from "@gatehouse/kratos";
import { describe, expect, it } from "vitest";
import { credentialKey, extractCredential, extractSessionCookie, removeCookie } from "../src/core/extract.ts";
import { type CredentialKind, GuardError } from "../src/index.ts";

const COOKIE = "MTc5NTg0OTAxOHxEWDhFQVFMX2dBQUJFQUVRQUFCX180X0FBQUU9fA-_x==";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
const KEY = `sk_${"A".repeat(43)}`;
const ALL: CredentialKind[] = ["session", "jwt", "api_key"];

const extract = (headers: Record<string, string>, accept: CredentialKind[] = ALL) =>
  extractCredential(new Headers(headers), { accept, cookieName: "ory_kratos_session" });

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (error instanceof GuardError) return error.code;
    throw error;
  }
}

describe("credential extraction", () => {
  it("a JWT the guard verified before skips the syntax scan, but not the duplicate and conflict checks", () => {
    const known = (t: string) => t === JWT;
    const read = (headers: Record<string, string>, accept: CredentialKind[] = ALL) =>
      extractCredential(new Headers(headers), { accept, cookieName: "ory_kratos_session", knownJwt: known });
    expect(read({ authorization: `Bearer ${JWT}` })).toEqual({ kind: "jwt", value: JWT });
    expect(read({ authorization: `bearer ${JWT}` })).toEqual({ kind: "jwt", value: JWT });
    // Sent twice (joined by ", "): not the known token, so the general path refuses it.
    expect(errorCode(() => read({ authorization: `Bearer ${JWT}, Bearer ${JWT}x` }))).toBe("ambiguous_credentials");
    // Known, but another explicit credential disagrees.
    expect(errorCode(() => read({ authorization: `Bearer ${JWT}`, "x-api-key": KEY }))).toBe("ambiguous_credentials");
    // Known, on a route that does not take JWTs: ignored, as an unknown one would be.
    expect(read({ authorization: `Bearer ${JWT}` }, ["session"])).toBeUndefined();
    // Unknown and malformed: still refused.
    expect(errorCode(() => read({ authorization: "Bearer a b" }))).toBe("unauthenticated");
  });

  it("reads each kind of credential", () => {
    expect(extract({ cookie: `theme=dark; ory_kratos_session=${COOKIE}` })).toEqual({
      kind: "session",
      source: "cookie",
      value: COOKIE,
    });
    expect(extract({ "x-session-token": "ory_st_abc" })).toEqual({
      kind: "session",
      source: "token",
      value: "ory_st_abc",
    });
    expect(extract({ authorization: `Bearer ${JWT}` })).toEqual({ kind: "jwt", value: JWT });
    expect(extract({ authorization: `bearer   ${KEY}` })).toEqual({ kind: "api_key", value: KEY });
    // Any case of the scheme, padding, surrounding whitespace: one token either way.
    for (const authorization of [`BEARER ${JWT}`, `bEaReR ${JWT}`, ` Bearer ${JWT} `, `Bearer\t${JWT}`]) {
      expect(extract({ authorization }), authorization.slice(0, 10)).toEqual({ kind: "jwt", value: JWT });
    }
    expect(extract({ authorization: "Bearer abc==" })).toEqual({ kind: "jwt", value: "abc==" });
    expect(extract({ authorization: `Bearer ${"a".repeat(16 * 1024)}` })?.kind).toBe("jwt");
    expect(extract({ authorization: "Bearerabc" })).toBeUndefined(); // another scheme, not ours
    expect(extract({ "x-api-key": KEY })).toEqual({ kind: "api_key", value: KEY });
  });

  it("prefers an explicit credential over the ambient cookie", () => {
    expect(extract({ authorization: `Bearer ${JWT}`, cookie: `ory_kratos_session=${COOKIE}` })?.kind).toBe("jwt");
  });

  it("honours the route's accepted kinds", () => {
    expect(extract({ authorization: `Bearer ${JWT}` }, ["session"])).toBeUndefined();
    expect(extract({ "x-api-key": KEY }, ["session", "jwt"])).toBeUndefined();
    // A JWT the route does not accept does not hide the session cookie.
    expect(extract({ authorization: `Bearer ${JWT}`, cookie: `ory_kratos_session=${COOKIE}` }, ["session"])?.kind).toBe(
      "session",
    );
  });

  // The README's "Duplicate credentials" table, case by case (issue 18: what a reader saw).
  it("cookie + an API key: the key decides where the route accepts keys, else it is not read and the cookie decides", () => {
    const cookie = `ory_kratos_session=${COOKIE}`;
    const keysToo: CredentialKind[] = ["session", "jwt", "api_key"];
    const noKeys: CredentialKind[] = ["session", "jwt"]; // the guard's default `accept`
    for (const key of [{ authorization: `Bearer ${KEY}` }, { "x-api-key": KEY }]) {
      expect(extract({ cookie, ...key }, keysToo)).toEqual({ kind: "api_key", value: KEY });
      expect(extract({ cookie, ...key }, noKeys)).toEqual({ kind: "session", source: "cookie", value: COOKIE });
    }
    // Only the route's kinds count as explicit credentials: a JWT + an API key on a
    // route without keys is the JWT alone, on one with keys it is two (400).
    expect(extract({ authorization: `Bearer ${JWT}`, "x-api-key": KEY }, noKeys)).toEqual({ kind: "jwt", value: JWT });
    expect(errorCode(() => extract({ authorization: `Bearer ${JWT}`, "x-api-key": KEY }, keysToo))).toBe(
      "ambiguous_credentials",
    );
    // X-API-Key is read only where keys are accepted, even sent twice; Authorization
    // sent twice is refused whatever the route accepts.
    expect(extract({ cookie, "x-api-key": `${KEY}, ${KEY}` }, noKeys)?.kind).toBe("session");
    expect(errorCode(() => extract({ cookie, authorization: `Bearer ${KEY}, Bearer ${KEY}` }, noKeys))).toBe(
      "ambiguous_credentials",
    );
  });

  it("refuses duplicated or conflicting credentials (400) instead of picking one", () => {
    expect(errorCode(() => extract({ authorization: `Bearer ${JWT}, Bearer ${JWT}x` }))).toBe("ambiguous_credentials");
    expect(errorCode(() => extract({ "x-api-key": `${KEY}, ${KEY}` }))).toBe("ambiguous_credentials");
    expect(errorCode(() => extract({ "x-session-token": "ory_st_a, ory_st_b" }))).toBe("ambiguous_credentials");
    expect(errorCode(() => extract({ authorization: `Bearer ${KEY}`, "x-api-key": `sk_${"B".repeat(43)}` }))).toBe(
      "ambiguous_credentials",
    );
    expect(errorCode(() => extract({ authorization: `Bearer ${JWT}`, "x-session-token": "ory_st_a" }))).toBe(
      "ambiguous_credentials",
    );
    // The same key in both places is one credential.
    expect(extract({ authorization: `Bearer ${KEY}`, "x-api-key": KEY })).toEqual({ kind: "api_key", value: KEY });
  });

  it("answers a malformed or oversized explicit credential with 401, never falling back to the cookie", () => {
    const cookie = `ory_kratos_session=${COOKIE}`;
    for (const authorization of ["Bearer ", "Bearer a b", "Bearer ä", `Bearer ${"a".repeat(17 * 1024)}`]) {
      expect(
        errorCode(() => extract({ authorization, cookie })),
        authorization.slice(0, 20),
      ).toBe("unauthenticated");
    }
    for (const authorization of ["Bearer ab=c", "Bearer =", "Bearer a\u007f", `Bearer ${"a".repeat(16 * 1024)}=x`]) {
      expect(
        errorCode(() => extract({ authorization, cookie })),
        authorization.slice(0, 20),
      ).toBe("unauthenticated");
    }
    expect(errorCode(() => extract({ "x-session-token": "x".repeat(5000), cookie }))).toBe("unauthenticated");
    expect(errorCode(() => extract({ "x-api-key": "sk_\u00ff", cookie }))).toBe("unauthenticated");
  });

  it("treats an untrustworthy cookie as absent", () => {
    expect(extract({ cookie: `ory_kratos_session=${COOKIE}; ory_kratos_session=other` })).toBeUndefined();
    expect(extract({ cookie: `ory_kratos_session=${COOKIE}; pad=${"x".repeat(9000)}` })).toBeUndefined();
    expect(extract({ cookie: "ory_kratos_session=a\u0001b" })).toBeUndefined();
    expect(extract({ cookie: "ory_kratos_session=" })).toBeUndefined();
  });

  it("ignores other Authorization schemes", () => {
    expect(extract({ authorization: "Basic dXNlcjpwYXNz", cookie: `ory_kratos_session=${COOKIE}` })?.kind).toBe(
      "session",
    );
  });

  it("survives a headers object that throws", () => {
    const hostile = {
      get(): string | null {
        throw new Error("boom");
      },
    };
    expect(extractCredential(hostile, { accept: ALL, cookieName: "ory_kratos_session" })).toBeUndefined();
  });

  it("removes only the Kratos cookie when asked to", () => {
    expect(removeCookie(`a=1; ory_kratos_session=${COOKIE}; b=2`, "ory_kratos_session")).toBe("a=1; b=2");
    expect(removeCookie(`ory_kratos_session=${COOKIE}`, "ory_kratos_session")).toBeUndefined();
    expect(removeCookie("ory_kratos_session_x=1; xory_kratos_session=2", "ory_kratos_session")).toBe(
      "ory_kratos_session_x=1; xory_kratos_session=2",
    );
  });
});

describe("parity with @gatehouse/kratos (the guard repeats its cookie rules to stay Edge-safe)", () => {
  const headers = [
    `a=1; ory_kratos_session=${COOKIE}; b=2`,
    `ory_kratos_session="${COOKIE}"`,
    `ory_kratos_session=${COOKIE}; ory_kratos_session=other`,
    `ory_kratos_session=${COOKIE}; ory_kratos_session=${COOKIE}`,
    `ORY_KRATOS_SESSION=${COOKIE}`,
    "ory_kratos_session=",
    "ory_kratos_session=a b",
    `ory_kratos_session=${"a".repeat(4097)}`,
    `weird=a b\u0001; ory_kratos_session=${COOKIE}; =novalue; flag`,
  ];

  it("extracts the same cookie value", () => {
    for (const h of headers) expect(extractSessionCookie(h), h.slice(0, 40)).toBe(kratosExtractSessionCookie(h));
  });

  it("computes the same cache key (a hash, never the raw credential)", async () => {
    const mine = await credentialKey({ kind: "session", source: "cookie", value: COOKIE });
    expect(mine).toBe(await kratosCredentialKey({ kind: "cookie", value: COOKIE }));
    expect(mine).toMatch(/^[0-9a-f]{64}$/);
    expect(await credentialKey({ kind: "session", source: "token", value: "ory_st_x" })).toBe(
      await kratosCredentialKey({ kind: "token", value: "ory_st_x" }),
    );
  });
});

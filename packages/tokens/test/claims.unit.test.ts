import { describe, expect, it } from "vitest";
import {
  CLAIMS_VERSION,
  LruCache,
  mintClaims,
  parseClaims,
  permissionsFor,
  type RolePermissionMap,
  TokenError,
} from "../src/index.ts";
import { baseInput, claimsAt, NOW } from "./helpers.ts";

function rejection(payload: unknown): { code: string; claim: string | undefined; message: string } {
  try {
    parseClaims(payload);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    return { code: error.code, claim: error.claim, message: error.message };
  }
  throw new Error("parseClaims accepted an invalid payload");
}

describe("parseClaims", () => {
  it("accepts a complete payload and returns exactly the known claims", () => {
    const claims = claimsAt();
    const parsed = parseClaims({ ...claims, future_claim: "ignored" });
    expect(parsed).toEqual(claims);
    expect(parsed).not.toHaveProperty("future_claim");
  });

  it("accepts a user with no organization yet (org, plan, role absent; no teams)", () => {
    const { org: _o, plan: _p, role: _r, name: _n, ...rest } = claimsAt();
    const parsed = parseClaims({ ...rest, teams: [], perms: [] });
    expect(parsed.org).toBeUndefined();
    expect(Object.keys(parsed)).not.toContain("org");
    expect(Object.keys(parsed)).not.toContain("name");
  });

  it("accepts aud as an array", () => {
    expect(parseClaims({ ...claimsAt(), aud: ["a", "b"] }).aud).toEqual(["a", "b"]);
  });

  it.each([
    ["ver", { ver: 2 }],
    ["ver", { ver: "1" }],
    ["iss", { iss: "" }],
    ["aud", { aud: [] }],
    ["aud", { aud: ["ok", 3] }],
    ["sub", { sub: undefined }],
    ["sid", { sid: 42 }],
    ["jti", { jti: null }],
    ["iat", { iat: 1.5 }],
    ["nbf", { nbf: "now" }],
    ["exp", { exp: -1 }],
    ["exp", { exp: NOW }],
    ["email", { email: "" }],
    ["email_verified", { email_verified: "true" }],
    ["name", { name: "Ada" }],
    ["name", { name: { first: 1 } }],
    ["org", { org: "" }],
    ["org", { org: null }],
    ["plan", { plan: "free" }],
    ["role", { role: "superuser" }],
    ["teams", { teams: {} }],
    ["teams", { teams: [{ id: "t1", role: "owner" }] }],
    ["teams", { teams: [{ role: "lead" }] }],
    ["perms", { perms: "billing:read" }],
    ["perms", { perms: [""] }],
    ["aal", { aal: "aal3" }],
    ["amr", { amr: [1] }],
  ])("rejects a bad %s claim, naming it", (claim, patch) => {
    const result = rejection({ ...claimsAt(), ...patch });
    expect(result.code).toBe("token_claims_invalid");
    expect(result.claim).toBe(claim);
    expect(result.message).toContain(`"${claim}"`);
  });

  it("names the missing claim when one is absent", () => {
    const { sid: _sid, ...rest } = claimsAt();
    expect(rejection(rest)).toMatchObject({ code: "token_claims_invalid", claim: "sid" });
  });

  it("points at the bad team entry", () => {
    const result = rejection({
      ...claimsAt(),
      teams: [
        { id: "a", role: "lead" },
        { id: "b", role: "boss" },
      ],
    });
    expect(result.claim).toBe("teams");
    expect(result.message).toContain("[1].role");
  });

  it("rejects plan or role without an org", () => {
    const { org: _org, ...rest } = claimsAt();
    expect(rejection(rest).claim).toBe("plan");
    const { plan: _plan, ...noPlan } = rest;
    expect(rejection(noPlan).claim).toBe("role");
  });

  it("rejects a payload from an unknown claims version, saying which one it understands", () => {
    const result = rejection({ ...claimsAt(), ver: CLAIMS_VERSION + 1 });
    expect(result.message).toContain(`claims version ${CLAIMS_VERSION}`);
  });

  it.each([null, [], "claims", 42])("rejects a non-object payload (%j)", (payload) => {
    expect(rejection(payload).code).toBe("token_claims_invalid");
  });
});

describe("permissionsFor", () => {
  const map: RolePermissionMap = {
    owner: ["billing:manage", "members:invite"],
    admin: ["members:invite", "members:remove", "members:invite"],
  };

  it("returns the role's permissions, sorted and de-duplicated", () => {
    expect(permissionsFor("admin", map)).toEqual(["members:invite", "members:remove"]);
  });

  it("does not inherit: an owner gets only what the map lists for owner", () => {
    expect(permissionsFor("owner", map)).toEqual(["billing:manage", "members:invite"]);
    expect(permissionsFor("owner", map)).not.toContain("members:remove");
  });

  it("gives nothing to no role, or to a role the map does not list", () => {
    expect(permissionsFor(undefined, map)).toEqual([]);
    expect(permissionsFor("member", map)).toEqual([]);
  });

  it("returns a copy the caller may change without touching the configuration", () => {
    const perms = permissionsFor("admin", map);
    perms.push("x");
    expect(permissionsFor("admin", map)).toHaveLength(2);
  });
});

describe("mintClaims", () => {
  it("fills iat, nbf, exp, jti and ver from the injected clock", () => {
    const claims = mintClaims(baseInput, { now: NOW, lifetimeSec: 300, notAfter: NOW + 86_400 });
    expect(claims).toMatchObject({ iat: NOW, nbf: NOW, exp: NOW + 300, ver: CLAIMS_VERSION });
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("gives every token a different jti", () => {
    const jtis = new Set(
      Array.from({ length: 100 }, () => mintClaims(baseInput, { now: NOW, lifetimeSec: 60, notAfter: NOW + 60 }).jti),
    );
    expect(jtis.size).toBe(100);
  });

  it("caps exp at the Kratos session expiry", () => {
    const claims = mintClaims(baseInput, { now: NOW, lifetimeSec: 300, notAfter: NOW + 42 });
    expect(claims.exp).toBe(NOW + 42);
  });

  it("refuses to mint for a session that has expired", () => {
    for (const notAfter of [NOW, NOW - 1]) {
      expect(() => mintClaims(baseInput, { now: NOW, lifetimeSec: 300, notAfter })).toThrow(
        expect.objectContaining({ code: "token_expired" }),
      );
    }
  });

  it("refuses a nonsensical lifetime", () => {
    expect(() => mintClaims(baseInput, { now: NOW, lifetimeSec: 0, notAfter: NOW + 60 })).toThrow(RangeError);
  });

  it("validates the input it is given", () => {
    expect(() =>
      mintClaims({ ...baseInput, aal: "aal9" as "aal1" }, { now: NOW, lifetimeSec: 60, notAfter: NOW + 60 }),
    ).toThrow(expect.objectContaining({ code: "token_claims_invalid", claim: "aal" }));
  });
});

describe("LruCache", () => {
  it("evicts the least recently used entry once full", () => {
    const lru = new LruCache<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.get("a")).toBe(1); // a is now the most recent
    lru.set("c", 3);
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBe(1);
    expect(lru.get("c")).toBe(3);
    expect(lru.size).toBe(2);
    lru.delete("a");
    expect(lru.get("a")).toBeUndefined();
  });

  it("keeps what was used recently, drops what went unused for max writes, never holds more than max", () => {
    const lru = new LruCache<number, string>(100);
    lru.set(-1, "hot");
    for (let i = 0; i < 2000; i++) {
      lru.set(i, `v${i}`);
      // Written ten writes ago: still there, however the generations turn over.
      if (i >= 10) expect(lru.get(i - 10)).toBe(`v${i - 10}`);
      // Read at every write: never evicted.
      expect(lru.get(-1)).toBe("hot");
      expect(lru.size).toBeLessThanOrEqual(100);
      // Last used (read above) 140 writes ago: gone.
      if (i >= 150) expect(lru.get(i - 150)).toBeUndefined();
    }
    // Overwriting keeps one entry per key.
    lru.set(1999, "new");
    expect(lru.get(1999)).toBe("new");
    expect(lru.size).toBeLessThanOrEqual(100);
  });

  it("holds one entry with max 1", () => {
    const lru = new LruCache<string, number>(1);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.get("a")).toBeUndefined();
    expect(lru.get("b")).toBe(2);
    expect(lru.size).toBe(1);
  });

  it("refuses a size below 1", () => {
    expect(() => new LruCache(0)).toThrow(RangeError);
  });
});

// The JWT path: Gatehouse access tokens verified locally against the JWKS. Genuine
// tokens come from the real auth-service; forgeries are built by hand with
// node:crypto. Where a forgery needs a trusted signing key (expired, wrong aud/iss,
// crit), a STUB issuer whose key the guard trusts signs it, so the token is refused
// for exactly that reason and not for its signature.
import { createPublicKey } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileRule, createGuard, type Guard, redisRevocationList } from "../src/index.ts";
import { type StubAuthService, startStubAuthService } from "./stub-auth-service.ts";
import {
  closedPort,
  decodeJwt,
  exchangeToken,
  newUser,
  req,
  revokeSession,
  rsaKey,
  signJws,
  stackEnv,
  stackGuardOptions,
  type TestUser,
} from "./support.ts";

const APP = "http://app.example/api/things";
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, accept: "application/json" });

describe("JWT path against the real auth-service's JWKS", () => {
  let guard: Guard;
  let user: TestUser;
  let jwt: string;
  let realKid: string;
  beforeAll(async () => {
    guard = createGuard(stackGuardOptions());
    user = await newUser("jwt");
    jwt = await exchangeToken(user);
    realKid = decodeJwt(jwt).header.kid as string;
  });
  afterAll(async () => {
    await guard.close();
  });

  it("a token from /v1/token is allowed via local verification", async () => {
    const d = await guard.check(req(APP, bearer(jwt)));
    if (d.kind !== "allow" || !d.principal) throw new Error(`expected allow, got ${JSON.stringify(d)}`);
    expect(d.principal).toMatchObject({ subject: user.identityId, email: user.email, via: "jwt", token: jwt });
    expect(d.headers["x-user-id"]).toBe(user.identityId);
  });

  it("decide() gives check()'s decision, without a promise once the token is cached", async () => {
    const fresh = createGuard(stackGuardOptions());
    try {
      const anyCaller = compileRule({});
      // Never seen: the keys are fetched and the signature checked, so a promise.
      const first = fresh.decide(req(APP, bearer(jwt)), anyCaller);
      expect(first).toBeInstanceOf(Promise);
      const decided = await first;
      expect(decided).toEqual(await fresh.check(req(APP, bearer(jwt))));
      // Seen: decided on the spot, same decision.
      const again = fresh.decide(req(APP, bearer(jwt)), anyCaller);
      expect(again).not.toBeInstanceOf(Promise);
      expect(again).toEqual(decided);
      // Refusals are decisions; a bad rule fails when compiled, and check() rejects it.
      expect(fresh.decide(req(APP, {}), anyCaller)).toMatchObject({ kind: "deny", status: 401 });
      expect(() => compileRule({ roles: "admin" as unknown as string[] })).toThrow();
      await expect(fresh.check(req(APP, bearer(jwt)), { roles: "admin" as unknown as string[] })).rejects.toThrow();
    } finally {
      await fresh.close();
    }
  });

  const expectRefused = async (g: Guard, token: string, reason: string) => {
    const d = await g.check(req(APP, bearer(token)));
    expect(d).toMatchObject({ kind: "deny", status: 401, error: "invalid_token" });
    expect((d as { message: string }).message).toContain(reason);
  };

  it("refuses a tampered payload", async () => {
    const [h, , s] = jwt.split(".");
    const { payload } = decodeJwt(jwt);
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: "owner", org: "x" })).toString("base64url")}.${s}`;
    await expectRefused(guard, forged, "token_signature_invalid");
  });

  it('refuses alg "none"', async () => {
    const { header, payload } = decodeJwt(jwt);
    for (const alg of ["none", "None", "NONE"]) {
      await expectRefused(guard, signJws({ ...header, alg }, payload, undefined), "token_alg_not_allowed");
    }
    // Unsigned header, original signature kept.
    const unsigned = signJws({ ...header, alg: "none" }, payload, undefined);
    await expectRefused(guard, `${unsigned}${jwt.split(".")[2]}`, "token_alg_not_allowed");
  });

  it("refuses HS256 signed with the RSA public key (algorithm confusion)", async () => {
    const { header, payload } = decodeJwt(jwt);
    const jwks = (await (await fetch(`${stackEnv().authUrl}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    const jwk = jwks.keys.find((k) => k.kid === realKid);
    if (!jwk) throw new Error("real key not in JWKS");
    const pem = createPublicKey({ key: jwk as never, format: "jwk" }).export({ type: "spki", format: "pem" });
    for (const secret of [pem, JSON.stringify(jwk)]) {
      await expectRefused(guard, signJws({ ...header, alg: "HS256" }, payload, secret), "token_alg_not_allowed");
    }
  });

  it("refuses an unknown kid, and a known kid signed by another key", async () => {
    const attacker = rsaKey("attacker-kid");
    const { payload } = decodeJwt(jwt);
    await expectRefused(
      guard,
      signJws({ alg: "RS256", kid: attacker.kid, typ: "at+jwt" }, payload, attacker.privateKey),
      "token_key_unknown",
    );
    await expectRefused(
      guard,
      signJws({ alg: "RS256", kid: realKid, typ: "at+jwt" }, payload, attacker.privateKey),
      "token_signature_invalid",
    );
  });

  it("refuses keys or key locations carried by the token (jku, x5u, jwk, x5c)", async () => {
    const attacker = rsaKey("attacker-kid");
    const { payload } = decodeJwt(jwt);
    const headers = [
      { jku: "http://attacker.example/jwks.json" },
      { x5u: "http://attacker.example/cert.pem" },
      { jwk: attacker.publicJwk },
      { x5c: ["MIIB"] },
    ];
    for (const extra of headers) {
      const token = signJws({ alg: "RS256", kid: attacker.kid, typ: "at+jwt", ...extra }, payload, attacker.privateKey);
      await expectRefused(guard, token, "token_header_forbidden");
    }
  });

  it("refuses a genuine token that is expired, for another audience or from another issuer", async () => {
    const { payload } = decodeJwt(jwt);
    const later = createGuard(stackGuardOptions({ now: () => ((payload.exp as number) + 60) * 1000 }));
    const otherAud = createGuard(stackGuardOptions({ audience: "billing" }));
    const otherIss = createGuard(stackGuardOptions({ issuer: "https://auth.evil.example" }));
    try {
      await expectRefused(later, jwt, "token_expired");
      await expectRefused(otherAud, jwt, "token_audience_invalid");
      await expectRefused(otherIss, jwt, "token_issuer_invalid");
    } finally {
      await Promise.all([later.close(), otherAud.close(), otherIss.close()]);
    }
  });

  it("refuses garbage in every shape", async () => {
    for (const token of ["abc", "a.b.c", "e30.e30.", `${"a".repeat(100)}.${"b".repeat(100)}.c`]) {
      const d = await guard.check(req(APP, bearer(token)));
      expect(d, token).toMatchObject({ kind: "deny", status: 401 });
    }
  });

  it("with a revocation check, a revoked session's token is refused before it expires", async () => {
    const redis = new Redis(stackEnv().redisUrl, { maxRetriesPerRequest: 1 });
    const checked = createGuard(stackGuardOptions({ revocation: redisRevocationList(redis) }));
    try {
      const victim = await newUser("jwt-revoked");
      const token = await exchangeToken(victim);
      expect((await checked.check(req(APP, bearer(token)))).kind).toBe("allow");
      await revokeSession(decodeJwt(token).payload.sid as string);
      const d = await checked.check(req(APP, bearer(token)));
      expect(d).toMatchObject({ kind: "deny", status: 401, error: "session_revoked" });
      // Without the check the token still verifies until it expires (the documented trade-off).
      expect((await guard.check(req(APP, bearer(token)))).kind).toBe("allow");
    } finally {
      await checked.close();
      redis.disconnect();
    }
  });

  it("a revocation list that cannot be read fails closed as 503, not 401", async () => {
    const redis = new Redis({
      host: "127.0.0.1",
      port: await closedPort(),
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    redis.on("error", () => {});
    const checked = createGuard(stackGuardOptions({ revocation: redisRevocationList(redis, { timeoutMs: 200 }) }));
    try {
      const d = await checked.check(req(APP, bearer(jwt)));
      expect(d).toMatchObject({ kind: "deny", status: 503, error: "dependency_unavailable" });
      expect((d as { retryAfterSec?: number }).retryAfterSec).toBeGreaterThan(0);
    } finally {
      await checked.close();
      redis.disconnect();
    }
  });
});

describe("JWT path: tokens signed by a trusted key but invalid (STUB issuer)", () => {
  let stub: StubAuthService;
  let guard: Guard;
  beforeAll(async () => {
    stub = await startStubAuthService();
    guard = createGuard({ authServiceUrl: stub.url, audience: "gatehouse" });
  });
  afterAll(async () => {
    await guard.close();
    await stub.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const refused = async (token: string, reason: string) => {
    const d = await guard.check(req(APP, bearer(token)));
    expect(d, reason).toMatchObject({ kind: "deny", status: 401, error: "invalid_token" });
    expect((d as { message: string }).message).toContain(reason);
  };

  it("accepts a valid one (and within the clock leeway)", async () => {
    expect((await guard.check(req(APP, bearer(stub.mint())))).kind).toBe("allow");
    const justExpired = stub.mint({ iat: now() - 305, nbf: now() - 305, exp: now() - 5 });
    expect((await guard.check(req(APP, bearer(justExpired)))).kind).toBe("allow");
  });

  it("refuses expired, not yet valid, wrong audience, wrong issuer", async () => {
    await refused(stub.mint({ iat: now() - 3600, nbf: now() - 3600, exp: now() - 60 }), "token_expired");
    await refused(stub.mint({ iat: now() + 600, nbf: now() + 600, exp: now() + 900 }), "token_not_yet_valid");
    await refused(stub.mint({ aud: "billing" }), "token_audience_invalid");
    await refused(stub.mint({ iss: "https://auth.evil.example" }), "token_issuer_invalid");
  });

  it("refuses crit, a non-access-token typ and an alg that does not fit the key", async () => {
    await refused(stub.mint({}, { crit: ["exp"] }), "token_header_forbidden");
    await refused(stub.mint({}, { typ: "JWT" }), "token_type_invalid");
    await refused(stub.mint({}, { alg: "ES256" }), "token_alg_not_allowed");
  });

  it("honours an algorithm allowlist", async () => {
    const esOnly = createGuard({ authServiceUrl: stub.url, audience: "gatehouse", algorithms: ["ES256"] });
    try {
      const d = await esOnly.check(req(APP, bearer(stub.mint())));
      expect(d).toMatchObject({ kind: "deny", status: 401 });
      expect((d as { message: string }).message).toContain("token_alg_not_allowed");
    } finally {
      await esOnly.close();
    }
  });

  it("random kids cannot make the guard hammer the JWKS endpoint (refetch floor)", async () => {
    const before = stub.jwksRequests;
    const attacker = rsaKey("x");
    for (let i = 0; i < 20; i++) {
      const token = signJws({ alg: "RS256", kid: `random-${i}`, typ: "at+jwt" }, { sub: "x" }, attacker.privateKey);
      await guard.check(req(APP, bearer(token)));
    }
    expect(stub.jwksRequests - before).toBeLessThanOrEqual(1);
  });
});

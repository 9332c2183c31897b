import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser } from "./support.ts";

let svc: Running;
beforeAll(async () => {
  svc = await startAuthService({ TOKEN_TTL_SECONDS: "60" });
});
afterAll(() => svc.stop());

const jwks = async () =>
  (await fetch(`${svc.url}/.well-known/jwks.json`)).json() as Promise<{ keys: Record<string, unknown>[] }>;
const kids = async () => (await jwks()).keys.map((k) => k.kid as string);
// A fresh key-set fetch per verification, as a consumer does after its cache expires.
const verify = (jwt: string) =>
  jwtVerify(jwt, createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`)), {
    issuer: "http://auth.in-process.test",
    audience: "gatehouse",
  });
const rotate = (body: Record<string, unknown> = {}) =>
  call("/admin/keys/rotate", { base: svc.admin, json: body, headers: { authorization: `Bearer ${svc.adminToken}` } });
const mint = async (sessionToken: string) => {
  const r = await call("/v1/token", { base: svc.url, token: sessionToken, json: {} });
  expect(r.status).toBe(200);
  return r.body.access_token as string;
};

describe("JWKS and signing-key rotation", () => {
  it("publishes only public members, with a cache policy, in the JWK Set media type", async () => {
    const r = await fetch(`${svc.url}/.well-known/jwks.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const doc = (await r.json()) as { keys: Record<string, unknown>[] };
    expect(doc.keys.length).toBeGreaterThan(0);
    for (const k of doc.keys) {
      for (const priv of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(k[priv], priv).toBeUndefined();
      expect(k).toMatchObject({ use: "sig", alg: "RS256" });
    }
  });

  it("publishes the next key before it signs; the old key keeps verifying its tokens until they expire, then leaves", async () => {
    const u = await newUser("rotate");
    const before = await mint(u.sessionToken);
    const oldKid = decodeProtectedHeader(before).kid as string;

    // Step 1: a next key is created and published, but the old key still signs.
    const r1 = await rotate();
    expect(r1.status).toBe(200);
    const nextKid = r1.body.created as string;
    expect(nextKid).toBeTruthy();
    expect(r1.body.promoted).toBeUndefined();
    expect(await kids()).toEqual(expect.arrayContaining([oldKid, nextKid]));
    expect(decodeProtectedHeader(await mint(u.sessionToken)).kid).toBe(oldKid);

    // Step 2 (forced here; normally after the publish lead time): next becomes active.
    const r2 = await rotate({ force: true });
    expect(r2.body).toMatchObject({ promoted: nextKid, retiring: oldKid });
    const after = await mint(u.sessionToken);
    expect(decodeProtectedHeader(after).kid, "a cached token signed by a leaving key is not reused").toBe(nextKid);
    await verify(after);
    // The token signed before rotation still verifies: its key is still published.
    await verify(before);
    expect(await kids()).toContain(oldKid);

    // Once every token the old key signed has expired, it is retired and unpublished.
    const later = new Date(Date.now() + 10 * 60_000);
    const r3 = await svc.app.keys.rotate({ actor: "test" }, { now: later });
    expect(r3.retired).toContain(oldKid);
    expect(await kids()).not.toContain(oldKid);
    await expect(verify(before)).rejects.toThrow(/no applicable key|matching key/i);
  });

  it("keys survive a restart and instances agree on the active key", async () => {
    const u = await newUser("restart");
    const t1 = await mint(u.sessionToken);
    const second = await startAuthService({
      DATABASE_URL: svc.databaseUrl,
      SIGNING_KEY_KEK: svc.kek,
      TOKEN_TTL_SECONDS: "60",
    });
    try {
      const r = await call("/v1/token", { base: second.url, token: u.sessionToken, json: {} });
      expect(r.status).toBe(200);
      expect(decodeProtectedHeader(r.body.access_token as string).kid).toBe(decodeProtectedHeader(t1).kid);
    } finally {
      await second.stop();
    }
  });

  it("refuses rotation without the operator token", async () => {
    for (const auth of [undefined, "Bearer wrong", `Basic ${svc.adminToken}`]) {
      const r = await call("/admin/keys/rotate", {
        base: svc.admin,
        json: {},
        headers: auth ? { authorization: auth } : {},
      });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("unauthenticated");
    }
  });
});

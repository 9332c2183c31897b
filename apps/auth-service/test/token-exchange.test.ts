import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { Browser } from "../../../test/support/browser.ts";
import { PASSWORD, stack, startBrowserFlow, submitBrowserFlow, uniqueEmail } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, joinOrg, newUser, token } from "./support.ts";

// A consumer nobody here wrote: plain jose against the JWKS fetched over HTTP.
const verifyWithJwks = async (jwt: string) => {
  const a = auth();
  const jwks = createRemoteJWKSet(new URL(`${a.url}/.well-known/jwks.json`));
  return jwtVerify(jwt, jwks, { issuer: a.url, audience: "gatehouse", typ: "at+jwt" });
};

async function waitUntil<T>(fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("POST /v1/token: a real Kratos session becomes a signed access token", () => {
  it("registration → token with identity claims and no organization yet", async () => {
    const u = await newUser("exchange");
    const r = await call("/v1/token", { token: u.sessionToken, json: {} });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.token_type).toBe("Bearer");
    expect(r.body.expires_in).toBeGreaterThan(200);
    expect(r.body.expires_in).toBeLessThanOrEqual(300);
    const jwt = r.body.access_token as string;
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    const { payload } = await verifyWithJwks(jwt);
    expect(payload).toMatchObject({
      sub: u.identityId,
      email: u.email,
      email_verified: false,
      ver: 1,
      aal: "aal1",
      amr: ["password"],
      teams: [],
      perms: [],
    });
    expect(payload.org).toBeUndefined();
    expect(payload.role).toBeUndefined();
    expect(typeof payload.sid).toBe("string");
    expect(typeof payload.jti).toBe("string");
  });

  it("registration with tier pro → onboarding → owner of a pro organization; a member added later gets member rights, then admin", async () => {
    const owner = await newUser("owner", { tier: "pro" });
    // The webhook is asynchronous: wait until it recorded the tier, then onboard without naming a plan.
    const db = new pg.Client({ connectionString: inject("stack").DATABASE_URL });
    await db.connect();
    await waitUntil(async () => {
      const r = await db.query("select signup_tier from users where identity_id = $1", [owner.identityId]);
      return r.rows[0]?.signup_tier === "pro" ? true : undefined;
    });
    await db.end();
    const first = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Acme Rockets" } });
    expect(first.status).toBe(201);
    expect((first.body.organization as { plan: string }).plan).toBe("pro");
    const again = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Acme Rockets" } });
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);

    const { payload } = await verifyWithJwks(await token(owner));
    expect(payload).toMatchObject({ plan: "pro", role: "owner" });
    expect(payload.perms).toEqual(expect.arrayContaining(["members:write", "org:delete"]));
    const orgId = payload.org as string;

    const member = await newUser("member");
    await joinOrg(owner, orgId, member, "member");
    const m1 = (await verifyWithJwks(await token(member))).payload;
    expect(m1).toMatchObject({ org: orgId, role: "member", plan: "pro" });
    expect(m1.perms).not.toContain("members:write");

    // A member cannot manage members.
    const refused = await call(`/v1/organizations/${orgId}/members/${owner.identityId}`, {
      method: "DELETE",
      token: member.sessionToken,
    });
    expect(refused.status).toBe(403);
    expectErrorShape(refused.body, "forbidden");

    // Promotion takes effect on the next exchange, not after a cache expires.
    const promoted = await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "admin" },
    });
    expect(promoted.status).toBe(200);
    const m2 = (await verifyWithJwks(await token(member))).payload;
    expect(m2.role).toBe("admin");
    expect(m2.perms).toContain("members:write");

    // An admin cannot remove an owner; the last owner cannot leave either.
    const byAdmin = await call(`/v1/organizations/${orgId}/members/${owner.identityId}`, {
      method: "DELETE",
      token: member.sessionToken,
    });
    expect(byAdmin.status).toBe(403);
    expectErrorShape(byAdmin.body, "forbidden");
    const last = await call(`/v1/organizations/${orgId}/members/${owner.identityId}`, {
      method: "DELETE",
      token: owner.sessionToken,
    });
    expect(last.status).toBe(409);
    expectErrorShape(last.body, "last_owner");
  });

  it("chooses the organization by parameter only among the caller's memberships", async () => {
    const a = await newUser("org-a");
    const b = await newUser("org-b");
    const orgA = (
      (await call("/v1/onboarding", { token: a.sessionToken, json: { name: "A" } })).body.organization as { id: string }
    ).id;
    const orgB = (
      (await call("/v1/onboarding", { token: b.sessionToken, json: { name: "B" } })).body.organization as { id: string }
    ).id;
    expect((await verifyWithJwks(await token(a, orgA))).payload.org).toBe(orgA);
    const foreign = await call("/v1/token", { token: a.sessionToken, json: { organization_id: orgB } });
    expect(foreign.status).toBe(403);
    expectErrorShape(foreign.body, "forbidden");
    const unknown = await call("/v1/token", {
      token: a.sessionToken,
      json: { organization_id: "00000000-0000-4000-8000-000000000000" },
    });
    expect(unknown.status).toBe(403);
    const malformed = await call("/v1/token", { token: a.sessionToken, json: { organization_id: "not-a-uuid" } });
    expect(malformed.status).toBe(400);
    expectErrorShape(malformed.body, "bad_request");
  });

  it("reuses a minted token instead of signing per request", async () => {
    const u = await newUser("reuse");
    const t1 = await token(u);
    const t2 = await token(u);
    expect(t2).toBe(t1);
  });

  it("a first exchange writes the user's row only when it is missing or out of date", async () => {
    const db = new pg.Client({ connectionString: inject("stack").DATABASE_URL });
    await db.connect();
    try {
      const row = async (id: string) =>
        (await db.query("select email, xmin::text as version from users where identity_id = $1", [id])).rows[0] as
          | { email: string; version: string }
          | undefined;
      // Recorded by the registration webhook (asynchronous): the exchange leaves the row alone.
      const recorded = await newUser("recorded");
      const before = await waitUntil(() => row(recorded.identityId));
      expect((await call("/v1/token", { token: recorded.sessionToken, json: {} })).status).toBe(200);
      expect(await row(recorded.identityId)).toEqual(before);
      // The webhook missed: the exchange creates the row.
      const missed = await newUser("missed");
      await waitUntil(() => row(missed.identityId));
      await db.query("delete from users where identity_id = $1", [missed.identityId]);
      expect((await call("/v1/token", { token: missed.sessionToken, json: {} })).status).toBe(200);
      expect((await row(missed.identityId))?.email).toBe(missed.email);
      // Out of date (the email changed in Kratos since): the exchange writes Kratos' email.
      const stale = await newUser("stale");
      await waitUntil(() => row(stale.identityId));
      await db.query("update users set email = 'old@example.com' where identity_id = $1", [stale.identityId]);
      expect((await call("/v1/token", { token: stale.sessionToken, json: {} })).status).toBe(200);
      expect((await row(stale.identityId))?.email).toBe(stale.email);
    } finally {
      await db.end();
    }
  });

  it("browser cookie: allowed origin gets a token; foreign, null and missing credentials do not", async () => {
    const s = stack();
    const b = new Browser();
    const email = uniqueEmail("cookie");
    const { flow } = await startBrowserFlow(b, s, "registration");
    expect(
      (
        await submitBrowserFlow(b, flow, {
          method: "password",
          password: PASSWORD,
          traits: { email, name: { first: "C", last: "K" } },
        })
      ).status,
    ).toBe(200);
    const cookie = await b.jar.getCookieString(`http://app.${s.domain}/`);
    expect(cookie).toMatch(/ory_kratos_session=/);
    const appOrigin = `http://app.${s.domain}:${Number(s.env.GATEHOUSE_PORT_BASE) + 1}`;

    const ok = await call("/v1/token", { headers: { cookie, origin: appOrigin }, json: {} });
    expect(ok.status).toBe(200);
    expect((await verifyWithJwks(ok.body.access_token as string)).payload.email).toBe(email);

    for (const origin of [
      "https://evil.example",
      "null",
      `http://app.${s.domain}.evil.example:${Number(s.env.GATEHOUSE_PORT_BASE) + 1}`,
    ]) {
      const r = await call("/v1/token", { headers: { cookie, origin }, json: {} });
      expect(r.status, origin).toBe(403);
      expectErrorShape(r.body, "origin_not_allowed");
    }
    // CORS never grants credentials to a foreign origin.
    const pre = await fetch(`${auth().url}/v1/token`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    const good = await fetch(`${auth().url}/v1/token`, {
      method: "OPTIONS",
      headers: { origin: appOrigin, "access-control-request-method": "POST" },
    });
    expect(good.headers.get("access-control-allow-origin")).toBe(appOrigin);
    expect(good.headers.get("access-control-allow-credentials")).toBe("true");
  });

  it("no, garbage, or the wrong kind of credential is a 401, never a token", async () => {
    const u = await newUser("wrongcred");
    const jwt = await token(u);
    const cases: Record<string, Record<string, string>> = {
      none: {},
      "garbage token": { "x-session-token": "ory_st_garbage" },
      "JWT as session token": { "x-session-token": jwt },
      "garbage cookie": { cookie: "ory_kratos_session=MTY5garbage" },
      "truncated cookie": { cookie: "ory_kratos_session=" },
      "cookie without Kratos cookie": { cookie: "other=1; theme=dark" },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const r = await call("/v1/token", { headers, json: {} });
      expect(r.status, name).toBe(401);
      expectErrorShape(r.body, "unauthenticated");
      expect(r.body.access_token, name).toBeUndefined();
    }
  });
});

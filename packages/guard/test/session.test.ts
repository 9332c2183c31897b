// The session path against the real stack: Kratos session (token or browser cookie)
// → auth-service /v1/token → locally verified JWT → principal, through the
// LRU/Redis cache with single-flight. Upstream traffic is counted at a real
// passthrough proxy in front of the real auth-service.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialKey } from "../src/core/extract.ts";
import { createGuard, type Guard, InvalidationLog } from "../src/index.ts";
import {
  BROWSER_NAV,
  type CountingProxy,
  closedPort,
  countingProxy,
  newBrowserUser,
  newUser,
  onboard,
  req,
  revokeSession,
  stackEnv,
  stackGuardOptions,
} from "./support.ts";

const APP = () => `http://${stackEnv().appHost}/dashboard`;

describe("session path (real auth-service and Kratos)", () => {
  let guard: Guard;
  beforeAll(() => {
    guard = createGuard(stackGuardOptions());
  });
  afterAll(async () => {
    await guard.close();
  });

  it("a session token becomes a principal and identity headers", async () => {
    const user = await newUser("sess-token");
    const d = await guard.check(req(APP(), { "x-session-token": user.sessionToken, accept: "application/json" }));
    expect(d.kind).toBe("allow");
    if (d.kind !== "allow" || !d.principal) throw new Error("no principal");
    expect(d.principal).toMatchObject({
      subject: user.identityId,
      email: user.email,
      emailVerified: false,
      via: "session",
      aal: "aal1",
      amr: ["password"],
      teams: [],
      permissions: [],
    });
    expect(d.principal.organizationId).toBeUndefined();
    expect(d.principal.expiresAt).toBeGreaterThan(Date.now() / 1000 + 60);
    expect(d.headers).toEqual({
      authorization: `Bearer ${d.principal.token}`,
      "x-user-id": user.identityId,
      "x-user-email": user.email,
      "x-user-aal": "aal1",
    });
  });

  it("after onboarding the principal carries the organization and the owner role", async () => {
    const user = await newUser("sess-org");
    const orgId = await onboard(user, "Session Org");
    // A fresh guard: the first one may have cached the pre-onboarding token.
    const fresh = createGuard(stackGuardOptions());
    try {
      const d = await fresh.check(req(APP(), { "x-session-token": user.sessionToken }));
      if (d.kind !== "allow" || !d.principal) throw new Error(`expected allow, got ${JSON.stringify(d)}`);
      expect(d.principal).toMatchObject({ organizationId: orgId, role: "owner", plan: "starter" });
      expect(d.principal.permissions).toContain("members:write");
      expect(d.headers).toMatchObject({ "x-org-id": orgId, "x-user-roles": "owner" });
    } finally {
      await fresh.close();
    }
  });

  it("a browser's Kratos cookie (among other cookies) becomes a principal", async () => {
    const { email, cookie } = await newBrowserUser();
    const d = await guard.check(req(APP(), { ...BROWSER_NAV, cookie: `theme=dark; ${cookie}; other=1` }));
    if (d.kind !== "allow" || !d.principal) throw new Error(`expected allow, got ${JSON.stringify(d)}`);
    expect(d.principal.email).toBe(email);
    expect(d.principal.via).toBe("session");
  });

  it("an invalid session is 401 for API callers and a login redirect for browsers", async () => {
    const api = await guard.check(
      req(APP(), { "x-session-token": "ory_st_notarealsession", accept: "application/json" }),
    );
    expect(api).toMatchObject({ kind: "deny", status: 401, error: "unauthenticated" });
    const browser = await guard.check(req(APP(), { ...BROWSER_NAV, cookie: "ory_kratos_session=MTY5garbage" }));
    expect(browser.kind).toBe("redirect");
    const location = new URL((browser as { location: string }).location);
    expect(location.pathname).toBe("/self-service/login/browser");
    expect(location.searchParams.get("return_to")).toBe(APP());
  });
});

describe("session cache (counted at a passthrough proxy in front of the auth-service)", () => {
  let proxy: CountingProxy;
  beforeAll(async () => {
    proxy = await countingProxy(stackEnv().authUrl);
  });
  afterAll(async () => {
    await proxy.close();
  });

  // The proxy forwards to the real auth-service, whose tokens name it as issuer.
  const viaProxy = (extra: Parameters<typeof stackGuardOptions>[0] = {}) =>
    stackGuardOptions({ authServiceUrl: proxy.url, issuer: stackEnv().authUrl, ...extra });

  it("a cached session hit makes no network request at all", async () => {
    const user = await newUser("cache-hit");
    const guard = createGuard(viaProxy());
    try {
      proxy.reset();
      const first = await guard.check(req(APP(), { "x-session-token": user.sessionToken }));
      expect(first.kind).toBe("allow");
      expect(proxy.count("/v1/token")).toBe(1);
      const before = proxy.seen.length;
      for (let i = 0; i < 20; i++) {
        const again = await guard.check(req(APP(), { "x-session-token": user.sessionToken }));
        expect(again.kind).toBe("allow");
      }
      expect(proxy.seen.length - before).toBe(0);
    } finally {
      await guard.close();
    }
  });

  it("after a resync (a restart), a token the auth-service hands out again from its cache is kept, not exchanged per request", async () => {
    const user = await newUser("resync-reuse");
    const warm = createGuard(viaProxy());
    const log = new InvalidationLog();
    const restarted = createGuard(viaProxy({ invalidations: log }));
    try {
      // The auth-service mints and caches this session's token…
      expect((await warm.check(req(APP(), { "x-session-token": user.sessionToken }))).kind).toBe("allow");
      await new Promise((r) => setTimeout(r, 1_100)); // …in an earlier second than the resync
      log.resync(); // a guard that (re)subscribed: everything it held is doubted
      proxy.reset();
      for (let i = 0; i < 10; i++) {
        const d = await restarted.check(req(APP(), { "x-session-token": user.sessionToken }));
        expect(d.kind).toBe("allow");
      }
      // One exchange for the doubted token (the first token check may also fetch the
      // JWKS); without the fix, each of the ten requests exchanged again.
      expect(proxy.count("/v1/token")).toBeLessThanOrEqual(2);
    } finally {
      await warm.close();
      await restarted.close();
    }
  });

  it("1,000 concurrent checks of one cold cookie send exactly one request to the auth-service", async () => {
    const { cookie } = await newBrowserUser("stampede");
    const guard = createGuard(viaProxy());
    try {
      proxy.reset();
      const decisions = await Promise.all(
        Array.from({ length: 1000 }, () => guard.check(req(APP(), { cookie, accept: "application/json" }))),
      );
      expect(decisions.every((d) => d.kind === "allow")).toBe(true);
      expect(proxy.count("/v1/token")).toBe(1);
    } finally {
      await guard.close();
    }
  });

  it("only positive answers are cached: an invalid session is asked about every time", async () => {
    const guard = createGuard(viaProxy());
    try {
      proxy.reset();
      for (let i = 0; i < 3; i++) {
        const d = await guard.check(req(APP(), { "x-session-token": "ory_st_invalid", accept: "application/json" }));
        expect(d).toMatchObject({ kind: "deny", status: 401 });
      }
      expect(proxy.count("/v1/token")).toBe(3);
    } finally {
      await guard.close();
    }
  });

  it("a revoked session is denied once the cache TTL has passed", async () => {
    const user = await newUser("revoked");
    const guard = createGuard(viaProxy({ sessionCache: { maxTtlSec: 1 } }));
    try {
      const first = await guard.check(req(APP(), { "x-session-token": user.sessionToken, accept: "application/json" }));
      if (first.kind !== "allow" || !first.principal) throw new Error("expected allow");
      await revokeSession(first.principal.sessionId);
      await new Promise((r) => setTimeout(r, 1200));
      const after = await guard.check(req(APP(), { "x-session-token": user.sessionToken, accept: "application/json" }));
      expect(after).toMatchObject({ kind: "deny", status: 401, error: "unauthenticated" });
    } finally {
      await guard.close();
    }
  });

  it("Redis L2: a second guard with an empty LRU gets the session from Redis, without the auth-service", async () => {
    const user = await newUser("redis-l2");
    const redis = new Redis(stackEnv().redisUrl, { maxRetriesPerRequest: 1 });
    const a = createGuard(viaProxy({ sessionCache: { redis } }));
    const b = createGuard(viaProxy({ sessionCache: { redis } }));
    try {
      await redis.ping();
      proxy.reset();
      const first = await a.check(req(APP(), { "x-session-token": user.sessionToken }));
      expect(first.kind).toBe("allow");
      expect(proxy.count("/v1/token")).toBe(1);
      const second = await b.check(req(APP(), { "x-session-token": user.sessionToken }));
      if (second.kind !== "allow" || !second.principal) throw new Error("expected allow from Redis");
      expect(second.principal.subject).toBe(user.identityId);
      expect(proxy.count("/v1/token")).toBe(1);
      // What sits in Redis is keyed by a hash, never by the credential: the hex
      // credentialKey, so guards of other versions find the same entries.
      const keys = await redis.keys("gh:guard:v1:*");
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.some((k) => k.includes(user.sessionToken))).toBe(false);
      const hex = await credentialKey({ kind: "session", source: "token", value: user.sessionToken });
      expect(keys).toContain(`gh:guard:v1:${hex}`);
    } finally {
      await a.close();
      await b.close();
      redis.disconnect();
    }
  });

  it("Redis down: the guard still works, through the auth-service", async () => {
    const user = await newUser("redis-down");
    const redis = new Redis({
      host: "127.0.0.1",
      port: await closedPort(),
      maxRetriesPerRequest: 0,
      connectTimeout: 200,
    });
    redis.on("error", () => {}); // expected: nothing listens there
    const guard = createGuard(viaProxy({ sessionCache: { redis } }));
    try {
      proxy.reset();
      const started = Date.now();
      const d = await guard.check(req(APP(), { "x-session-token": user.sessionToken }));
      expect(d.kind).toBe("allow");
      expect(proxy.count("/v1/token")).toBe(1);
      expect(Date.now() - started).toBeLessThan(3000);
      // Still served from the in-process LRU afterwards.
      expect((await guard.check(req(APP(), { "x-session-token": user.sessionToken }))).kind).toBe("allow");
      expect(proxy.count("/v1/token")).toBe(1);
    } finally {
      await guard.close();
      redis.disconnect();
    }
  });

  it("a cached session keeps working while the auth-service is down", async () => {
    const user = await newUser("cached-outage");
    const guard = createGuard(viaProxy());
    try {
      expect((await guard.check(req(APP(), { "x-session-token": user.sessionToken }))).kind).toBe("allow");
      proxy.mode = "fail";
      expect((await guard.check(req(APP(), { "x-session-token": user.sessionToken }))).kind).toBe("allow");
      // An uncached one gets 503, not 401.
      const other = await newUser("uncached-outage");
      const d = await guard.check(req(APP(), { ...BROWSER_NAV, "x-session-token": other.sessionToken }));
      expect(d).toMatchObject({ kind: "deny", status: 503, error: "dependency_unavailable" });
    } finally {
      proxy.mode = "pass";
      await guard.close();
    }
  });
});

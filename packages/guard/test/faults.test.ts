// A dependency that is down or overloaded is never reported as "signed out". The
// auth-service here is a STUB (test/stub-auth-service.ts) told to misbehave; the
// JWKS-outage case uses a real passthrough proxy in front of the real service.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuard, type Guard, type GuardEvent } from "../src/index.ts";
import { type StubAuthService, type StubMode, startStubAuthService } from "./stub-auth-service.ts";
import {
  BROWSER_NAV,
  closedPort,
  countingProxy,
  exchangeToken,
  newUser,
  req,
  stackEnv,
  stackGuardOptions,
} from "./support.ts";

const PAGE = "http://app.example/dashboard";
const LOGIN = { url: "http://auth.example/self-service/login/browser", allowedReturnHosts: ["app.example"] };

describe("auth-service faults (STUB auth-service)", () => {
  let stub: StubAuthService;
  let guard: Guard;
  const events: GuardEvent[] = [];
  beforeAll(async () => {
    stub = await startStubAuthService();
    stub.accounts.set("ory_st_alice", { sub: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", email: "alice@example.org" });
    guard = createGuard({
      authServiceUrl: stub.url,
      audience: "gatehouse",
      login: LOGIN,
      timeoutMs: 500,
      onEvent: (e) => events.push(e),
    });
  });
  afterAll(async () => {
    await guard.close();
    await stub.close();
  });

  const withMode = async <T>(mode: StubMode, fn: () => Promise<T>): Promise<T> => {
    stub.mode = mode;
    try {
      return await fn();
    } finally {
      stub.mode = "ok";
    }
  };

  for (const mode of ["500", "502", "503"] as const) {
    it(`${mode} → 503 with Retry-After, for API callers and browsers alike (no 401, no login redirect)`, async () => {
      await withMode(mode, async () => {
        for (const headers of [{ accept: "application/json" }, BROWSER_NAV]) {
          const d = await guard.check(req(PAGE, { ...headers, "x-session-token": "ory_st_bob" }));
          expect(d).toEqual({
            kind: "deny",
            status: 503,
            error: "dependency_unavailable",
            message: `the auth-service answered ${mode}`,
            retryAfterSec: 5,
          });
        }
        const cookie = await guard.check(req(PAGE, { ...BROWSER_NAV, cookie: "ory_kratos_session=abc" }));
        expect(cookie).toMatchObject({ kind: "deny", status: 503 });
      });
    });
  }

  it("an upstream Retry-After on 503 is passed on", async () => {
    await withMode("503-retry", async () => {
      expect(await guard.check(req(PAGE, { "x-session-token": "ory_st_bob" }))).toMatchObject({
        status: 503,
        retryAfterSec: 7,
      });
    });
  });

  it("429 with Retry-After stays 429", async () => {
    await withMode("429", async () => {
      expect(await guard.check(req(PAGE, { ...BROWSER_NAV, "x-session-token": "ory_st_bob" }))).toMatchObject({
        kind: "deny",
        status: 429,
        error: "rate_limited",
        retryAfterSec: 12,
      });
    });
  });

  it("a 200 that is not a token (a proxy's maintenance page) → 503", async () => {
    await withMode("html-200", async () => {
      expect(await guard.check(req(PAGE, { "x-session-token": "ory_st_bob" }))).toMatchObject({ status: 503 });
    });
  });

  it("a server that never answers → 503 within the configured timeout", async () => {
    await withMode("hang", async () => {
      const started = Date.now();
      const d = await guard.check(req(PAGE, { ...BROWSER_NAV, "x-session-token": "ory_st_slow" }));
      const took = Date.now() - started;
      expect(d).toMatchObject({ kind: "deny", status: 503, error: "dependency_unavailable" });
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(2500); // timeout + backstop grace, with room for a busy CI machine
    });
  });

  it("failures are not cached and are reported through onEvent without credentials", async () => {
    await withMode("503", async () => {
      await guard.check(req(PAGE, { "x-session-token": "ory_st_alice" }));
    });
    // The same session right after the outage: asked again, and allowed.
    expect((await guard.check(req(PAGE, { "x-session-token": "ory_st_alice" }))).kind).toBe("allow");
    expect(events.some((e) => e.type === "upstream_error")).toBe(true);
    expect(JSON.stringify(events)).not.toContain("ory_st_");
  });

  it("concurrent checks during an outage share one upstream call and all get 503", async () => {
    await withMode("503", async () => {
      const before = stub.tokenRequests.length;
      const all = await Promise.all(
        Array.from({ length: 50 }, () => guard.check(req(PAGE, { "x-session-token": "ory_st_crowd" }))),
      );
      expect(all.every((d) => d.kind === "deny" && d.status === 503)).toBe(true);
      expect(stub.tokenRequests.length - before).toBe(1);
    });
  });

  it("a genuine 401 is still a 401 (and a login redirect for browsers)", async () => {
    expect(await guard.check(req(PAGE, { "x-session-token": "ory_st_nobody" }))).toMatchObject({ status: 401 });
    expect((await guard.check(req(PAGE, { ...BROWSER_NAV, "x-session-token": "ory_st_nobody" }))).kind).toBe(
      "redirect",
    );
  });

  it("forwards only the Kratos credential: no other cookies, no Origin", async () => {
    stub.accounts.set("cookievalue123", { sub: "cccccccc-cccc-4ccc-8ccc-cccccccccccc", email: "c@example.org" });
    const d = await guard.check(
      req(PAGE, {
        ...BROWSER_NAV,
        cookie: "theme=dark; ory_kratos_session=cookievalue123; tracking=xyz",
        origin: "http://app.example",
      }),
    );
    expect(d.kind).toBe("allow");
    const seen = stub.tokenRequests.at(-1)?.headers ?? {};
    expect(seen.cookie).toBe("ory_kratos_session=cookievalue123");
    expect(seen.origin).toBeUndefined();
    expect(seen.authorization).toBeUndefined();
  });
});

describe("connection refused", () => {
  it("session path → 503", async () => {
    const guard = createGuard({
      authServiceUrl: `http://127.0.0.1:${await closedPort()}`,
      audience: "gatehouse",
      login: LOGIN,
    });
    try {
      const d = await guard.check(req(PAGE, { ...BROWSER_NAV, cookie: "ory_kratos_session=abc" }));
      expect(d).toMatchObject({ kind: "deny", status: 503, error: "dependency_unavailable", retryAfterSec: 5 });
    } finally {
      await guard.close();
    }
  });

  it("JWT path with no key ever fetched → 503 with Retry-After, not 401", async () => {
    const user = await newUser("jwks-never");
    const token = await exchangeToken(user);
    const guard = createGuard({
      authServiceUrl: `http://127.0.0.1:${await closedPort()}`,
      issuer: stackEnv().authUrl,
      audience: "gatehouse",
    });
    try {
      const d = await guard.check(req(PAGE, { authorization: `Bearer ${token}` }));
      expect(d).toMatchObject({ kind: "deny", status: 503, error: "dependency_unavailable", retryAfterSec: 5 });
    } finally {
      await guard.close();
    }
  });
});

describe("JWKS endpoint down but keys cached (real auth-service behind a passthrough proxy)", () => {
  it("the JWT path keeps allowing", async () => {
    const proxy = await countingProxy(stackEnv().authUrl);
    // cacheMaxAgeMs 0: the guard tries to refresh the key set before every use, so the
    // outage is really exercised, not just avoided.
    const guard = createGuard(
      stackGuardOptions({
        authServiceUrl: proxy.url,
        issuer: stackEnv().authUrl,
        jwks: { cacheMaxAgeMs: 0, cooldownMs: 0 },
        verifiedTokenCacheSize: 0,
      }),
    );
    try {
      const user = await newUser("jwks-down");
      const token = await exchangeToken(user);
      const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
      expect((await guard.check(req(PAGE, headers))).kind).toBe("allow");
      proxy.mode = "fail";
      const before = proxy.count("/.well-known/jwks.json");
      for (let i = 0; i < 3; i++) expect((await guard.check(req(PAGE, headers))).kind).toBe("allow");
      expect(proxy.count("/.well-known/jwks.json")).toBeGreaterThan(before);
    } finally {
      proxy.mode = "pass";
      await guard.close();
      await proxy.close();
    }
  });
});

describe("API keys (STUB auth-service: the real one does not exchange API keys yet)", () => {
  let stub: StubAuthService;
  let guard: Guard;
  const KEY = `sk_${"k".repeat(43)}`;
  beforeAll(async () => {
    stub = await startStubAuthService();
    stub.accounts.set(KEY, {
      sub: "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
      email: undefined,
      email_verified: undefined,
      org: "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee",
      role: "admin",
      perms: ["members:read"],
      amr: ["api_key"],
    });
    guard = createGuard({ authServiceUrl: stub.url, audience: "gatehouse", accept: ["session", "jwt", "api_key"] });
  });
  afterAll(async () => {
    await guard.close();
    await stub.close();
  });

  it("Authorization: Bearer sk_… and X-API-Key are exchanged as Authorization: Bearer sk_…", async () => {
    for (const headers of [{ authorization: `Bearer ${KEY}` }, { "x-api-key": KEY }]) {
      const d = await guard.check(req(PAGE, { ...headers, accept: "application/json" }), {
        permissions: ["members:read"],
      });
      if (d.kind !== "allow" || !d.principal) throw new Error(`expected allow, got ${JSON.stringify(d)}`);
      expect(d.principal).toMatchObject({ via: "api_key", role: "admin", amr: ["api_key"] });
      expect(d.principal.email).toBeUndefined();
    }
    // The second one came from the cache (same key, same hash).
    expect(stub.tokenRequests).toHaveLength(1);
    expect(stub.tokenRequests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("an unknown key → 401 invalid_api_key", async () => {
    const d = await guard.check(req(PAGE, { "x-api-key": `sk_${"u".repeat(43)}` }));
    expect(d).toMatchObject({ kind: "deny", status: 401, error: "invalid_api_key" });
  });

  it("API keys are refused where the route does not accept them", async () => {
    const d = await guard.check(req(PAGE, { "x-api-key": KEY }), { accept: ["session"] });
    expect(d).toMatchObject({ kind: "deny", status: 401, error: "unauthenticated" });
  });
});

import { createServer, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../../../test/support/kratos.ts";
import { privateRedis } from "../../../test/support/redis.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway(routesFile("routes: []\n"), {
    BRUTE_FORCE_MAX_FAILURES: "5",
    BRUTE_FORCE_MAX_IP_FAILURES: "10000",
    BRUTE_FORCE_DELAYS_MS: "1",
    LOGIN_FAILURE_FLOOR_MS: "0",
  });
});
afterAll(() => gw?.stop());

const json = async (r: Response) =>
  (await r.json()) as Record<string, unknown> & { id: string; ui: { action: string } };

async function loginAttempt(identifier: string, password: string): Promise<Response> {
  const flow = await json(await fetch(`${gw.url}/self-service/login/api`));
  return fetch(`${gw.url}/self-service/login?flow=${flow.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier, password }),
  });
}

describe("Kratos public API on the gateway's origin", () => {
  it("registration, session cookie and whoami pass through unchanged (cookies and CSRF preserved)", async () => {
    const host = `app.${inject("stack").GATEHOUSE_DOMAIN}:${gw.port}`;
    const start = await fetch(`${gw.url}/self-service/registration/browser`, {
      headers: { host, accept: "application/json" },
    });
    expect(start.status).toBe(200);
    const csrfCookies = start.headers.getSetCookie();
    expect(csrfCookies.some((c) => c.startsWith("csrf_token"))).toBe(true);
    const flow = await json(start);
    const csrf = (flow.ui as unknown as { nodes: { attributes: { name?: string; value?: string } }[] }).nodes.find(
      (n) => n.attributes.name === "csrf_token",
    )?.attributes.value;
    const cookie = csrfCookies.map((c) => c.split(";")[0]).join("; ");
    const email = uniqueEmail("gw-reg");
    const reg = await fetch(`${gw.url}/self-service/registration?flow=${flow.id}`, {
      method: "POST",
      headers: { host, cookie, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        csrf_token: csrf,
        method: "password",
        password: "correct-horse-battery-staple-42",
        traits: { email, name: { first: "G", last: "W" } },
      }),
    });
    expect(reg.status).toBe(200);
    const session = reg.headers.getSetCookie().find((c) => c.startsWith("ory_kratos_session="));
    expect(session).toMatch(new RegExp(`Domain=${inject("stack").GATEHOUSE_DOMAIN}`, "i"));
    const who = await fetch(`${gw.url}/sessions/whoami`, { headers: { host, cookie: session?.split(";")[0] ?? "" } });
    expect(who.status).toBe(200);
    expect(((await who.json()) as { identity: { traits: { email: string } } }).identity.traits.email).toBe(email);
  });

  it("brute force: 5 wrong passwords lock the account for a while (429 + Retry-After), for existing and unknown accounts alike", async () => {
    const s = stack();
    const email = uniqueEmail("bf");
    expect((await registerApi(s, { email })).status).toBe(200);
    const ghost = uniqueEmail("ghost");
    for (const id of [email, ghost]) {
      for (let i = 0; i < 5; i++)
        expect((await loginAttempt(id, "wrong-password-123")).status, `${id} attempt ${i + 1}`).toBe(400);
      const locked = await loginAttempt(id, "wrong-password-123");
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(800);
      expect(await locked.json()).toMatchObject({ error: "too_many_attempts", request_id: expect.any(String) });
    }
    // Even the right password is refused while locked: the lock does not reveal anything.
    expect((await loginAttempt(email, "correct-horse-battery-staple-42")).status).toBe(429);
  });

  it("a successful login clears the identifier's failures", async () => {
    const email = uniqueEmail("bf-ok");
    expect((await registerApi(stack(), { email })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await loginAttempt(email, "nope-nope-nope")).status).toBe(400);
    expect((await loginAttempt(email, "correct-horse-battery-staple-42")).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await loginAttempt(email, "nope-nope-nope")).status).toBe(400);
    expect((await loginAttempt(email, "correct-horse-battery-staple-42")).status).toBe(200);
  });

  it("recovery requests are limited per address (no mail bombing, no code guessing)", async () => {
    const email = uniqueEmail("bf-rec");
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const flow = await json(await fetch(`${gw.url}/self-service/recovery/api`));
      const r = await fetch(`${gw.url}/self-service/recovery?flow=${flow.id}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ method: "code", email }),
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
  });

  it("Redis killed: the limit holds, counted in the gateway's memory; login still works", async () => {
    const redis = await privateRedis();
    const g = await startGateway(routesFile("routes: []\n"), {
      REDIS_URL: redis.url,
      BRUTE_FORCE_MAX_FAILURES: "5",
      BRUTE_FORCE_MAX_IP_FAILURES: "10000",
      BRUTE_FORCE_DELAYS_MS: "1",
      LOGIN_FAILURE_FLOOR_MS: "0",
    });
    try {
      const email = uniqueEmail("bf-noredis");
      const other = uniqueEmail("bf-noredis-ok");
      expect((await registerApi(stack(), { email })).status).toBe(200);
      expect((await registerApi(stack(), { email: other })).status).toBe(200);
      const attempt = async (identifier: string, password: string) => {
        const flow = await json(await fetch(`${g.url}/self-service/login/api`));
        return fetch(`${g.url}/self-service/login?flow=${flow.id}`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ method: "password", identifier, password }),
        });
      };
      // Two failures counted in Redis, then Redis dies: counting goes on in memory.
      for (let i = 0; i < 2; i++) expect((await attempt(email, "wrong-password-123")).status).toBe(400);
      await redis.kill();
      for (let i = 0; i < 5; i++) expect((await attempt(email, "wrong-password-123")).status).toBe(400);
      const locked = await attempt(email, "correct-horse-battery-staple-42");
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      // Everybody else still signs in while Redis is down.
      expect((await attempt(other, "correct-horse-battery-staple-42")).status).toBe(200);
      expect(g.logLines.join("\n")).toMatch(/counting in this instance's memory/);
    } finally {
      await g.stop();
      await redis.stop();
    }
  });

  it("an oversized submission is refused with 413 before Kratos", async () => {
    const flow = await json(await fetch(`${gw.url}/self-service/login/api`));
    const r = await fetch(`${gw.url}/self-service/login?flow=${flow.id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "password", identifier: "x", password: "y".repeat(100_000) }),
    });
    expect(r.status).toBe(413);
  });
});

// What Kratos receives cannot be observed on the real Kratos, so an echo server
// (a stub standing in for Kratos' public API) records it; the passthrough itself is
// the real one, and the tests above run it against the real Kratos.
describe("only a secret Kratos checked and refused counts as a failed sign-in", () => {
  it("social and passkey submissions and email-code requests lock neither the address nor the account; wrong passwords still do", {
    timeout: 120_000,
  }, async () => {
    // Three failures lock an account, three from one address lock the address.
    // The counters live in the stack's shared Redis: this test's client is an address
    // of its own (sent as X-Forwarded-For from a trusted proxy), so locking it here
    // locks nobody else.
    const client = `198.51.100.${1 + Math.floor(Math.random() * 254)}`;
    const g = await startGateway(routesFile("routes: []\n"), {
      TRUSTED_PROXIES: "127.0.0.1/32",
      BRUTE_FORCE_MAX_FAILURES: "3",
      BRUTE_FORCE_MAX_IP_FAILURES: "3",
      BRUTE_FORCE_DELAYS_MS: "1",
      LOGIN_FAILURE_FLOOR_MS: "0",
    });
    try {
      const email = uniqueEmail("bf-methods");
      expect((await registerApi(stack(), { email })).status).toBe(200);
      const submit = async (body: Record<string, unknown>) => {
        const flow = await json(await fetch(`${g.url}/self-service/login/api`));
        return fetch(`${g.url}/self-service/login?flow=${flow.id}`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json", "x-forwarded-for": client },
          body: JSON.stringify(body),
        });
      };
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await submit({ method: "oidc", provider: "local" })).status);
        statuses.push((await submit({ method: "passkey" })).status);
        statuses.push((await submit({ method: "code", identifier: email })).status);
      }
      expect(statuses).not.toContain(429);
      expect((await submit({ method: "password", identifier: email, password: PASSWORD })).status).toBe(200);
      // Wrong secrets still count: a wrong email code, then wrong passwords, lock the account.
      expect((await submit({ method: "code", identifier: email, code: "000000" })).status).toBe(400);
      for (let i = 0; i < 2; i++)
        expect((await submit({ method: "password", identifier: email, password: "wrong-password-123" })).status).toBe(
          400,
        );
      expect((await submit({ method: "password", identifier: email, password: PASSWORD })).status).toBe(429);
    } finally {
      await g.stop();
    }
  });
});

describe("Kratos passthrough, seen from the upstream (echo stub in Kratos' place)", () => {
  it("client identity headers never reach Kratos, in any spelling; cookies and the session token do", async () => {
    const echo = await echoUpstream();
    const g = await startGateway(routesFile("routes: []\n"), { KRATOS_PUBLIC_URL: echo.url });
    try {
      const r = await rawRequest(
        g.port,
        "GET /sessions/whoami HTTP/1.1\r\nHost: localhost\r\nX-Session-Token: ory_st_passthrough\r\n" +
          "Cookie: ory_kratos_session=abc\r\nX-USER-ID: spoof\r\nX_Org_Id: spoof-org\r\nRemote-User: root\r\nConnection: close\r\n\r\n",
      );
      expect(r).toMatch(/^HTTP\/1\.1 200/);
      const seen = echo.seen[echo.seen.length - 1]?.headers ?? {};
      expect(seen["x-session-token"]).toBe("ory_st_passthrough");
      expect(seen.cookie).toBe("ory_kratos_session=abc");
      expect(seen["x-user-id"]).toBeUndefined();
      expect(seen.x_org_id).toBeUndefined();
      expect(seen["remote-user"]).toBeUndefined();
    } finally {
      await g.stop();
      await echo.close();
    }
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let data = "";
    socket.on("data", (c) => {
      data += c;
    });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("Kratos hangs on a submission (say, waiting on a social sign-in provider that does not answer)", () => {
  it("a browser's form lands on the UI's error page; an API client gets the 502 JSON", {
    timeout: 60_000,
  }, async () => {
    const held: ServerResponse[] = [];
    const kratos = createServer((_req, res) => void held.push(res));
    await new Promise<void>((r) => kratos.listen(0, "127.0.0.1", r));
    const port = (kratos.address() as AddressInfo).port;
    const g = await startGateway(routesFile("routes: []\n"), { KRATOS_PUBLIC_URL: `http://127.0.0.1:${port}` });
    try {
      const flow = "00000000-0000-4000-8000-000000000001";
      const form = await fetch(`${g.url}/self-service/login?flow=${flow}`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
        body: "method=oidc&provider=local&csrf_token=x",
      });
      expect(form.status).toBe(303);
      expect(form.headers.get("location")).toBe(
        `http://app.${inject("stack").GATEHOUSE_DOMAIN}/auth/error?reason=unavailable`,
      );
      const api = await fetch(`${g.url}/self-service/login?flow=${flow}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ method: "oidc", provider: "local" }),
      });
      expect(api.status).toBe(502);
      expect(await api.json()).toMatchObject({ error: "bad_gateway", request_id: expect.any(String) });
    } finally {
      await g.stop();
      for (const res of held) res.destroy();
      kratos.close();
    }
  });
});

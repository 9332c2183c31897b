// The client against a STUB Kratos (see stub-kratos.ts) for precise faults.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createKratosClient,
  credentialFrom,
  type KratosClient,
  type KratosCredential,
  KratosError,
  type KratosErrorCode,
} from "../src/index.ts";
import { closedPort, json, type StubKratos, sessionBody, startStubKratos } from "./stub-kratos.ts";

// A session cookie as Kratos v1.3.1 issues it (base64url of "<time>|<payload>|<HMAC>"; from a throwaway Kratos).
const COOKIE =
  "MTc5NjI4MTk0OXxxbXFwTlJlS0FrdmdfMVNWV0toS1lBNDh1bUtWNXlWYWJyT1dCeXpDTm9LN2dibDRFbDFWbG44MFFIVWZpWHFrQkczNzlSUHZ5US1IbkJHa2IzU0c1emFuTUpYd255d2RxZkxJejNOLUM3WjhkZHVYOTNOcnZFaEhleFdMTGgtZkZfei1nZVNDc2VSaXZQT3VfOGx0NExubjVoZzh5QUtnTDJvd0FDZ3BLcHo2cWM0MXZ6Z2hpNnNNSnZKRnJ1emRiVU5zLTlqcGk4a2ZpVC1KemNadFVPd2JJbXJqQ1JUOWdWaTFRcGJtWGpXZ01CSTZUTzJMS2V5XzFQeGNMeUYxMFBPQU9ScXRfcFVHLTVwOUo1ZHV8C3FRGg2-Pyreho13Bvc38HBWtfoe7_tKtatkgG3rXVA=";
const cookieCred: KratosCredential = { kind: "cookie", value: COOKIE };
const tokenCred: KratosCredential = { kind: "token", value: "ory_st_stubtoken0123456789" };

async function failure(p: Promise<unknown>): Promise<KratosError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KratosError);
    return err as KratosError;
  }
  throw new Error("expected the call to fail");
}

async function expectCode(p: Promise<unknown>, code: KratosErrorCode): Promise<KratosError> {
  const err = await failure(p);
  expect(err.code, err.message).toBe(code);
  return err;
}

let stub: StubKratos;
let client: KratosClient;
const clients: KratosClient[] = [];
function makeClient(
  opts: {
    timeoutMs?: number;
    cookieName?: string;
    publicUrl?: string;
    adminUrl?: string;
    readinessCacheMs?: number;
  } = {},
) {
  const c = createKratosClient({ publicUrl: stub.url, adminUrl: stub.url, ...opts });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  stub = await startStubKratos();
  client = makeClient();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await stub.close();
});

describe("whoami against a stub Kratos: what is forwarded", () => {
  it("forwards only the Kratos cookie, not the other cookies of the request, and no Authorization", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody()));
    const cred = credentialFrom({ cookieHeader: `_ga=GA1.2.3; theme=dark; ory_kratos_session=${COOKIE}; csrf=abc` });
    expect(cred).toBeDefined();
    await client.whoami(cred as KratosCredential);

    const [req] = stub.requests;
    expect(req?.method).toBe("GET");
    expect(req?.url).toBe("/sessions/whoami");
    expect(req?.headers.cookie).toBe(`ory_kratos_session=${COOKIE}`);
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.headers["x-session-token"]).toBeUndefined();
  });

  it("sends a session token as X-Session-Token and no cookie", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody()));
    await client.whoami(tokenCred);
    const [req] = stub.requests;
    expect(req?.headers["x-session-token"]).toBe(tokenCred.value);
    expect(req?.headers.cookie).toBeUndefined();
    expect(req?.headers.authorization).toBeUndefined();
  });

  it("uses the configured cookie name and keeps a path prefix of the public URL", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody()));
    const c = makeClient({ cookieName: "sid", publicUrl: `${stub.url}/kratos/` });
    await c.whoami(cookieCred);
    expect(stub.requests[0]?.url).toBe("/kratos/sessions/whoami");
    expect(stub.requests[0]?.headers.cookie).toBe(`sid=${COOKIE}`);
  });

  it("refuses a hand-made credential that cannot be a Kratos one without calling Kratos", async () => {
    await expectCode(client.whoami({ kind: "cookie", value: "a\r\nX-Injected: 1" }), "unauthenticated");
    await expectCode(client.whoami({ kind: "token", value: "" }), "unauthenticated");
    expect(stub.requests).toHaveLength(0);
  });

  it("reuses one keep-alive connection across successes and error answers", async () => {
    const answers = [200, 401, 500, 200, 429, 200, 403, 200, 503, 200, 400, 200];
    stub.handle((_req, res, n) => {
      const status = answers[(n - 1) % answers.length] ?? 200;
      if (status === 200) json(res, 200, sessionBody());
      // Error bodies larger than undici's 64 KiB buffer: left unread, each would pin its socket.
      else json(res, status, { error: { code: status, message: "stub", debug: "x".repeat(200_000) } });
    });
    for (let i = 0; i < answers.length; i++) await client.whoami(tokenCred).catch(() => undefined);
    expect(stub.requests).toHaveLength(answers.length);
    // undici's Pool may open a second socket while the first is being released.
    expect(stub.connections()).toBeLessThanOrEqual(2);
  });
});

describe("whoami against a stub Kratos: the session it returns", () => {
  it("maps the session, with emailVerified matching the address case-insensitively", async () => {
    const body = sessionBody({
      authenticator_assurance_level: "aal2",
      authentication_methods: [{ method: "password" }, { method: "totp" }],
    });
    stub.handle((_req, res) => json(res, 200, body));
    const s = await client.whoami(tokenCred);
    expect(s).toEqual({
      id: body.id,
      active: true,
      expiresAt: new Date(body.expires_at as string),
      authenticatedAt: new Date(body.authenticated_at as string),
      aal: "aal2",
      amr: ["password", "totp"],
      identity: {
        id: (body.identity as { id: string }).id,
        schemaId: "person",
        state: "active",
        traits: { email: "Stub.User@example.org", name: { first: "Stub", last: "User" } },
        emailVerified: true,
      },
    });
  });

  it("an inactive session is 'unauthenticated'", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody({ active: false })));
    await expectCode(client.whoami(tokenCred), "unauthenticated");
  });

  it("an expired session is 'unauthenticated'", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody({ expires_at: new Date(Date.now() - 1000).toISOString() })));
    await expectCode(client.whoami(tokenCred), "unauthenticated");
  });

  it("a session of an inactive identity is 'unauthenticated'", async () => {
    const body = sessionBody();
    (body.identity as Record<string, unknown>).state = "inactive";
    stub.handle((_req, res) => json(res, 200, body));
    await expectCode(client.whoami(tokenCred), "unauthenticated");
  });

  it("a 200 that is not JSON is 'unavailable'", async () => {
    stub.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" }).end("<html>proxy login page</html>");
    });
    await expectCode(client.whoami(cookieCred), "unavailable");
  });

  it("a session of the wrong shape is 'unavailable', not a crash", async () => {
    const broken: Record<string, unknown>[] = [
      sessionBody({ identity: { schema_id: "person", traits: { email: "a@b.c" } } }), // no identity.id
      sessionBody({ identity: undefined }),
      sessionBody({ id: 42 }),
      sessionBody({ expires_at: "tomorrow-ish" }),
      sessionBody({ authenticator_assurance_level: "aal9" }),
      sessionBody({ authentication_methods: "password" }),
      sessionBody({ active: "yes" }),
    ];
    const noEmail = sessionBody();
    (noEmail.identity as Record<string, unknown>).traits = { name: { first: "A", last: "B" } };
    broken.push(noEmail);
    for (const body of broken) {
      stub.handle((_req, res) => json(res, 200, body));
      await expectCode(client.whoami(tokenCred), "unavailable");
    }
    stub.handle((_req, res) => json(res, 200, []));
    await expectCode(client.whoami(tokenCred), "unavailable");
  });

  it("a huge body is 'unavailable', whether its length is declared or it comes chunked", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody({ padding: "x".repeat(1024 * 1024) })));
    expect((await expectCode(client.whoami(tokenCred), "unavailable")).message).toMatch(/larger than/);
    stub.handle((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // no Content-Length: chunked
      res.end(JSON.stringify(sessionBody({ padding: "x".repeat(1024 * 1024) })));
    });
    expect((await expectCode(client.whoami(tokenCred), "unavailable")).message).toMatch(/larger than/);
    // A chunked answer within the limit is read as before.
    stub.handle((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(sessionBody()));
    });
    await expect(client.whoami(tokenCred)).resolves.toMatchObject({ active: true });
  });
});

describe("whoami against a stub Kratos: errors", () => {
  it("401 is 'unauthenticated' when Kratos reports itself ready", async () => {
    stub.handle((req, res) =>
      req.url === "/admin/health/ready"
        ? json(res, 200, { status: "ok" })
        : json(res, 401, { error: { code: 401, message: "The request could not be authorized" } }),
    );
    const err = await expectCode(client.whoami(cookieCred), "unauthenticated");
    expect(err.status).toBe(401);
  });

  it("401 for a well-formed session while Kratos is not ready (its database down) is 'unavailable', never 'unauthenticated'", async () => {
    const token: KratosCredential = { kind: "token", value: `ory_st_${"a1B2".repeat(8)}` };
    stub.handle((req, res) =>
      req.url === "/admin/health/ready"
        ? json(res, 503, { errors: { database: "connection refused" } })
        : json(res, 401, { error: { code: 401, message: "The request could not be authorized" } }),
    );
    for (const cred of [cookieCred, token]) {
      const err = await expectCode(client.whoami(cred), "unavailable");
      expect(err.status).toBe(401);
    }
  });

  it("the readiness probe behind a 401 is single-flighted and cached for readinessCacheMs", async () => {
    let ready = false;
    stub.handle((req, res) => {
      if (req.url !== "/admin/health/ready") return json(res, 401, {});
      // Answers late, so every whoami of the burst is waiting on the same probe.
      setTimeout(() => json(res, ready ? 200 : 503, {}), 50);
    });
    const c = makeClient({ readinessCacheMs: 3_000 });
    const probes = () => stub.requests.filter((r) => r.url === "/admin/health/ready").length;
    const burst = await Promise.all(Array.from({ length: 50 }, () => failure(c.whoami(cookieCred))));
    expect(new Set(burst.map((e) => e.code))).toEqual(new Set(["unavailable"]));
    expect(probes()).toBe(1);
    ready = true;
    await expectCode(c.whoami(cookieCred), "unavailable"); // still the cached answer
    expect(probes()).toBe(1);
    await new Promise((r) => setTimeout(r, 3_100));
    await expectCode(c.whoami(cookieCred), "unauthenticated");
    expect(probes()).toBe(2);
  });

  it("401 for something that is not shaped like a Kratos session is believed without a probe", async () => {
    stub.handle((_req, res) => json(res, 401, {}));
    await expectCode(client.whoami({ kind: "cookie", value: "not-a-kratos-cookie" }), "unauthenticated");
    await expectCode(client.whoami({ kind: "token", value: "ory_st_short" }), "unauthenticated");
    expect(stub.requests.map((r) => r.url)).toEqual(["/sessions/whoami", "/sessions/whoami"]);
  });

  it("403 session_aal2_required is 'aal2_required' and keeps redirect_browser_to", async () => {
    const to = "http://auth.gatehouse.test/self-service/login/browser?aal=aal2";
    stub.handle((_req, res) =>
      json(res, 403, {
        error: { id: "session_aal2_required", code: 403, details: { redirect_browser_to: to }, message: "m" },
        redirect_browser_to: to,
      }),
    );
    const err = await expectCode(client.whoami(cookieCred), "aal2_required");
    expect(err.status).toBe(403);
    expect(err.redirectBrowserTo).toBe(to);
    expect(err.kratosErrorId).toBe("session_aal2_required");
  });

  it("500 is 'unavailable'", async () => {
    stub.handle((_req, res) => json(res, 500, { error: { code: 500, message: "database down" } }));
    const err = await expectCode(client.whoami(cookieCred), "unavailable");
    expect(err.status).toBe(500);
  });

  it("503 is 'unavailable' and carries Retry-After", async () => {
    stub.handle((_req, res) => {
      res.writeHead(503, { "retry-after": "30" }).end("Service Unavailable");
    });
    const err = await expectCode(client.whoami(cookieCred), "unavailable");
    expect(err.status).toBe(503);
    expect(err.retryAfterSec).toBe(30);
  });

  it("429 with Retry-After: 7 is 'rate_limited' with retryAfterSec 7", async () => {
    stub.handle((_req, res) => json(res, 429, { error: { code: 429, message: "slow down" } }, { "retry-after": "7" }));
    const err = await expectCode(client.whoami(tokenCred), "rate_limited");
    expect(err.status).toBe(429);
    expect(err.retryAfterSec).toBe(7);
  });

  it("429 with an HTTP-date Retry-After gives the seconds until then", async () => {
    const at = new Date(Date.now() + 20_000).toUTCString();
    stub.handle((_req, res) => json(res, 429, {}, { "retry-after": at }));
    const err = await expectCode(client.whoami(tokenCred), "rate_limited");
    expect(err.retryAfterSec).toBeGreaterThanOrEqual(18);
    expect(err.retryAfterSec).toBeLessThanOrEqual(21);
  });

  it("another 4xx is 'bad_request'", async () => {
    stub.handle((_req, res) => json(res, 404, { error: { code: 404, message: "Not Found" } }));
    await expectCode(client.whoami(cookieCred), "bad_request");
    stub.handle((_req, res) => json(res, 403, { error: { id: "security_csrf_violation", code: 403, message: "m" } }));
    await expectCode(client.whoami(cookieCred), "bad_request");
  });

  it("a Kratos that never answers is 'unavailable' within the configured timeout", async () => {
    stub.handle(() => {
      // Accept the request and say nothing.
    });
    const c = makeClient({ timeoutMs: 300 });
    const t0 = performance.now();
    const err = await expectCode(c.whoami(cookieCred), "unavailable");
    const elapsed = performance.now() - t0;
    expect(err.message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a Kratos that stalls mid-body is 'unavailable' within the configured timeout", async () => {
    stub.handle((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"id":"');
    });
    const c = makeClient({ timeoutMs: 300 });
    const t0 = performance.now();
    await expectCode(c.whoami(cookieCred), "unavailable");
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it("connection refused is 'unavailable'", async () => {
    const port = await closedPort();
    const c = makeClient({ publicUrl: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${port}` });
    const err = await expectCode(c.whoami(cookieCred), "unavailable");
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(await c.ready()).toBe(false);
  });

  it("a connection dropped without an answer is retried once, then 'unavailable'", async () => {
    stub.handle((req, res, n) => {
      if (n === 1) req.socket.destroy();
      else json(res, 200, sessionBody());
    });
    await expect(client.whoami(tokenCred)).resolves.toMatchObject({ aal: "aal1" });
    expect(stub.requests).toHaveLength(2);

    stub.handle((req) => req.socket.destroy());
    await expectCode(client.whoami(tokenCred), "unavailable");
  });

  it("never puts the cookie or token into error messages", async () => {
    for (const status of [401, 403, 429, 500]) {
      stub.handle((_req, res) =>
        json(res, status, { error: { code: status, message: COOKIE, reason: tokenCred.value } }),
      );
      for (const cred of [cookieCred, tokenCred]) {
        const err = await failure(client.whoami(cred));
        expect(err.message).not.toContain(COOKIE);
        expect(err.message).not.toContain(tokenCred.value);
        expect(String(err.stack)).not.toContain(COOKIE);
      }
    }
  });

  it("after close() calls are 'unavailable'", async () => {
    stub.handle((_req, res) => json(res, 200, sessionBody()));
    await client.close();
    await client.close(); // idempotent
    await expectCode(client.whoami(tokenCred), "unavailable");
  });
});

describe("admin calls against a stub Kratos", () => {
  const id = "0b0f3e4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c";

  it("revokes with DELETE on the documented paths; 404 counts as already revoked", async () => {
    stub.handle((_req, res, n) => {
      if (n % 2) res.writeHead(204).end();
      else json(res, 404, { error: { code: 404, message: "Unable to locate the resource" } });
    });
    await client.revokeSession(id);
    await client.revokeSession(id);
    await client.revokeIdentitySessions(id);
    await client.revokeIdentitySessions(id);
    expect(stub.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `DELETE /admin/sessions/${id}`,
      `DELETE /admin/sessions/${id}`,
      `DELETE /admin/identities/${id}/sessions`,
      `DELETE /admin/identities/${id}/sessions`,
    ]);
  });

  it("admin 5xx is 'unavailable'; admin 401 is 'bad_request', never 'unauthenticated'", async () => {
    stub.handle((_req, res) => json(res, 502, {}));
    await expectCode(client.revokeSession(id), "unavailable");
    await expectCode(client.getIdentity(id), "unavailable");
    stub.handle((_req, res) => json(res, 401, {}));
    await expectCode(client.revokeIdentitySessions(id), "bad_request");
    await expectCode(client.listIdentitySessions(id), "bad_request");
  });

  it("refuses ids that are not UUIDs without calling Kratos", async () => {
    await expectCode(client.revokeSession("../identities"), "bad_request");
    await expectCode(client.getIdentity("x"), "bad_request");
    expect(stub.requests).toHaveLength(0);
  });

  it("lists sessions page by page until a short page, without duplicates", async () => {
    // Emulates Kratos v1.3.1: page=0 and page=1 return the same items.
    const all = Array.from({ length: 5 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    stub.handle((req, res) => {
      const u = new URL(req.url ?? "", "http://x");
      const per = Number(u.searchParams.get("per_page"));
      const page = Math.max(1, Number(u.searchParams.get("page"))) - 1;
      json(
        res,
        200,
        all.slice(page * per, page * per + per).map((sid) => ({ id: sid, active: true })),
        { "x-total-count": String(all.length) },
      );
    });
    expect((await client.listIdentitySessions(id, { pageSize: 2 })).sort()).toEqual(all);
    expect(stub.requests[0]?.url).toBe(`/admin/identities/${id}/sessions?per_page=2&page=0&active=true`);
  });

  it("listSessionSummaries maps devices, times and aal; a malformed item is 'unavailable'", async () => {
    const sid = "00000000-0000-4000-8000-000000000001";
    const item = {
      id: sid,
      active: true,
      authenticator_assurance_level: "aal2",
      authentication_methods: [{ method: "password" }, { method: "totp" }],
      issued_at: "2026-01-01T00:00:00Z",
      authenticated_at: "2026-01-02T00:00:00Z",
      expires_at: "2026-01-03T00:00:00Z",
      devices: [{ id: "d", ip_address: "192.0.2.1", user_agent: "UA/1", location: "" }],
    };
    stub.handle((_req, res) => json(res, 200, [item]));
    expect(await client.listSessionSummaries(id)).toEqual([
      {
        id: sid,
        active: true,
        aal: "aal2",
        amr: ["password", "totp"],
        issuedAt: new Date("2026-01-01T00:00:00Z"),
        authenticatedAt: new Date("2026-01-02T00:00:00Z"),
        expiresAt: new Date("2026-01-03T00:00:00Z"),
        devices: [{ ipAddress: "192.0.2.1", userAgent: "UA/1", location: null }],
      },
    ]);
    stub.handle((_req, res) => json(res, 200, [{ ...item, authenticator_assurance_level: "aal9" }]));
    await expectCode(client.listSessionSummaries(id), "unavailable");
    // The id list (revocation) needs only the ids.
    expect(await client.listIdentitySessions(id)).toEqual([sid]);
  });

  it("ready() is false when Kratos is not ready", async () => {
    stub.handle((_req, res) => json(res, 503, { errors: { database: "down" } }));
    expect(await client.ready()).toBe(false);
    stub.handle((_req, res) => json(res, 200, { status: "ok" }));
    expect(await client.ready()).toBe(true);
    expect(stub.requests.at(-1)?.url).toBe("/admin/health/ready");
  });
});

// The Express entry in a real Express app against the real stack.
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatehouseExpress, gatehouse } from "../src/adapters/express.ts";
import {
  addMember,
  BROWSER_NAV,
  closedPort,
  listen,
  newUser,
  onboard,
  type RunningServer,
  rawRequest,
  stackEnv,
  stackGuardOptions,
  type TestUser,
} from "./support.ts";

describe("Express adapter", () => {
  let auth: GatehouseExpress;
  let down: GatehouseExpress;
  let server: RunningServer;
  let admin: TestUser;
  let member: TestUser;
  beforeAll(async () => {
    auth = gatehouse(
      stackGuardOptions({
        login: {
          url: `${stackEnv().kratosBrowser}/self-service/login/browser`,
          allowedReturnHosts: ["127.0.0.1"],
        },
      }),
    );
    down = gatehouse({ authServiceUrl: `http://127.0.0.1:${await closedPort()}`, audience: "gatehouse" });
    const app = express();
    // What the handler sees: the principal and any identity header that got through.
    const echo = (req: express.Request, res: express.Response) => {
      res.json({
        subject: req.auth?.subject ?? null,
        role: req.auth?.role ?? null,
        via: req.auth?.via ?? null,
        xUserId: req.headers["x-user-id"] ?? null,
        spoofed: req.rawHeaders.filter(
          (h, i) => i % 2 === 0 && /^(x[-_]user|x[-_]auth|remote|x-forwarded-user)/i.test(h),
        ),
      });
    };
    app.get("/admin", auth.requireRoles("admin"), echo);
    app.get("/me", auth.requireAuth(), echo);
    app.get("/public", auth.optionalAuth(), echo);
    app.get("/down", down.requireAuth(), echo);
    server = await listen(app);

    const owner = await newUser("x-owner");
    [admin, member] = await Promise.all([newUser("x-admin"), newUser("x-member")]);
    const orgId = await onboard(owner, "Express Org");
    await addMember(owner, orgId, admin, "admin");
    await addMember(owner, orgId, member, "member");
  });
  afterAll(async () => {
    await server.close();
    await auth.close();
    await down.close();
  });

  const get = (path: string, headers: Record<string, string>) =>
    fetch(`${server.url}${path}`, { headers, redirect: "manual" });

  it('requireRoles("admin"): a member gets 403 JSON {error, message, request_id}', async () => {
    const r = await get("/admin", { "x-session-token": member.sessionToken, "x-request-id": "req-123" });
    expect(r.status).toBe(403);
    expect(r.headers.get("content-type")).toMatch(/application\/json/);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(await r.json()).toEqual({
      error: "forbidden",
      message: "this route needs the role admin",
      request_id: "req-123",
    });
  });

  it('requireRoles("admin"): an admin gets through with req.auth set; a client-sent X-User-Id never reaches the handler', async () => {
    const r = await get("/admin", {
      "x-session-token": admin.sessionToken,
      "X-User-Id": "admin",
      "X-Auth-User": "root",
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      subject: admin.identityId,
      role: "admin",
      via: "session",
      xUserId: null,
      spoofed: [],
    });
  });

  it("spoofed identity headers are stripped even when the request is denied or the route is public", async () => {
    const r = await rawRequest(server.port, "GET /public HTTP/1.1", [
      "X-User-Id: admin",
      "x-user-id: admin2",
      "X-USER-ID: admin3",
      "X_User_Id: admin4",
      "Remote-User: root",
      "X-Forwarded-User: root",
    ]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ subject: null, role: null, via: null, xUserId: null, spoofed: [] });
  });

  it("no session: a browser is redirected (303) to login, an API client gets 401 JSON", async () => {
    // Raw request: fetch() would add its own Sec-Fetch-Mode: cors, which is not a navigation.
    const browser = await rawRequest(
      server.port,
      "GET /me HTTP/1.1",
      Object.entries(BROWSER_NAV).map(([k, v]) => `${k}: ${v}`),
    );
    expect(browser.status).toBe(303);
    const location = new URL(browser.headers.location ?? "");
    expect(location.searchParams.get("return_to")).toBe(`${server.url}/me`);
    const api = await get("/me", { accept: "application/json", "x-requested-with": "XMLHttpRequest" });
    expect(api.status).toBe(401);
    expect(api.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await api.json()) as Record<string, string>;
    expect(body.error).toBe("unauthenticated");
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("two Authorization headers are refused (400), not resolved by Node keeping the first", async () => {
    const r = await rawRequest(server.port, "GET /me HTTP/1.1", [
      `Authorization: Bearer ory_st_${"a".repeat(32)}`,
      `Authorization: Bearer ory_st_${"b".repeat(32)}`,
    ]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe("ambiguous_credentials");
  });

  it("the auth-service unreachable: 503 with Retry-After, no redirect, no cleared cookie", async () => {
    const r = await get("/down", { ...BROWSER_NAV, cookie: "ory_kratos_session=abc" });
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("5");
    expect(r.headers.get("set-cookie")).toBeNull();
    expect(((await r.json()) as { error: string }).error).toBe("dependency_unavailable");
  });

  it("invalid rules fail when the route is declared, not on the first request", () => {
    expect(() => auth.middleware({ roles: [] })).toThrow(/rule\.roles/);
  });
});

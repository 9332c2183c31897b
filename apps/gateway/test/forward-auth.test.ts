import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUser } from "../../auth-service/test/support.ts";
import { routesFile, startGateway } from "./harness.ts";

const ROUTES = `
routes:
  - name: app
    match: { host: app.example.com, path: /** }
    upstream: http://127.0.0.1:9
    auth: { accept: [session, jwt] }
  - name: open
    match: { host: app.example.com, path: /public/** }
    priority: 5
    upstream: http://127.0.0.1:9
    auth: { anonymous: true, accept: [session] }
`;
let gw: Awaited<ReturnType<typeof startGateway>>;
let untrusted: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway(routesFile(ROUTES), {
    LOGIN_URL: "http://app.example.com/auth/login",
    ALLOWED_RETURN_HOSTS: "app.example.com",
  });
  untrusted = await startGateway(routesFile(ROUTES), {
    TRUSTED_PROXIES: "10.9.9.9/32",
    LOGIN_URL: "http://app.example.com/auth/login",
    ALLOWED_RETURN_HOSTS: "app.example.com",
  });
});
afterAll(async () => {
  await gw?.stop();
  await untrusted?.stop();
});

// node:http rather than fetch: fetch cannot send the original Host, which Envoy does.
function decide(
  base: string,
  path: string,
  headers: Record<string, string>,
  method = "GET",
): Promise<{ status: number; headers: Headers; json(): Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        resolve({
          status: res.statusCode ?? 0,
          headers: h,
          json: async () => JSON.parse(body) as Record<string, unknown>,
        });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("forward-auth /decisions", () => {
  it("nginx auth_request style: 200 with identity headers, 401 without a session (redirect target in a header)", async () => {
    const u = await newUser("fa-nginx");
    const ok = await decide(gw.url, "/decisions", {
      "x-original-uri": "/projects/1",
      "x-original-method": "GET",
      "x-forwarded-host": "app.example.com",
      "x-session-token": u.sessionToken,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-user-id")).toBe(u.identityId);
    expect(ok.headers.get("authorization")).toMatch(/^Bearer /);
    const anon = await decide(gw.url, "/decisions", {
      "x-original-uri": "/projects/1",
      "x-forwarded-host": "app.example.com",
      accept: "text/html",
    });
    expect(anon.status).toBe(401);
    const open = await decide(gw.url, "/decisions", {
      "x-original-uri": "/public/x",
      "x-forwarded-host": "app.example.com",
    });
    expect(open.status).toBe(200);
  });

  it("Traefik ForwardAuth style: X-Forwarded-Method/-Uri/-Host", async () => {
    const u = await newUser("fa-traefik");
    const ok = await decide(gw.url, "/decisions", {
      "x-forwarded-method": "POST",
      "x-forwarded-uri": "/projects",
      "x-forwarded-host": "app.example.com",
      "x-forwarded-proto": "https",
      "x-session-token": u.sessionToken,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-user-email")).toBe(u.email);
    const denied = await decide(gw.url, "/decisions", {
      "x-forwarded-method": "POST",
      "x-forwarded-uri": "/projects",
      "x-forwarded-host": "app.example.com",
    });
    expect(denied.status).toBe(401);
    expect((await denied.json()).request_id).toBeTruthy();
  });

  it("logs each decision with the original method, path and route, and no credential", async () => {
    const u = await newUser("fa-log");
    const ok = await decide(gw.url, "/decisions", {
      "x-original-uri": "/projects/9?api_key=query-secret",
      "x-original-method": "DELETE",
      "x-forwarded-host": "app.example.com",
      "x-session-token": u.sessionToken,
      "x-request-id": "fa-log-1",
    });
    expect(ok.status).toBe(200);
    const jwt = String(ok.headers.get("authorization")).slice(7);
    await new Promise((res) => setTimeout(res, 50));
    const line = gw.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "request" && l.request_id === "fa-log-1");
    expect(line).toMatchObject({ method: "DELETE", path: "/projects/9", status: 200 });
    expect(String(line?.route)).toMatch(/^decisions:/);
    const all = gw.logLines.join("\n");
    for (const secret of [u.sessionToken, "query-secret", jwt]) expect(all).not.toContain(secret);
  });

  it("Envoy ext_authz style: the original path appended to /decisions", async () => {
    const u = await newUser("fa-envoy");
    const ok = await decide(gw.url, "/decisions/projects/7", {
      host: "app.example.com",
      "x-session-token": u.sessionToken,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-user-id")).toBe(u.identityId);
    expect((await decide(gw.url, "/decisions/projects/7", { host: "app.example.com" })).status).toBe(401);
  });

  it("refuses path tricks in the original URI and callers that are not trusted proxies", async () => {
    const u = await newUser("fa-tricks");
    for (const uri of ["/public/../projects", "/public/%2e%2e/projects", "/public;x/../projects"]) {
      const r = await decide(gw.url, "/decisions", { "x-original-uri": uri, "x-forwarded-host": "app.example.com" });
      expect(r.status, uri).toBe(400);
    }
    const r = await decide(untrusted.url, "/decisions", {
      "x-original-uri": "/projects",
      "x-forwarded-host": "app.example.com",
      "x-session-token": u.sessionToken,
    });
    expect(r.status).toBe(403);
    expect(r.headers.get("x-user-id")).toBeNull();
  });
});

describe("forward-auth: the original request described twice", () => {
  it("a client's X-Original-URI next to Traefik's X-Forwarded-Uri (or a method next to another) is refused, not believed", async () => {
    const traefik = {
      "x-forwarded-uri": "/projects",
      "x-forwarded-host": "app.example.com",
      "x-forwarded-method": "GET",
    };
    expect((await decide(gw.url, "/decisions", { ...traefik, "x-original-uri": "/public/x" })).status).toBe(400);
    expect((await decide(gw.url, "/decisions", { ...traefik, "x-original-method": "OPTIONS" })).status).toBe(400);
    expect(
      (await decide(gw.url, "/decisions/projects", { host: "app.example.com", "x-forwarded-uri": "/public/x" })).status,
    ).toBe(400);
    // The same request described twice the same way is no contradiction.
    expect((await decide(gw.url, "/decisions", { ...traefik, "x-original-uri": "/projects" })).status).toBe(401);
    expect(
      (await decide(gw.url, "/decisions/projects", { host: "app.example.com", "x-forwarded-uri": "/projects" })).status,
    ).toBe(401);
  });
});

describe("routes reload", () => {
  it("a bad new routes file is refused and the old routes stay; a good one takes effect", async () => {
    const file = routesFile(ROUTES);
    const g = await startGateway(file);
    try {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(file, "routes:\n  - name: broken\n    upstream: nope\n");
      expect(g.reload("test")).toBe(false);
      expect(g.logLines.join("")).toMatch(/routes file refused; keeping the previous routes/);
      expect(g.gateway.table.routes.map((r) => r.name)).toEqual(["open", "app"]);
      writeFileSync(file, "routes:\n  - name: only\n    match: { path: /** }\n    upstream: http://127.0.0.1:9\n");
      expect(g.reload("test")).toBe(true);
      expect(g.gateway.table.routes.map((r) => r.name)).toEqual(["only"]);
    } finally {
      await g.stop();
    }
  });
});

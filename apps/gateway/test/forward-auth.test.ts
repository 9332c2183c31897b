import { request } from "node:http";
import { connect } from "node:net";
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
const LOGIN = { LOGIN_URL: "http://app.example.com/auth/login", ALLOWED_RETURN_HOSTS: "app.example.com" };
type Gw = Awaited<ReturnType<typeof startGateway>>;
const gws: Record<"nginx" | "traefik" | "caddy" | "envoy" | "off" | "untrusted", Gw> = {} as never;
beforeAll(async () => {
  for (const p of ["nginx", "traefik", "caddy", "envoy"] as const)
    gws[p] = await startGateway(routesFile(ROUTES), { ...LOGIN, FORWARD_AUTH_PROXY: p });
  gws.off = await startGateway(routesFile(ROUTES), LOGIN);
  gws.untrusted = await startGateway(routesFile(ROUTES), {
    ...LOGIN,
    FORWARD_AUTH_PROXY: "nginx",
    TRUSTED_PROXIES: "10.9.9.9/32",
  });
});
afterAll(async () => {
  await Promise.all(Object.values(gws).map((g) => g?.stop()));
});

// node:http rather than fetch: fetch cannot send the original Host, which Envoy does;
// headers as [name, value] pairs, so one can be sent twice.
function decide(
  gw: Gw,
  path: string,
  headers: Record<string, string> | [string, string][],
  method = "GET",
): Promise<{ status: number; headers: Headers; json(): Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    // An array of headers gets no Host from node:http, and a request without one is refused.
    const flat = Array.isArray(headers) ? [["Host", "127.0.0.1"], ...headers].flat() : headers;
    const req = request({ host: "127.0.0.1", port: gw.port, path, method, headers: flat }, (res) => {
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

const nginx = (uri: string, method = "GET") => ({
  "x-original-uri": uri,
  "x-original-method": method,
  "x-forwarded-host": "app.example.com",
});
const traefik = (uri: string, method = "GET") => ({
  "x-forwarded-uri": uri,
  "x-forwarded-method": method,
  "x-forwarded-host": "app.example.com",
  "x-forwarded-proto": "https",
});

describe("forward-auth /decisions", () => {
  it("nginx auth_request: 200 with identity headers; a redirect as 401 + X-Auth-Redirect; other refusals as 403 + X-Auth-Status", async () => {
    const u = await newUser("fa-nginx");
    const ok = await decide(gws.nginx, "/decisions", { ...nginx("/projects/1"), "x-session-token": u.sessionToken });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-user-id")).toBe(u.identityId);
    expect(ok.headers.get("authorization")).toMatch(/^Bearer /);
    const page = await decide(gws.nginx, "/decisions", { ...nginx("/projects/1"), accept: "text/html" });
    expect(page.status).toBe(401);
    expect(new URL(page.headers.get("x-auth-redirect") ?? "").pathname).toBe("/auth/login");
    expect((await decide(gws.nginx, "/decisions", nginx("/public/x"))).status).toBe(200);
    // auth_request makes any status but 2xx/401/403 a 500: the real one goes in X-Auth-Status.
    const bad = await decide(gws.nginx, "/decisions", nginx("/public/../projects"));
    expect([bad.status, bad.headers.get("x-auth-status")]).toEqual([403, "400"]);
    const none = await decide(gws.nginx, "/decisions", { ...nginx("/x"), "x-forwarded-host": "other.example.com" });
    expect([none.status, none.headers.get("x-auth-status")]).toEqual([403, "404"]);
    // Refused by Node's parser before any handler (a control character in a header value).
    const raw = await new Promise<string>((resolve) => {
      let out = "";
      const s = connect(gws.nginx.port, "127.0.0.1", () =>
        s.write("GET /decisions HTTP/1.1\r\nHost: gw\r\nX-Original-URI: /x\r\nCookie: a=\u0001\r\n\r\n"),
      );
      s.on("data", (d) => {
        out += d;
      });
      s.on("close", () => resolve(out));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 403 Forbidden\r\nX-Auth-Status: 400\r\n/);
  });

  it("Traefik ForwardAuth and Caddy forward_auth: X-Forwarded-Method/-Uri/-Host/-Proto", async () => {
    const u = await newUser("fa-traefik");
    for (const gw of [gws.traefik, gws.caddy]) {
      const ok = await decide(gw, "/decisions", { ...traefik("/projects", "POST"), "x-session-token": u.sessionToken });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("x-user-email")).toBe(u.email);
      const denied = await decide(gw, "/decisions", traefik("/projects", "POST"));
      expect(denied.status).toBe(401);
      expect((await denied.json()).request_id).toBeTruthy();
      const page = await decide(gw, "/decisions", { ...traefik("/projects?tab=2"), accept: "text/html" });
      expect(page.status).toBe(303);
      const back = new URL(new URL(page.headers.get("location") ?? "").searchParams.get("return_to") ?? "");
      expect(back.href).toBe("https://app.example.com/projects?tab=2");
    }
  });

  it("logs each decision with the original method, path and route, and no credential", async () => {
    const u = await newUser("fa-log");
    const ok = await decide(gws.nginx, "/decisions", {
      ...nginx("/projects/9?api_key=query-secret", "DELETE"),
      "x-session-token": u.sessionToken,
      "x-request-id": "fa-log-1",
    });
    expect(ok.status).toBe(200);
    const jwt = String(ok.headers.get("authorization")).slice(7);
    await new Promise((res) => setTimeout(res, 50));
    const line = gws.nginx.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "request" && l.request_id === "fa-log-1");
    expect(line).toMatchObject({ method: "DELETE", path: "/projects/9", status: 200 });
    expect(String(line?.route)).toMatch(/^decisions:/);
    const all = gws.nginx.logLines.join("\n");
    for (const secret of [u.sessionToken, "query-secret", jwt]) expect(all).not.toContain(secret);

    // nginx is handed 403 + X-Auth-Status (or 401 + X-Auth-Redirect); the log keeps the real answer.
    const none = await decide(gws.nginx, "/decisions", {
      ...nginx("/x"),
      "x-forwarded-host": "other.example.com",
      "x-request-id": "fa-log-2",
    });
    const page = await decide(gws.nginx, "/decisions", {
      ...nginx("/projects/1"),
      accept: "text/html",
      "x-request-id": "fa-log-3",
    });
    expect([none.status, page.status]).toEqual([403, 401]);
    await new Promise((res) => setTimeout(res, 50));
    const statusOf = (id: string) =>
      gws.nginx.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === id)?.status;
    expect([statusOf("fa-log-2"), statusOf("fa-log-3")]).toEqual([404, 303]);
  });

  it("Envoy ext_authz: the original path appended to /decisions, the original method and Host", async () => {
    const u = await newUser("fa-envoy");
    const ok = await decide(gws.envoy, "/decisions/projects/7", {
      host: "app.example.com",
      "x-session-token": u.sessionToken,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-user-id")).toBe(u.identityId);
    expect((await decide(gws.envoy, "/decisions/projects/7", { host: "app.example.com" })).status).toBe(401);
    expect((await decide(gws.envoy, "/decisions", { host: "app.example.com" })).status).toBe(400);
  });

  it("refuses path tricks in the original URI, callers that are not trusted proxies, and answers 404 when off", async () => {
    const u = await newUser("fa-tricks");
    for (const uri of [
      "/public/../projects",
      "/public/%2e%2e/projects",
      "/public;x/../projects",
      "/public/..%2fprojects",
    ]) {
      const r = await decide(gws.traefik, "/decisions", traefik(uri));
      expect(r.status, uri).toBe(400);
    }
    const r = await decide(gws.untrusted, "/decisions", { ...nginx("/projects"), "x-session-token": u.sessionToken });
    expect(r.status).toBe(403);
    expect(r.headers.get("x-user-id")).toBeNull();
    const off = await decide(gws.off, "/decisions", { ...nginx("/projects"), "x-session-token": u.sessionToken });
    expect(off.status).toBe(404);
    expect(off.headers.get("x-user-id")).toBeNull();
  });
});

describe("forward-auth: only the configured proxy's headers describe the original request", () => {
  it("another proxy's headers, which a client can send through this one, are never read", async () => {
    // Through Traefik or Caddy, a client's X-Original-* reach the gateway beside the proxy's own headers.
    for (const gw of [gws.traefik, gws.caddy]) {
      const r = await decide(gw, "/decisions", {
        ...traefik("/projects", "POST"),
        "x-original-uri": "/public/x",
        "x-original-method": "GET",
      });
      expect(r.status).toBe(401);
    }
    // Through nginx, a client's X-Forwarded-Uri/-Method.
    const n = await decide(gws.nginx, "/decisions", {
      ...nginx("/projects", "POST"),
      "x-forwarded-uri": "/public/x",
      "x-forwarded-method": "GET",
    });
    expect(n.status).toBe(401);
    // Envoy: the path after /decisions, whatever the headers say.
    const e = await decide(gws.envoy, "/decisions/projects", {
      host: "app.example.com",
      "x-forwarded-uri": "/public/x",
      "x-original-uri": "/public/x",
    });
    expect(e.status).toBe(401);
  });

  it("a header of the set sent twice, in any spelling, or missing, is refused", async () => {
    const twice = await decide(gws.traefik, "/decisions", [
      ["X-Forwarded-Uri", "/public/x"],
      ["x-forwarded-uri", "/projects"],
      ["X-Forwarded-Method", "GET"],
      ["X-Forwarded-Host", "app.example.com"],
    ]);
    expect(twice.status).toBe(400);
    const method = await decide(gws.nginx, "/decisions", [
      ["X-Original-URI", "/public/x"],
      ["X-Original-Method", "GET"],
      ["X-ORIGINAL-METHOD", "DELETE"],
      ["X-Forwarded-Host", "app.example.com"],
    ]);
    expect([method.status, method.headers.get("x-auth-status")]).toEqual([403, "400"]);
    expect((await decide(gws.traefik, "/decisions", { "x-forwarded-host": "app.example.com" })).status).toBe(400);
    const noMethod = await decide(gws.caddy, "/decisions", {
      "x-forwarded-uri": "/public/x",
      "x-forwarded-host": "app.example.com",
    });
    expect(noMethod.status).toBe(400);
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

// The proxy helper in a real Express app in front of a real upstream (an echo
// server that records what it receives), with the real stack deciding.
import type { IncomingHttpHeaders } from "node:http";
import { createRemoteJwks, createVerifier } from "@gatehouse/tokens";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GuardedProxy, guardedProxy } from "../src/adapters/proxy.ts";
import { createGuard, type Guard } from "../src/index.ts";
import {
  listen,
  newBrowserUser,
  newUser,
  type RunningServer,
  rawRequest,
  stackEnv,
  stackGuardOptions,
  type TestUser,
} from "./support.ts";

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

describe("guardedProxy (http-proxy-middleware v4)", () => {
  let guard: Guard;
  let upstream: RunningServer;
  let gateway: RunningServer;
  let proxy: GuardedProxy;
  let keepCookie: GuardedProxy;
  let user: TestUser;
  const seen: Seen[] = [];

  beforeAll(async () => {
    guard = createGuard(stackGuardOptions());
    upstream = await listen((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body,
        });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
      });
    });
    proxy = guardedProxy({ guard, target: upstream.url, forward: { jwt: true, identityHeaders: true } });
    keepCookie = guardedProxy({ guard, target: upstream.url, forward: { jwt: false, kratosCookie: true } });
    const app = express();
    app.use("/api", proxy);
    app.use("/keep", keepCookie);
    gateway = await listen(app);
    user = await newUser("proxy");
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
    proxy.close();
    keepCookie.close();
    await guard.close();
  });

  const last = (): Seen => {
    const s = seen.at(-1);
    if (!s) throw new Error("nothing reached the upstream");
    return s;
  };

  it("the upstream gets the JWT (verifiable against the JWKS) and identity headers; no Kratos cookie, other cookies intact", async () => {
    const { email, cookie } = await newBrowserUser("proxy-cookie");
    const r = await fetch(`${gateway.url}/api/things?page=2`, {
      method: "POST",
      headers: {
        cookie: `theme=dark; ${cookie}; lang=en`,
        "content-type": "application/json",
        accept: "application/json",
      },
      body: JSON.stringify({ name: "widget" }),
    });
    expect(r.status).toBe(200);
    const s = last();
    expect(s.method).toBe("POST");
    expect(s.path).toBe("/things?page=2");
    expect(s.body).toBe('{"name":"widget"}');
    const auth = s.headers.authorization ?? "";
    expect(auth).toMatch(/^Bearer ey/);
    const verifier = createVerifier({
      jwks: createRemoteJwks(`${stackEnv().authUrl}/.well-known/jwks.json`),
      issuer: stackEnv().authUrl,
      audience: "gatehouse",
    });
    const claims = await verifier.verify(auth.slice("Bearer ".length));
    expect(claims.email).toBe(email);
    expect(s.headers["x-user-id"]).toBe(claims.sub);
    expect(s.headers["x-user-email"]).toBe(email);
    expect(s.headers["x-user-aal"]).toBe("aal1");
    // Every cookie but Kratos' session (the CSRF cookie from the browser flow included), in order.
    const others = cookie
      .split("; ")
      .filter((c) => !c.startsWith("ory_kratos_session="))
      .join("; ");
    expect(s.headers.cookie).toBe(["theme=dark", others, "lang=en"].filter(Boolean).join("; "));
    expect(JSON.stringify(s.rawHeaders)).not.toContain("ory_kratos_session");
  });

  it("a session token is not passed upstream", async () => {
    const r = await fetch(`${gateway.url}/api/x`, { headers: { "x-session-token": user.sessionToken } });
    expect(r.status).toBe(200);
    const s = last();
    expect(s.headers["x-session-token"]).toBeUndefined();
    expect(JSON.stringify(s.rawHeaders)).not.toContain(user.sessionToken);
    expect(s.headers["x-user-id"]).toBe(user.identityId);
  });

  it("spoofed identity headers never reach the upstream, in any case, spelling or number", async () => {
    const r = await rawRequest(gateway.port, "GET /api/spoof HTTP/1.1", [
      `X-Session-Token: ${user.sessionToken}`,
      "X-User-Id: admin",
      "x-user-id: admin2",
      "X-USER-ID: admin3",
      "X-User-Id: admin4",
      "X_User_Id: admin5",
      "X-User-Roles: owner",
      "X-Org-Id: 00000000-0000-4000-8000-000000000000",
      "X-User-Email: ceo@example.org",
      "X-User-Aal: aal2",
      "X-Auth-Request-User: root",
      "X-Forwarded-User: root",
      "X-Remote-User: root",
      "Remote-User: root",
    ]);
    expect(r.status).toBe(200);
    const s = last();
    const names = s.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    // Exactly one of each identity header, the guard's own.
    expect(names.filter((n) => n === "x-user-id")).toHaveLength(1);
    expect(s.headers["x-user-id"]).toBe(user.identityId);
    expect(s.headers["x-user-email"]).toBe(user.email);
    expect(s.headers["x-user-aal"]).toBe("aal1");
    expect(s.headers["x-user-roles"]).toBeUndefined(); // no organization, so no role
    expect(s.headers["x-org-id"]).toBeUndefined();
    for (const n of ["x_user_id", "x-auth-request-user", "x-forwarded-user", "x-remote-user", "remote-user"]) {
      expect(names, n).not.toContain(n);
    }
    expect(JSON.stringify(s.rawHeaders)).not.toMatch(/admin\d?"|root|ceo@|owner/);
  });

  it("a denied request never reaches the upstream", async () => {
    const before = seen.length;
    const anonymous = await fetch(`${gateway.url}/api/secret`, {
      headers: { accept: "application/json", "x-user-id": "admin" },
    });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe("unauthenticated");
    const bad = await fetch(`${gateway.url}/api/secret`, { headers: { "x-session-token": "ory_st_forged" } });
    expect(bad.status).toBe(401);
    const forgedJwt = await fetch(`${gateway.url}/api/secret`, { headers: { authorization: "Bearer e30.e30.sig" } });
    expect(forgedJwt.status).toBe(401);
    expect(seen.length).toBe(before);
  });

  it("forward options: keep the Kratos cookie, no JWT", async () => {
    const { cookie } = await newBrowserUser("proxy-keep");
    const r = await fetch(`${gateway.url}/keep/x`, { headers: { cookie: `a=1; ${cookie}` } });
    expect(r.status).toBe(200);
    const s = last();
    expect(s.headers.cookie).toContain("ory_kratos_session=");
    expect(s.headers.cookie).toContain("a=1");
    expect(s.headers.authorization).toBeUndefined();
    expect(s.headers["x-user-id"]).toBeDefined();
  });

  it("refuses proxy options that would bypass the guard", () => {
    expect(() => guardedProxy({ guard, target: upstream.url, proxyOptions: { ws: true } as never })).toThrow(/ws/);
    expect(() => guardedProxy({ guard, target: "not a url" })).toThrow(/target/);
  });
});

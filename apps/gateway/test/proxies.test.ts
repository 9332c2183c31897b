// A real nginx, Traefik and Caddy, each running the forward-auth configuration
// deploy/README.md documents (read from that file), in front of the gateway's
// /decisions and the real example API: what a platform team sees. The attacks on the
// same set-ups are in test/attack/entry-points.test.ts.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type RealProxy, type Running, startProxy } from "../../../test/support/proxies.ts";
import { newUser } from "../../auth-service/test/support.ts";
import { routesFile, startGateway } from "./harness.ts";

const env = inject("stack");
const apiPort = Number(new URL(env.API_URL as string).port);
const appHost = `app.${env.GATEHOUSE_DOMAIN}`;

const routes = (api: string) => `
routes:
  - name: api
    match: { path: /v1/** }
    upstream: ${api}
    auth: { accept: [session, jwt] }
    forward: { jwt: true }
  - name: health
    match: { path: /health/**, methods: [GET] }
    upstream: ${api}
    auth: { anonymous: true, accept: [session] }
`;

describe.each(["nginx", "traefik", "caddy"] as const)(
  "%s in front of /decisions and the example API",
  (name: RealProxy) => {
    let gw: Awaited<ReturnType<typeof startGateway>>;
    let proxy: Running;
    // node:http rather than fetch: fetch cannot send the Host the proxies pass on as the original host.
    const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
      new Promise<{ status: number; headers: Headers; json(): Promise<unknown> }>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: proxy.port, path, method, headers: { host: appHost, ...headers } },
          (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () => {
              const h = new Headers();
              for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
              resolve({ status: res.statusCode ?? 0, headers: h, json: async () => JSON.parse(body) });
            });
          },
        );
        req.on("error", reject);
        req.end();
      });

    beforeAll(async () => {
      gw = await startGateway(routesFile(routes(env.API_URL as string)), { FORWARD_AUTH_PROXY: name });
      proxy = await startProxy(name, gw.port, apiPort);
    }, 60_000);
    afterAll(async () => {
      await proxy?.stop();
      await gw?.stop();
    });

    it("a signed-in user reaches the API, which verifies the gateway's JWT the proxy copied upstream", async () => {
      const u = await newUser(`px-${name}`);
      const r = await get("/v1/me", { "x-session-token": u.sessionToken, accept: "application/json" });
      const body = (await r.json()) as Record<string, unknown>;
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ id: u.identityId, email: u.email, via: "jwt" });
    });

    it("its documented configuration sets every limit the proxy warns about (Traefik: maxResponseBodySize)", async () => {
      const u = await newUser(`px-warn-${name}`);
      expect((await get("/v1/me", { "x-session-token": u.sessionToken })).status).toBe(200);
      expect(proxy.output()).not.toMatch(/maxResponseBodySize|not configured/i);
    });

    it("an API call without a credential gets 401 (the gateway's JSON through Traefik and Caddy)", async () => {
      const r = await get("/v1/me", { accept: "application/json" });
      expect(r.status).toBe(401);
      // nginx answers an auth_request 401 with its own page (deploy/README.md).
      if (name !== "nginx")
        expect(await r.json()).toMatchObject({ error: expect.any(String), request_id: expect.any(String) });
    });

    it("a browser page load without a session is sent to the login page with the original URL (303)", async () => {
      const r = await get("/v1/me?tab=2", { accept: "text/html", "sec-fetch-mode": "navigate" });
      expect(r.status).toBe(303);
      const to = new URL(r.headers.get("location") ?? "");
      expect(to.pathname).toBe("/auth/login");
      const back = new URL(to.searchParams.get("return_to") ?? "");
      expect(back.pathname + back.search).toBe("/v1/me?tab=2");
    });

    it("decides on the method and path the API gets, and logs them", async () => {
      const u = await newUser(`px-m-${name}`);
      const id = `px-${name}-${Date.now()}`;
      const r = await get(
        "/v1/projects/00000000-0000-4000-8000-000000000000",
        {
          "x-session-token": u.sessionToken,
          "x-request-id": id,
          "x-original-method": "GET",
          "x-forwarded-method": "GET",
          accept: "application/json",
        },
        "DELETE",
      );
      // A member of no organization may not delete: the API's answer, after a 200 decision on DELETE.
      expect([403, 404]).toContain(r.status);
      await new Promise((res) => setTimeout(res, 50));
      const line = gw.logLines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === "request" && String(l.route).startsWith("decisions:") && l.method === "DELETE");
      expect(line).toMatchObject({ path: "/v1/projects/00000000-0000-4000-8000-000000000000", status: 200 });
      // A GET-only anonymous route is not opened to another method by headers naming GET.
      const post = await get("/health/alive", { "x-original-method": "GET", "x-forwarded-method": "GET" }, "POST");
      expect(post.status).toBe(404);
    });
  },
);

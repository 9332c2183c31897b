// The auth-service's JWKS and RFC 8414 metadata on the gateway's origin
// (src/discovery.ts), against the real auth-service of the test stack: the same
// documents and cache headers, anonymous even under a catch-all guarded route, GET
// and HEAD only, no client credential sent on, 503 + Retry-After when it is down.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newUser, token } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

const auth = inject("stack").AUTH_SERVICE_URL as string;
// Everything else on this gateway needs a session: the discovery paths must not.
const guardedEverything = (upstream: string) => `
routes:
  - name: all
    match: { path: /** }
    upstream: ${upstream}
    auth: { accept: [session] }
`;
const JWKS = "/.well-known/jwks.json";
const METADATA = "/.well-known/oauth-authorization-server";

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway(routesFile(guardedEverything(auth)));
});
afterAll(() => gw?.stop());

describe("JWKS and discovery metadata through the gateway", () => {
  it.each([JWKS, METADATA])("GET %s: the auth-service's document and cache headers, anonymous", async (path) => {
    const [direct, through] = await Promise.all([fetch(`${auth}${path}`), fetch(`${gw.url}${path}`)]);
    expect(through.status).toBe(200);
    expect(through.headers.get("content-type")).toMatch(/^application\/json/);
    expect(through.headers.get("cache-control")).toBe(direct.headers.get("cache-control"));
    expect(through.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect(await through.json()).toEqual(await direct.json());
  });

  it("the metadata names the issuer the tokens carry and its JWKS (not rewritten)", async () => {
    const meta = (await (await fetch(`${gw.url}${METADATA}`)).json()) as { issuer: string; jwks_uri: string };
    expect(meta.issuer).toBe(auth);
    expect(meta.jwks_uri).toBe(`${auth}${JWKS}`);
    const keys = (await (await fetch(`${gw.url}${JWKS}`)).json()) as { keys: { kid: string }[] };
    expect(keys.keys.length).toBeGreaterThan(0);
  });

  it("the documented Python verifier (docs/verifying-tokens.md) works from the gateway's metadata URL", async () => {
    const jwt = await token(await newUser("gw-discovery"));
    const script = resolve(import.meta.dirname, "../../../docs/examples/verify_token.py");
    // Debian's python3 with python3-jwt (scripts/bootstrap.sh installs it), as organization.test.ts.
    const python = process.env.GATEHOUSE_PYTHON ?? "/usr/bin/python3";
    // Not spawnSync: the gateway answers from this very process.
    const out = await promisify(execFile)(python, [script, `${gw.url}${METADATA}`, "gatehouse", jwt], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout).iss).toBe(auth);
  });

  it("HEAD answers 200 with the headers and no body", async () => {
    const r = await fetch(`${gw.url}${JWKS}`, { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect(await r.text()).toBe("");
  });

  it.each(["POST", "PUT", "DELETE"])("%s is refused with 405, Allow and the error body", async (method) => {
    const r = await fetch(`${gw.url}${JWKS}`, { method, body: method === "DELETE" ? null : "{}" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD");
    expect(r.headers.get("cache-control")).toBe("no-store");
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toEqual({ error: "method_not_allowed", message: expect.any(String), request_id: expect.any(String) });
    expect(body.request_id).toBe(r.headers.get("x-request-id"));
  });
});

describe("what reaches the auth-service", () => {
  it("no cookie, Authorization, API key or session token; its Set-Cookie is not relayed", async () => {
    const up = await echoUpstream();
    const g = await startGateway(routesFile("routes: []\n"), { AUTH_SERVICE_URL: up.url });
    try {
      const r = await fetch(`${g.url}${JWKS}?x=1`, {
        headers: {
          cookie: "ory_kratos_session=secret-session",
          authorization: "Bearer sk_live_not_for_the_auth_service",
          "x-api-key": "sk_live_other",
          "x-session-token": "ory_st_secret",
          "if-none-match": 'W/"abc"',
        },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get("set-cookie")).toBeNull();
      expect(up.seen).toHaveLength(1);
      const seen = up.seen[0];
      expect(seen?.url).toBe(JWKS);
      for (const h of ["cookie", "authorization", "x-api-key", "x-session-token"])
        expect(seen?.headers[h]).toBeUndefined();
      expect(seen?.headers["if-none-match"]).toBe('W/"abc"');
      expect(seen?.headers.host).toBe(new URL(up.url).host);
    } finally {
      await g.stop();
      await up.close();
    }
  });

  it("the auth-service down: 503 with Retry-After and the error body", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const g = await startGateway(routesFile("routes: []\n"), { AUTH_SERVICE_URL: dead });
    try {
      for (const path of [JWKS, METADATA]) {
        const r = await fetch(`${g.url}${path}`, { headers: { "x-request-id": "discovery-down-1" } });
        expect(r.status).toBe(503);
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(r.headers.get("cache-control")).toBe("no-store");
        expect(await r.json()).toEqual({
          error: "dependency_unavailable",
          message: expect.any(String),
          request_id: "discovery-down-1",
        });
      }
      const head = await fetch(`${g.url}${JWKS}`, { method: "HEAD" });
      expect(head.status).toBe(503);
      expect(await head.text()).toBe("");
    } finally {
      await g.stop();
    }
  });
});

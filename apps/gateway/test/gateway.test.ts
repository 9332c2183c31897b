import { connect } from "node:net";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, joinOrg, newUser, token } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let up: Awaited<ReturnType<typeof echoUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
let host: string;

beforeAll(async () => {
  up = await echoUpstream();
  const file = routesFile(`
routes:
  - name: admin
    match: { path: /api/admin/** }
    priority: 10
    upstream: ${up.url}
    auth: { accept: [session, jwt, api_key], roles: [owner, admin] }
  - name: api
    match: { path: /api/** }
    upstream: ${up.url}
    auth: { accept: [session, jwt, api_key] }
  - name: public
    match: { path: /public/**, methods: [GET, POST] }
    upstream: ${up.url}
    auth: { anonymous: true, accept: [session] }
  - name: slow
    match: { path: /slow/** }
    upstream: ${up.url}
    auth: { anonymous: true, accept: [session] }
    timeout_ms: 300
  - name: down
    match: { path: /down/** }
    upstream: http://127.0.0.1:9
    auth: { anonymous: true, accept: [session] }
`);
  gw = await startGateway(file);
  host = `api.${inject("stack").GATEHOUSE_DOMAIN}:${gw.port}`;
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = "GET", body?: string) =>
  fetch(`${gw.url}${path}`, {
    method,
    headers: { host, accept: "application/json", ...headers },
    redirect: "manual",
    ...(body !== undefined ? { body } : {}),
  });
const lastSeen = () => up.seen[up.seen.length - 1];
const jwks = () => createRemoteJWKSet(new URL(`${inject("stack").AUTH_SERVICE_URL}/.well-known/jwks.json`));

describe("guarded reverse proxy (real Kratos + auth-service + upstream echo)", () => {
  it("a signed-in user reaches a protected route; the upstream sees a verifiable JWT and identity headers, never the Kratos credential or a spoofed header", async () => {
    const u = await newUser("gw");
    const before = up.seen.length;
    const r = await get("/api//things?x=1", {
      "x-session-token": u.sessionToken,
      "X-User-Id": "spoofed-admin",
      "x-user-roles": "owner",
      "X-Org-Id": "spoofed-org",
      cookie: "theme=dark; ory_kratos_session=ignored-by-token",
    });
    expect(r.status).toBe(200);
    expect(up.seen.length).toBe(before + 1);
    const seen = lastSeen();
    expect(seen?.url).toBe("/api/things?x=1");
    expect(seen?.headers["x-user-id"]).toBe(u.identityId);
    expect(seen?.headers["x-user-email"]).toBe(u.email);
    expect(seen?.headers["x-user-roles"] ?? "").not.toContain("owner");
    expect(seen?.headers["x-org-id"]).toBeUndefined();
    expect(seen?.headers["x-session-token"]).toBeUndefined();
    expect(seen?.headers.cookie).toBe("theme=dark");
    const auth = String(seen?.headers.authorization ?? "");
    expect(auth).toMatch(/^Bearer ey/);
    const { payload } = await jwtVerify(auth.slice(7), jwks(), { audience: "gatehouse" });
    expect(payload.sub).toBe(u.identityId);
    expect(r.headers.get("set-cookie")).toContain("upstream=1");
  });

  it("accepts a Gatehouse JWT and an API key on routes that list them", async () => {
    const u = await newUser("gw-jwt");
    const jwt = await token(u);
    expect((await get("/api/jwt", { authorization: `Bearer ${jwt}` })).status).toBe(200);
    expect(lastSeen()?.headers["x-user-id"]).toBe(u.identityId);

    const orgId = (
      (await call("/v1/onboarding", { token: u.sessionToken, json: { name: "GW" } })).body.organization as {
        id: string;
      }
    ).id;
    const key = (
      await call(`/v1/organizations/${orgId}/api-keys`, {
        token: u.sessionToken,
        json: { name: "gw", scopes: ["org:read"] },
      })
    ).body.key as string;
    expect((await get("/api/key", { "x-api-key": key })).status).toBe(200);
    expect(lastSeen()?.headers["x-org-id"]).toBe(orgId);
    expect(lastSeen()?.headers["x-api-key"]).toBeUndefined();
  });

  it("roles: a member is refused an admin route (403) and it never reaches the upstream", async () => {
    const owner = await newUser("gw-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Roles" } })).body.organization as {
        id: string;
      }
    ).id;
    const member = await newUser("gw-member");
    await joinOrg(owner, orgId, member, "member");
    const before = up.seen.length;
    const denied = await get("/api/admin/users", { "x-session-token": member.sessionToken });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      error: expect.any(String),
      message: expect.any(String),
      request_id: expect.any(String),
    });
    expect(up.seen.length).toBe(before);
    expect((await get("/API/Admin/users", { "x-session-token": member.sessionToken })).status).toBe(403);
    expect((await get("/api/admin/users", { "x-session-token": owner.sessionToken })).status).toBe(200);
  });

  it("a role change reaches the gateway's cache at once (Redis pub/sub), not after its TTL", async () => {
    const owner = await newUser("gw-promote-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Promote" } })).body.organization as {
        id: string;
      }
    ).id;
    const member = await newUser("gw-promote");
    await joinOrg(owner, orgId, member, "member");
    expect((await get("/api/admin/x", { "x-session-token": member.sessionToken })).status).toBe(403);
    await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "admin" },
    });
    // Pub/sub is asynchronous but fast; allow it a moment, far below the 60 s cache TTL.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await get("/api/admin/x", { "x-session-token": member.sessionToken })).status;
    }
    expect(status).toBe(200);
    // And a fresh signup who onboards is an owner on the next request.
    const fresh = await newUser("gw-onboard");
    expect((await get("/api/admin/x", { "x-session-token": fresh.sessionToken })).status).toBe(403);
    await call("/v1/onboarding", { token: fresh.sessionToken, json: { name: "Fresh" } });
    status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await get("/api/admin/x", { "x-session-token": fresh.sessionToken })).status;
    }
    expect(status).toBe(200);
  });

  it("no session: a browser page is redirected to login with return_to; API calls get 401 JSON; nothing reaches the upstream", async () => {
    const before = up.seen.length;
    // Raw request: fetch always sends Sec-Fetch-Mode: cors, a browser page load sends navigate.
    const page = await rawRequest(
      `GET /api/dashboard HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n`,
    );
    expect(page.status).toBe(303);
    const loc = new URL(/\r\nlocation: ([^\r]+)/i.exec(page.head)?.[1] ?? "");
    expect(loc.origin + loc.pathname).toBe(`http://app.${inject("stack").GATEHOUSE_DOMAIN}/auth/login`);
    expect(loc.searchParams.get("return_to")).toContain("/api/dashboard");
    const api = await get("/api/dashboard");
    expect(api.status).toBe(401);
    expect((await api.json()).error).toBeTruthy();
    const post = await get("/api/dashboard", { accept: "text/html" }, "POST");
    expect(post.status).toBe(401);
    const forged = await get("/api/x", {
      authorization: "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.",
    });
    expect(forged.status).toBe(401);
    expect(up.seen.length).toBe(before);
  });

  it.each([
    "/api/../public/x",
    "/public/%2e%2e/api/admin/x",
    "/public/..%2fapi/admin",
    "/api;x=1/admin",
    "/public/x/..",
    "/api/admin./x",
    "/api\\admin",
  ])("path trick %s is refused before the upstream", async (p) => {
    const before = up.seen.length;
    const r = await rawRequest(`GET ${p} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(400);
    expect(up.seen.length).toBe(before);
  });

  it("request smuggling (Content-Length + Transfer-Encoding) is refused before the upstream", async () => {
    const before = up.seen.length;
    const r = await rawRequest(
      `POST /public/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nG`,
    );
    expect(r.status).toBe(400);
    expect(up.seen.length).toBe(before);
  });

  it("request bodies reach the upstream intact, with a length or chunked, framed by the gateway alone", async () => {
    const payload = JSON.stringify({ name: "Launch site", note: "é ✓".repeat(500) });
    const sized = await get("/public/echo", { "content-type": "application/json" }, "POST", payload);
    expect(sized.status).toBe(200);
    expect(((await sized.json()) as { body: string }).body).toBe(payload);
    expect(lastSeen()?.headers["content-length"]).toBe(String(Buffer.byteLength(payload)));
    // A streamed (chunked) body: re-chunked to the upstream, never relayed raw.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(payload.slice(0, 100)));
        c.enqueue(new TextEncoder().encode(payload.slice(100)));
        c.close();
      },
    });
    const chunked = await fetch(`${gw.url}/public/echo`, {
      method: "POST",
      headers: { host, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(200);
    expect(((await chunked.json()) as { body: string }).body).toBe(payload);
    expect(lastSeen()?.headers["transfer-encoding"]).toBe("chunked");
  });

  it("upstream down → 502, upstream too slow → 504, both in the JSON error shape", async () => {
    const down = await get("/down/x");
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ error: "bad_gateway", request_id: expect.any(String) });
    const slow = await get("/slow/x");
    expect(slow.status).toBe(504);
    expect(await slow.json()).toMatchObject({ error: "upstream_timeout" });
  });

  it("an anonymous route works without credentials and still strips spoofed identity", async () => {
    const r = await get("/public/page", { "x-user-id": "spoof" });
    expect(r.status).toBe(200);
    expect(lastSeen()?.headers["x-user-id"]).toBeUndefined();
  });

  it("identity and forwarding headers are stripped in every spelling the client sends them, and a second Authorization is refused", async () => {
    const u = await newUser("gw-spell");
    // Raw bytes: fetch would lower-case the names; servers behind us may not care about case or "_".
    const r = await rawRequest(
      `GET /api/spelled HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nX-Session-Token: ${u.sessionToken}\r\n` +
        "X-USER-ID: spoof-1\r\nX_User_Roles: owner\r\nx-Org-Id: spoof-org\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n" +
        "Remote-User: root\r\nConnection: close\r\n\r\n",
    );
    expect(r.status).toBe(200);
    const seen = lastSeen()?.headers ?? {};
    expect(seen["x-user-id"]).toBe(u.identityId);
    expect(seen.x_user_roles).toBeUndefined();
    expect(seen["x-org-id"]).toBeUndefined();
    expect(seen["remote-user"]).toBeUndefined();
    expect(seen["x-real-ip"]).toBeUndefined();
    // The test client is a trusted proxy here: its chain is kept, and the peer appended to it.
    expect(seen["x-forwarded-for"]).toBe("6.6.6.6, 127.0.0.1");

    // Node keeps only the first of two Authorization headers; the guard reads both and refuses.
    const before = up.seen.length;
    const jwt = await token(u);
    const twice = await rawRequest(
      `GET /api/twice HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nAuthorization: Bearer ${jwt}\r\n` +
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\r\nConnection: close\r\n\r\n",
    );
    expect(twice.status).toBe(400);
    expect(up.seen.length).toBe(before);
  });

  it("writes one access line per request, with what happened and nothing secret", async () => {
    const u = await newUser("gw-log");
    const r = await get("/api/logged?access_token=query-secret", {
      "x-session-token": u.sessionToken,
      cookie: "ory_kratos_session=cookie-secret; theme=dark",
      "x-request-id": "log-test-1",
    });
    expect(r.status).toBe(200);
    const jwt = String(lastSeen()?.headers.authorization ?? "").slice(7);
    const denied = await get("/api/logged", { "x-request-id": "log-test-2" });
    expect(denied.status).toBe(401);
    // Lines are written when the response is done; give the listener a turn.
    await new Promise((res) => setTimeout(res, 50));
    const lines = gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");
    expect(lines.find((l) => l.request_id === "log-test-1")).toMatchObject({
      method: "GET",
      path: "/api/logged",
      route: "api",
      status: 200,
      client: "127.0.0.1",
      ms: expect.any(Number),
    });
    expect(lines.find((l) => l.request_id === "log-test-2")).toMatchObject({ route: "api", status: 401 });
    const all = gw.logLines.join("\n");
    for (const secret of [u.sessionToken, "cookie-secret", "query-secret", jwt]) expect(all).not.toContain(secret);
  });

  it("unknown paths are a 404 JSON", async () => {
    const r = await get("/nothing-here");
    expect(r.status).toBe(404);
    expect((await r.json()).error).toBe("not_found");
  });
});

function rawRequest(text: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(gw.port, "127.0.0.1", () => s.write(text));
    let data = "";
    s.on("data", (d) => {
      data += d.toString();
    });
    s.on("end", () =>
      resolve({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0),
        head: data.slice(0, data.indexOf("\r\n\r\n")),
        body: data.slice(data.indexOf("\r\n\r\n") + 4),
      }),
    );
    s.on("error", reject);
    setTimeout(() => s.end(), 2_000);
  });
}

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, joinOrg, newUser, type TestUser, token } from "../../auth-service/test/support.ts";
import { routesFile, startGateway } from "../../gateway/test/harness.ts";
import { start } from "../src/main.ts";

let api: Awaited<ReturnType<typeof start>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let orgId: string;

const direct = (path: string, u: TestUser | undefined, init: { method?: string; json?: unknown } = {}) =>
  fetch(`http://127.0.0.1:${api.port}${path}`, {
    method: init.method ?? (init.json ? "POST" : "GET"),
    headers: {
      ...(u ? { "x-session-token": u.sessionToken } : {}),
      ...(init.json ? { "content-type": "application/json" } : {}),
    },
    ...(init.json ? { body: JSON.stringify(init.json) } : {}),
  });

beforeAll(async () => {
  const s = inject("stack");
  api = await start({ API_PORT: "0", DATABASE_URL: s.DATABASE_URL, AUTH_SERVICE_URL: s.AUTH_SERVICE_URL });
  gw = await startGateway(
    routesFile(`
routes:
  - name: api
    match: { path: /v1/** }
    upstream: http://127.0.0.1:${api.port}
    auth: { accept: [session, jwt, api_key] }
`),
  );
  owner = await newUser("api-owner");
  admin = await newUser("api-admin");
  member = await newUser("api-member");
  orgId = (
    (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Example Co" } })).body.organization as {
      id: string;
    }
  ).id;
  await joinOrg(owner, orgId, admin, "admin");
  await joinOrg(owner, orgId, member, "member");
});
afterAll(async () => {
  await gw?.stop();
  await api?.stop();
});

describe("example API (imports the guard): members read, admins write, owners delete", () => {
  it("enforces the role rules and scopes data to the caller's organization", async () => {
    const created = await direct("/v1/projects", admin, { json: { name: "Rocket" } });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { project: { id: string } }).project.id;

    const list = await direct("/v1/projects", member);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { projects: { name: string }[] }).projects.map((p) => p.name)).toContain("Rocket");

    const memberWrite = await direct("/v1/projects", member, { json: { name: "Nope" } });
    expect(memberWrite.status).toBe(403);
    expect(await memberWrite.json()).toMatchObject({
      error: expect.any(String),
      message: expect.any(String),
      request_id: expect.any(String),
    });
    expect((await direct(`/v1/projects/${id}`, admin, { method: "DELETE" })).status).toBe(403);
    expect((await direct(`/v1/projects/${id}`, owner, { method: "DELETE" })).status).toBe(204);

    // Another organization sees none of it.
    const stranger = await newUser("api-stranger");
    await call("/v1/onboarding", { token: stranger.sessionToken, json: { name: "Other Co" } });
    const theirs = await direct("/v1/projects", stranger);
    expect(((await theirs.json()) as { projects: unknown[] }).projects).toEqual([]);
  });

  it("accepts the Gatehouse JWT and the Kratos session; refuses anonymous callers and users without an organization", async () => {
    const jwt = await token(member);
    const viaJwt = await fetch(`http://127.0.0.1:${api.port}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(viaJwt.status).toBe(200);
    expect(await viaJwt.json()).toMatchObject({
      id: member.identityId,
      role: "member",
      organization_id: orgId,
      via: "jwt",
    });
    expect((await direct("/v1/projects", undefined)).status).toBe(401);
    const loner = await newUser("api-loner");
    expect((await direct("/v1/projects", loner)).status).toBe(403);
  });

  it("behind the gateway: a session becomes a JWT at the edge and the API verifies it", async () => {
    const r = await fetch(`${gw.url}/v1/me`, {
      headers: { "x-session-token": admin.sessionToken, "x-user-id": "spoof" },
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ id: admin.identityId, role: "admin", via: "jwt" });
    const denied = await fetch(`${gw.url}/v1/projects`, {
      method: "POST",
      headers: { "x-session-token": member.sessionToken, "content-type": "application/json" },
      body: '{"name":"x"}',
    });
    expect(denied.status).toBe(403);
  });

  it("bad input gets a 4xx JSON error", async () => {
    for (const [body, status] of [
      ["{", 400],
      [JSON.stringify({ name: "" }), 400],
      [JSON.stringify({ name: "x", extra: 1 }), 400],
      [JSON.stringify({ name: "y".repeat(20_000) }), 413],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${api.port}/v1/projects`, {
        method: "POST",
        headers: { "x-session-token": owner.sessionToken, "content-type": "application/json" },
        body,
      });
      expect(r.status, body.slice(0, 20)).toBe(status);
      expect((await r.json()).error).toBeTruthy();
    }
    expect((await direct("/v1/projects/not-a-uuid", owner, { method: "DELETE" })).status).toBe(400);
  });
});

import { createRemoteJWKSet, jwtVerify } from "jose";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { auth, call, expectErrorShape, joinOrg, newUser, token } from "./support.ts";

const verify = (jwt: string) =>
  jwtVerify(jwt, createRemoteJWKSet(new URL(`${auth().url}/.well-known/jwks.json`)), {
    issuer: auth().url,
    audience: "gatehouse",
  });

async function orgWithOwner() {
  const owner = await newUser("keys-owner");
  const org = (
    await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Keys Inc", plan: "enterprise" } })
  ).body.organization as { id: string };
  return { owner, orgId: org.id };
}

describe("API keys", () => {
  it("an owner creates a key shown once; it exchanges for a token carrying the organization and its scopes", async () => {
    const { owner, orgId } = await orgWithOwner();
    const created = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: owner.sessionToken,
      json: { name: "ci", scopes: ["org:read", "teams:read"] },
    });
    expect(created.status).toBe(201);
    const raw = created.body.key as string;
    expect(raw).toMatch(/^sk_/);
    const meta = created.body.api_key as { id: string; prefix: string };
    expect(raw.startsWith(meta.prefix)).toBe(true);

    // The raw key is stored nowhere: not in the keys table, not in the audit log.
    const db = new pg.Client({ connectionString: inject("stack").DATABASE_URL });
    await db.connect();
    const leaks = await db.query(
      "select (select count(*) from api_keys where row_to_json(api_keys)::text like $1) + (select count(*) from audit_log where row_to_json(audit_log)::text like $1) as n",
      [`%${raw.slice(12)}%`],
    );
    await db.end();
    expect(Number(leaks.rows[0].n)).toBe(0);
    const listed = await call(`/v1/organizations/${orgId}/api-keys`, { token: owner.sessionToken });
    expect(JSON.stringify(listed.body)).not.toContain(raw);

    for (const headers of [{ authorization: `Bearer ${raw}` }, { "x-api-key": raw }]) {
      const r = await call("/v1/token", { headers, json: {} });
      expect(r.status).toBe(200);
      const { payload } = await verify(r.body.access_token as string);
      expect(payload).toMatchObject({
        sub: `api_key:${meta.id}`,
        org: orgId,
        plan: "enterprise",
        perms: ["org:read", "teams:read"],
        amr: ["api_key"],
      });
      expect(payload.email).toBeUndefined();
      expect(payload.role).toBeUndefined();
    }

    const revoked = await call(`/v1/organizations/${orgId}/api-keys/${meta.id}`, {
      method: "DELETE",
      token: owner.sessionToken,
    });
    expect(revoked.status).toBe(204);
    const after = await call("/v1/token", { headers: { "x-api-key": raw }, json: {} });
    expect(after.status).toBe(401);
    expectErrorShape(after.body, "unauthenticated");
  });

  it("a user-owned key acts for its user, limited to the intersection of role and scopes", async () => {
    const { owner, orgId } = await orgWithOwner();
    const created = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: owner.sessionToken,
      json: { name: "mine", scopes: ["org:read", "billing:write"], as_user: true },
    });
    expect(created.status).toBe(201);
    const r = await call("/v1/token", { headers: { "x-api-key": created.body.key as string }, json: {} });
    const { payload } = await verify(r.body.access_token as string);
    expect(payload).toMatchObject({ sub: owner.identityId, role: "owner", org: orgId, email: owner.email });
    expect(payload.perms).toEqual(["billing:write", "org:read"]);
  });

  it("members cannot create keys; malformed keys and mixed credentials are refused", async () => {
    const { owner, orgId } = await orgWithOwner();
    const member = await newUser("keys-member");
    await joinOrg(owner, orgId, member, "member");
    const refused = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: member.sessionToken,
      json: { name: "nope" },
    });
    expect(refused.status).toBe(403);
    expectErrorShape(refused.body, "forbidden");

    for (const bad of ["sk_short", `sk_${"A".repeat(43)}!`, `pk_${"A".repeat(43)}`]) {
      const r = await call("/v1/token", { headers: { "x-api-key": bad }, json: {} });
      expect(r.status, bad).toBe(401);
    }
    // A key that would be born expired is refused by both the owners' and the operators' endpoint.
    const past = new Date(Date.now() - 60_000).toISOString();
    const pastOwner = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: owner.sessionToken,
      json: { name: "old", expires_at: past },
    });
    expect(pastOwner.status).toBe(400);
    expect(pastOwner.body.message).toMatch(/expires_at: must be in the future/);
    const pastOperator = await call("/admin/api-keys", {
      base: auth().admin,
      headers: { authorization: `Bearer ${auth().adminToken}` },
      json: { organization_id: orgId, name: "old", expires_at: past },
    });
    expect(pastOperator.status).toBe(400);
    const unknown = await call("/v1/token", { headers: { "x-api-key": `sk_${"A".repeat(43)}` }, json: {} });
    expect(unknown.status).toBe(401);
    const mixed = await call("/v1/token", {
      token: owner.sessionToken,
      headers: { "x-api-key": `sk_${"A".repeat(43)}` },
      json: {},
    });
    expect(mixed.status).toBe(400);
    expectErrorShape(mixed.body, "bad_request");
    // A Gatehouse JWT is not an exchange credential.
    const jwt = await token(owner);
    const jwtAsKey = await call("/v1/token", { headers: { authorization: `Bearer ${jwt}` }, json: {} });
    expect(jwtAsKey.status).toBe(401);
  });
});

// The organizations API's authorization against the real stack (Kratos, Postgres,
// Redis): owners and admins, API-key scopes, and invitations as the only way in.
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { accept, invite, verifyEmail } from "../../../test/support/invitations.ts";
import { stack } from "../../../test/support/kratos.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { auth, call, expectErrorShape, joinOrg, newUser, type TestUser, token } from "./support.ts";

const claims = async (jwt: string): Promise<JWTPayload> =>
  (
    await jwtVerify(jwt, createRemoteJWKSet(new URL(`${auth().url}/.well-known/jwks.json`)), {
      issuer: auth().url,
      audience: "gatehouse",
    })
  ).payload;

async function onboarded(prefix: string, name = "Org", base?: string): Promise<{ owner: TestUser; orgId: string }> {
  const owner = await newUser(prefix);
  const r = await call("/v1/onboarding", { token: owner.sessionToken, json: { name }, ...(base ? { base } : {}) });
  if (r.status !== 201) throw new Error(`onboarding: ${r.status} ${r.text}`);
  return { owner, orgId: (r.body.organization as { id: string }).id };
}

const roleIn = async (orgId: string, viewer: TestUser, who: TestUser) =>
  (
    (await call(`/v1/organizations/${orgId}/members`, { token: viewer.sessionToken })).body.members as {
      identityId: string;
      role: string;
    }[]
  ).find((m) => m.identityId === who.identityId)?.role;

describe("owners and admins", () => {
  it("an admin can neither demote, remove nor make an owner (403 with a clear error); an owner can", async () => {
    const { owner, orgId } = await onboarded("authz-owner");
    const owner2 = await newUser("authz-owner2");
    const admin = await newUser("authz-admin");
    const member = await newUser("authz-member");
    await joinOrg(owner, orgId, owner2, "owner");
    await joinOrg(owner, orgId, admin, "admin");
    await joinOrg(admin, orgId, member, "member");

    const attempts = [
      { method: "PATCH", who: owner2, json: { role: "member" } },
      { method: "PATCH", who: owner2, json: { role: "admin" } },
      { method: "DELETE", who: owner2 },
      { method: "PATCH", who: member, json: { role: "owner" } },
      { method: "PATCH", who: admin, json: { role: "owner" } },
    ];
    for (const a of attempts) {
      const r = await call(`/v1/organizations/${orgId}/members/${a.who.identityId}`, {
        method: a.method,
        token: admin.sessionToken,
        ...(a.json ? { json: a.json } : {}),
      });
      expect(r.status, `${a.method} ${JSON.stringify(a.json ?? {})}`).toBe(403);
      expectErrorShape(r.body, "forbidden");
      expect(r.body.message).toMatch(/only owners/);
    }
    expect(await roleIn(orgId, owner, owner2)).toBe("owner");
    expect(await roleIn(orgId, owner, member)).toBe("member");
    expect(await roleIn(orgId, owner, admin)).toBe("admin");
    // Nor invite one.
    const ownerInvite = await invite(auth().url, admin.sessionToken, orgId, "boss@example.org", "owner");
    expect(ownerInvite.status).toBe(403);
    expectErrorShape(ownerInvite.body, "forbidden");

    // What an admin may do: manage members and admins.
    const promoted = await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      method: "PATCH",
      token: admin.sessionToken,
      json: { role: "admin" },
    });
    expect(promoted.status).toBe(200);
    // An owner changes and removes owners.
    const demoted = await call(`/v1/organizations/${orgId}/members/${owner2.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "member" },
    });
    expect(demoted.status).toBe(200);
    expect((await claims(await token(owner2))).role).toBe("member");
    const removed = await call(`/v1/organizations/${orgId}/members/${owner2.identityId}`, {
      method: "DELETE",
      token: owner.sessionToken,
    });
    expect(removed.status).toBe(204);
  });

  it("POST …/members is gone: nobody is added without accepting an invitation", async () => {
    const { owner, orgId } = await onboarded("authz-direct");
    const victim = await newUser("authz-victim");
    for (const json of [
      { identity_id: victim.identityId, role: "admin" },
      { email: victim.email, role: "admin" },
    ]) {
      const r = await call(`/v1/organizations/${orgId}/members`, { token: owner.sessionToken, json });
      expect(r.status).toBe(410);
      expectErrorShape(r.body, "gone");
      expect(r.body.message).toMatch(/invitation/);
    }
    expect((await call("/v1/organizations", { token: victim.sessionToken })).body.organizations).toEqual([]);
  });
});

describe("API keys never carry more than their creator may do", () => {
  it("an admin's key with org:delete or billing:write is refused (403); a key within their rights works", async () => {
    const { owner, orgId } = await onboarded("keys-owner");
    const admin = await newUser("keys-admin");
    await joinOrg(owner, orgId, admin, "admin");
    for (const scopes of [["org:delete"], ["billing:write"], ["org:read", "org:delete", "billing:write"]]) {
      const r = await call(`/v1/organizations/${orgId}/api-keys`, {
        token: admin.sessionToken,
        json: { name: "too much", scopes },
      });
      expect(r.status, scopes.join(",")).toBe(403);
      expectErrorShape(r.body, "forbidden");
      expect(r.body.message).toMatch(/scopes your role \(admin\) does not have/);
      for (const s of scopes.filter((x) => x !== "org:read")) expect(r.body.message).toContain(s);
    }
    const listed = await call(`/v1/organizations/${orgId}/api-keys`, { token: owner.sessionToken });
    expect(listed.body.api_keys).toEqual([]);
    const ok = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: admin.sessionToken,
      json: { name: "fine", scopes: ["org:read", "members:write"] },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.api_key).toMatchObject({ createdBy: admin.identityId, scopes: ["org:read", "members:write"] });
    // The owner may put owner-only scopes on a key.
    const byOwner = await call(`/v1/organizations/${orgId}/api-keys`, {
      token: owner.sessionToken,
      json: { name: "owner's", scopes: ["org:delete"] },
    });
    expect(byOwner.status).toBe(201);
  });

  it("a key does not outlive its creator's rights: demoted → cut to the new role's; removed → refused", async () => {
    const { owner, orgId } = await onboarded("outlive-owner");
    const admin = await newUser("outlive-admin");
    await joinOrg(owner, orgId, admin, "admin");
    const orgKey = (
      await call(`/v1/organizations/${orgId}/api-keys`, {
        token: admin.sessionToken,
        json: { name: "org key", scopes: ["org:read", "members:write", "teams:write"] },
      })
    ).body.key as string;
    const userKey = (
      await call(`/v1/organizations/${orgId}/api-keys`, {
        token: admin.sessionToken,
        json: { name: "my key", scopes: [], as_user: true },
      })
    ).body.key as string;
    const perms = async (key: string) => {
      const r = await call("/v1/token", { headers: { "x-api-key": key }, json: {} });
      return r.status === 200 ? ((await claims(r.body.access_token as string)).perms as string[]) : r.status;
    };
    expect(await perms(orgKey)).toEqual(["members:write", "org:read", "teams:write"]);
    expect(await perms(userKey)).toContain("members:write");

    await call(`/v1/organizations/${orgId}/members/${admin.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "member" },
    });
    // At once, not when a cached token runs out.
    expect(await perms(orgKey)).toEqual(["org:read"]);
    expect(await perms(userKey)).toEqual(["members:read", "org:read", "teams:read"]);

    await call(`/v1/organizations/${orgId}/members/${admin.identityId}`, {
      method: "DELETE",
      token: owner.sessionToken,
    });
    expect(await perms(orgKey)).toBe(401);
    expect(await perms(userKey)).toBe(401);
  });
});

describe("invitations", () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = new pg.Client({ connectionString: inject("stack").DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
  });

  it("answer the same for an address with an account and one without (no enumeration)", async () => {
    const { owner, orgId } = await onboarded("enum-owner");
    const known = await newUser("enum-known");
    const answers = [];
    for (const email of [known.email, `nobody-${Date.now()}@example.org`, known.email.toUpperCase()]) {
      const r = await invite(auth().url, owner.sessionToken, orgId, email, "admin");
      answers.push(r);
    }
    const shape = (r: { status: number; body: Record<string, unknown> }) => {
      const inv = r.body.invitation as Record<string, unknown>;
      return {
        status: r.status,
        keys: Object.keys(r.body).sort(),
        invitation: { ...inv, id: typeof inv.id, email: typeof inv.email, expiresAt: "-", createdAt: "-" },
        token: String(r.body.token).replace(/[A-Za-z0-9_-]/g, "x"),
      };
    };
    expect(answers[0]?.status).toBe(201);
    expect(shape(answers[0] as never)).toEqual(shape(answers[1] as never));
    expect(shape(answers[0] as never)).toEqual(shape(answers[2] as never));
  });

  it("are accepted only by the invitee, signed in with the verified address; the membership has the invited role", async () => {
    const { owner, orgId } = await onboarded("flow-owner", "Invited Co");
    const invitee = await newUser("flow-invitee");
    const intruder = await newUser("flow-intruder");
    const created = await invite(auth().url, owner.sessionToken, orgId, invitee.email, "admin");
    expect(created.status).toBe(201);
    expect(created.body.invitation).toMatchObject({ email: invitee.email, role: "admin", status: "pending" });
    const t = created.body.token as string;

    // Pending: nothing changes for the invitee.
    expect((await claims(await token(invitee))).org).toBeUndefined();

    // Another signed-in user, even with a verified address of their own.
    await verifyEmail(stack().kratosAdmin, intruder.identityId, intruder.email);
    const wrong = await accept(auth().url, intruder.sessionToken, t);
    expect(wrong.status).toBe(403);
    expectErrorShape(wrong.body, "forbidden");
    expect(JSON.stringify(wrong.body)).not.toContain(invitee.email);

    // The invitee before verifying the address.
    const unverified = await accept(auth().url, invitee.sessionToken, t);
    expect(unverified.status).toBe(403);
    expectErrorShape(unverified.body, "email_unverified");
    // Not signed in at all.
    expect((await call("/v1/invitations/accept", { json: { token: t } })).status).toBe(401);

    await verifyEmail(stack().kratosAdmin, invitee.identityId, invitee.email);
    const ok = await accept(auth().url, invitee.sessionToken, t);
    expect(ok.status).toBe(200);
    expect(ok.body.membership).toMatchObject({ organizationId: orgId, role: "admin", joinedVia: "invitation" });
    // The next token (also through any guard: pub/sub) is for the organization, with the invited role.
    expect(await claims(await token(invitee))).toMatchObject({ org: orgId, role: "admin" });

    const reused = await accept(auth().url, invitee.sessionToken, t);
    expect(reused.status).toBe(410);
    expectErrorShape(reused.body, "gone");
    expect((await accept(auth().url, intruder.sessionToken, t)).status).toBe(410);
  });

  it("expired, revoked and malformed invitations are refused; owners and admins list and revoke them, members may not", async () => {
    const { owner, orgId } = await onboarded("revoke-owner");
    const admin = await newUser("revoke-admin");
    const member = await newUser("revoke-member");
    const invitee = await newUser("revoke-invitee");
    await joinOrg(owner, orgId, admin, "admin");
    await joinOrg(owner, orgId, member, "member");
    await verifyEmail(stack().kratosAdmin, invitee.identityId, invitee.email);

    const expiring = await invite(auth().url, admin.sessionToken, orgId, invitee.email, "member");
    const inv = expiring.body.invitation as { id: string };
    await db.query("update invitations set expires_at = created_at + interval '1 millisecond' where id = $1", [inv.id]);
    const expired = await accept(auth().url, invitee.sessionToken, expiring.body.token as string);
    expect(expired.status).toBe(410);
    expect(expired.body.message).toMatch(/expired/);

    const revoking = await invite(auth().url, admin.sessionToken, orgId, invitee.email, "member");
    const rid = (revoking.body.invitation as { id: string }).id;
    const listed = await call(`/v1/organizations/${orgId}/invitations`, { token: admin.sessionToken });
    expect(listed.status).toBe(200);
    const pending = listed.body.invitations as Record<string, unknown>[];
    expect(pending.map((i) => i.id)).toEqual([rid]);
    expect(JSON.stringify(listed.body)).not.toMatch(/inv_|secret|hash/i);
    // Members neither list nor revoke.
    const byMember = await call(`/v1/organizations/${orgId}/invitations`, { token: member.sessionToken });
    expect(byMember.status).toBe(403);
    expectErrorShape(byMember.body, "forbidden");
    expect(
      (await call(`/v1/organizations/${orgId}/invitations/${rid}`, { method: "DELETE", token: member.sessionToken }))
        .status,
    ).toBe(403);
    const revoked = await call(`/v1/organizations/${orgId}/invitations/${rid}`, {
      method: "DELETE",
      token: admin.sessionToken,
    });
    expect(revoked.status).toBe(204);
    const refused = await accept(auth().url, invitee.sessionToken, revoking.body.token as string);
    expect(refused.status).toBe(410);
    expect(refused.body.message).toMatch(/revoked/);
    const all = await call(`/v1/organizations/${orgId}/invitations?all=true`, { token: owner.sessionToken });
    // Everything, with its status: the two joins above, the expired and the revoked one.
    expect((all.body.invitations as { status: string }[]).map((i) => i.status).sort()).toEqual([
      "accepted",
      "accepted",
      "expired",
      "revoked",
    ]);

    // An owner's invitation of an owner: an admin may not revoke it.
    const ownerInv = await invite(auth().url, owner.sessionToken, orgId, "next-owner@example.org", "owner");
    const oid = (ownerInv.body.invitation as { id: string }).id;
    const adminRevoke = await call(`/v1/organizations/${orgId}/invitations/${oid}`, {
      method: "DELETE",
      token: admin.sessionToken,
    });
    expect(adminRevoke.status).toBe(403);

    for (const bad of ["", "inv_x", `inv_${"0".repeat(32)}${"A".repeat(43)}`]) {
      const r = await accept(auth().url, invitee.sessionToken, bad);
      expect([400, 404], bad).toContain(r.status);
    }
    expect((await call("/v1/organizations", { token: invitee.sessionToken })).body.organizations).toEqual([]);
  });

  it("the default organization is one the user joined: not changed by a pending invitation, and their own after they create it", async () => {
    const attacker = await onboarded("default-attacker", "Attacker Co");
    const victim = await newUser("default-victim");
    await verifyEmail(stack().kratosAdmin, victim.identityId, victim.email);
    // Invited, not accepted: the victim's tokens have no organization, and their own comes first once created.
    await invite(auth().url, attacker.owner.sessionToken, attacker.orgId, victim.email, "admin");
    expect((await claims(await token(victim))).org).toBeUndefined();
    const own = await call("/v1/onboarding", { token: victim.sessionToken, json: { name: "Victim Co" } });
    const ownId = (own.body.organization as { id: string }).id;
    expect((await claims(await token(victim))).org).toBe(ownId);
    // Through the gateway's path too: the default comes from the same exchange (no organization asked for).
    const anotherPending = await invite(auth().url, attacker.owner.sessionToken, attacker.orgId, victim.email, "owner");
    expect(anotherPending.status).toBe(201);
    expect((await claims(await token(victim))).org).toBe(ownId);
    expect((await claims(await token(victim))).role).toBe("owner");

    // Accepting is joining: the accepted organization becomes the default; choosing switches back.
    const accepted = await accept(auth().url, victim.sessionToken, anotherPending.body.token as string);
    expect(accepted.status).toBe(200);
    expect((await claims(await token(victim))).org).toBe(attacker.orgId);
    const chose = await call("/v1/me/default-organization", {
      token: victim.sessionToken,
      json: { organization_id: ownId },
    });
    expect(chose.status).toBe(204);
    expect((await claims(await token(victim))).org).toBe(ownId);
    const foreign = await onboarded("default-foreign");
    const notMine = await call("/v1/me/default-organization", {
      token: victim.sessionToken,
      json: { organization_id: foreign.orgId },
    });
    expect(notMine.status).toBe(404);
  });

  it("the token is never logged, and its address is never looked up", async () => {
    const lines: string[] = [];
    let svc: Running | undefined;
    try {
      svc = await startAuthService({ LOG_LEVEL: "debug" }, { logLines: lines });
      const base = svc.url;
      const { owner, orgId } = await onboarded("log-owner", "Log Co", base);
      const invitee = await newUser("log-invitee");
      await verifyEmail(stack().kratosAdmin, invitee.identityId, invitee.email);
      const created = await invite(base, owner.sessionToken, orgId, invitee.email, "member");
      expect(created.status).toBe(201);
      const t = created.body.token as string;
      expect((await accept(base, invitee.sessionToken, `${t.slice(0, -1)}!`)).status).toBe(400);
      expect((await accept(base, invitee.sessionToken, t)).status).toBe(200);
      expect((await accept(base, invitee.sessionToken, t)).status).toBe(410);
      await new Promise((r) => setTimeout(r, 1_200)); // the batched logger flushes at least once a second
      expect(lines.length).toBeGreaterThan(0);
      const secret = t.slice(4 + 32);
      for (const line of lines) expect(line).not.toContain(secret);
    } finally {
      await svc?.stop();
    }
  });
});

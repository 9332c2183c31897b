import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { verifyEmail } from "../../../test/support/invitations.ts";
import { stack } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, joinOrg, newUser, token } from "./support.ts";

const claims = async (jwt: string) =>
  (
    await jwtVerify(jwt, createRemoteJWKSet(new URL(`${auth().url}/.well-known/jwks.json`)), {
      issuer: auth().url,
      audience: "gatehouse",
    })
  ).payload;

describe("organization plan and audit log", () => {
  it("an owner changes the plan; every member's next token carries it; admins and members may not", async () => {
    const owner = await newUser("plan-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Plan Co", plan: "starter" } })).body
        .organization as { id: string }
    ).id;
    const admin = await newUser("plan-admin");
    await joinOrg(owner, orgId, admin, "admin");
    expect((await claims(await token(admin))).plan).toBe("starter");

    const refused = await call(`/v1/organizations/${orgId}`, {
      method: "PATCH",
      token: admin.sessionToken,
      json: { plan: "enterprise" },
    });
    expect(refused.status).toBe(403);
    expectErrorShape(refused.body, "forbidden");

    const changed = await call(`/v1/organizations/${orgId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { plan: "enterprise" },
    });
    expect(changed.status).toBe(200);
    expect((changed.body.organization as { plan: string }).plan).toBe("enterprise");
    expect((await claims(await token(admin))).plan).toBe("enterprise");
    expect((await claims(await token(owner))).plan).toBe("enterprise");

    const bad = await call(`/v1/organizations/${orgId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { plan: "platinum" },
    });
    expect(bad.status).toBe(400);
  });

  it("every change to members and plan is in the audit log, with who and which request; members cannot read it", async () => {
    const owner = await newUser("audit-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Audit Co" } })).body.organization as {
        id: string;
      }
    ).id;
    const member = await newUser("audit-member");
    const invited = await call(`/v1/organizations/${orgId}/invitations`, {
      token: owner.sessionToken,
      json: { email: member.email, role: "member" },
      headers: { "x-request-id": "req-invite-1" },
    });
    await verifyEmail(stack().kratosAdmin, member.identityId, member.email);
    await call("/v1/invitations/accept", {
      token: member.sessionToken,
      json: { token: invited.body.token },
      headers: { "x-request-id": "req-accept-1" },
    });
    await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "admin" },
    });
    await call(`/v1/organizations/${orgId}`, { method: "PATCH", token: owner.sessionToken, json: { plan: "pro" } });

    const log = await call(`/v1/organizations/${orgId}/audit?limit=20`, { token: owner.sessionToken });
    expect(log.status).toBe(200);
    const entries = log.body.entries as {
      action: string;
      actor: string;
      requestId: string | null;
      before: unknown;
      after: unknown;
    }[];
    const actions = entries.map((e) => e.action);
    for (const a of [
      "invitation.created",
      "invitation.accepted",
      "membership.added",
      "membership.role_changed",
      "organization.plan_changed",
    ])
      expect(actions).toContain(a);
    // The invitation is the inviter's doing; the membership is the invitee's own.
    expect(entries.find((e) => e.requestId === "req-invite-1")?.actor).toBe(owner.identityId);
    const added = entries.find((e) => e.requestId === "req-accept-1" && e.action === "membership.added");
    expect(added?.actor).toBe(member.identityId);
    expect(JSON.stringify(entries)).not.toMatch(/sk_|inv_|hash|private/i);

    await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { role: "member" },
    });
    expect((await call(`/v1/organizations/${orgId}/audit`, { token: member.sessionToken })).status).toBe(403);
    expect((await call(`/v1/organizations/${orgId}/audit?limit=9999`, { token: owner.sessionToken })).status).toBe(400);
  });

  it("owners and admins rename, audited; members may not; a too-long name is a 400 naming the field; owners delete", async () => {
    const owner = await newUser("rename-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Old Name" } })).body.organization as {
        id: string;
      }
    ).id;
    const admin = await newUser("rename-admin");
    const member = await newUser("rename-member");
    await joinOrg(owner, orgId, admin, "admin");
    await joinOrg(owner, orgId, member, "member");
    const patch = (who: { sessionToken: string }, json: unknown) =>
      call(`/v1/organizations/${orgId}`, { method: "PATCH", token: who.sessionToken, json });

    const renamed = await patch(admin, { name: "  New Name  " });
    expect(renamed.status).toBe(200);
    expect((renamed.body.organization as { name: string }).name).toBe("New Name");
    const listed = await call("/v1/organizations", { token: member.sessionToken });
    expect((listed.body.organizations as { name: string }[]).map((o) => o.name)).toContain("New Name");

    const refused = await patch(member, { name: "Mine" });
    expect(refused.status).toBe(403);
    expectErrorShape(refused.body, "forbidden");
    // An admin may rename but not change the plan: a request doing both changes nothing.
    expect((await patch(admin, { name: "Both", plan: "enterprise" })).status).toBe(403);

    const long = await patch(owner, { name: "x".repeat(201) });
    expect(long.status).toBe(400);
    expectErrorShape(long.body, "bad_request");
    expect(long.body.message).toMatch(/^name: .*200/);
    expect((await patch(owner, {})).status).toBe(400);
    expect((await patch(owner, { name: "" })).status).toBe(400);
    expect((await patch(owner, { name: "x", color: "red" })).status).toBe(400);

    const log = await call(`/v1/organizations/${orgId}/audit?limit=50`, { token: owner.sessionToken });
    const entry = (log.body.entries as { action: string; actor: string; before: unknown; after: unknown }[]).find(
      (e) => e.action === "organization.renamed",
    );
    expect(entry).toMatchObject({ actor: admin.identityId, before: { name: "Old Name" }, after: { name: "New Name" } });
    expect((log.body.entries as { action: string }[]).filter((e) => e.action === "organization.renamed")).toHaveLength(
      1,
    );

    // Filters: by kind of action and by who did it.
    const kinds = await call(`/v1/organizations/${orgId}/audit?action=organization`, { token: owner.sessionToken });
    const kindActions = (kinds.body.entries as { action: string }[]).map((e) => e.action);
    expect(kindActions).toContain("organization.renamed");
    expect(kindActions.every((a) => a.startsWith("organization."))).toBe(true);
    const byAdmin = await call(`/v1/organizations/${orgId}/audit?actor=${admin.identityId}`, {
      token: owner.sessionToken,
    });
    const actors = (byAdmin.body.entries as { actor: string }[]).map((e) => e.actor);
    expect(actors.length).toBeGreaterThan(0);
    expect(new Set(actors)).toEqual(new Set([admin.identityId]));
    const badKind = await call(`/v1/organizations/${orgId}/audit?action=member%25`, { token: owner.sessionToken });
    expect(badKind.status).toBe(400);
    expectErrorShape(badKind.body, "bad_request");

    const del = (who: { sessionToken: string }) =>
      call(`/v1/organizations/${orgId}`, { method: "DELETE", token: who.sessionToken });
    expect((await del(admin)).status).toBe(403);
    expect((await del(owner)).status).toBe(204);
    const after = await call("/v1/organizations", { token: member.sessionToken });
    expect((after.body.organizations as { organizationId: string }[]).map((o) => o.organizationId)).not.toContain(
      orgId,
    );
  });
});

// Debian's python3 with python3-jwt (scripts/bootstrap.sh installs it), not a pyenv shim.
const PYTHON = process.env.GATEHOUSE_PYTHON ?? "/usr/bin/python3";

describe("discovery metadata", () => {
  it("names the issuer tokens carry, a JWKS that verifies them, the token endpoint and typ at+jwt", async () => {
    const meta = await call("/.well-known/oauth-authorization-server");
    expect(meta.status).toBe(200);
    const m = meta.body as { issuer: string; jwks_uri: string; token_endpoint: string; access_token_typ: string };
    expect(m.access_token_typ).toBe("at+jwt");
    const owner = await newUser("discovery");
    await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Discovery Co" } });
    const jwt = await token(owner);
    // What a verifier in another language does: everything from the metadata alone.
    const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(m.jwks_uri)), {
      issuer: m.issuer,
      audience: "gatehouse",
      typ: m.access_token_typ,
    });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload.iss).toBe(m.issuer);
    expect(new URL(m.token_endpoint).pathname).toBe("/v1/token");

    // The documented Python verifier (docs/verifying-tokens.md), as a newcomer runs it.
    const script = resolve(import.meta.dirname, "../../../docs/examples/verify_token.py");
    const url = `${auth().url}/.well-known/oauth-authorization-server`;
    const ok = spawnSync(PYTHON, [script, url, "gatehouse", jwt], { encoding: "utf8", timeout: 30_000 });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).sub).toBe(payload.sub);
    const wrongAudience = spawnSync(PYTHON, [script, url, "someone-else", jwt], { encoding: "utf8", timeout: 30_000 });
    expect(wrongAudience.status).toBe(1);
    expect(wrongAudience.stderr).toMatch(/refused: .*audience/i);
  });
});

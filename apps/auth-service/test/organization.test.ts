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
});

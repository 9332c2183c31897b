import { createHash } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { OPERATOR } from "../../src/domain/authz.ts";
import {
  acceptInvitation,
  createInvitation,
  type Invitee,
  listInvitations,
  revokeInvitation,
} from "../../src/domain/invitations.ts";
import { listMembers, listMembershipsForUser, removeMember } from "../../src/domain/memberships.ts";
import { loadPrincipalData } from "../../src/domain/principal.ts";
import { getUser } from "../../src/domain/users.ts";
import { auditRows, ctx, domainError, member, newOrg, newUser, useDb } from "./helpers.ts";

describe("invitations", () => {
  const ref = useDb();

  async function invitee(name = "invitee"): Promise<Invitee> {
    const identityId = await newUser(ref.db, name);
    const user = await getUser(ref.db, identityId);
    return { identityId, email: user?.email ?? "", emailVerified: true };
  }

  async function invite(orgId: string, ownerId: string, email: string, role: "owner" | "admin" | "member" = "member") {
    return createInvitation(ref.db, { orgId, email, role }, ctx(ownerId), member(ownerId));
  }

  it("returns the token once and stores, logs and audits only a hash of its secret", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx(ownerId);
    const { token, invitation } = await createInvitation(
      ref.db,
      { orgId, email: "  New.Person@Example.TEST ", role: "admin" },
      c,
      member(ownerId),
    );
    expect(token).toMatch(/^inv_[0-9a-f]{32}[A-Za-z0-9_-]{43}$/);
    expect(invitation).toMatchObject({ organizationId: orgId, email: "new.person@example.test", role: "admin" });
    expect(invitation).toMatchObject({ status: "pending", invitedBy: ownerId, acceptedAt: null, revokedAt: null });
    expect(invitation).not.toHaveProperty("secretHash");
    const days = (invitation.expiresAt.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const secret = token.slice(4 + 32);
    const row = await sql<{ row: string; secret_hash: string }>`
      select row_to_json(i)::text as row, i.secret_hash from invitations i where id = ${invitation.id}
    `.execute(ref.db);
    expect(row.rows[0]?.row).not.toContain(secret);
    expect(row.rows[0]?.secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    const leaks = await sql<{ n: number }>`
      select count(*)::int as n from audit_log a
       where strpos(row_to_json(a)::text, ${secret}) > 0 or strpos(row_to_json(a)::text, ${row.rows[0]?.secret_hash ?? "?"}) > 0
    `.execute(ref.db);
    expect(leaks.rows[0]?.n).toBe(0);
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => a.action)).toEqual(["invitation.created"]);
    expect(audit[0]?.after).toMatchObject({ email: "new.person@example.test", role: "admin" });
  });

  it("answers the same for an address with an account and one without", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const known = await invitee("known");
    const a = await invite(orgId, ownerId, known.email);
    const b = await invite(orgId, ownerId, "nobody-has-this@example.test");
    const shape = (x: typeof a) => ({
      ...x.invitation,
      id: "-",
      email: "-",
      expiresAt: "-",
      createdAt: "-",
      tokenLength: x.token.length,
    });
    expect(shape(a)).toEqual(shape(b));
  });

  it("the invitee, signed in with the verified address, becomes a member with the invited role; it is their default organization", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const who = await invitee();
    const { token, invitation } = await invite(orgId, ownerId, who.email.toUpperCase(), "admin");
    // Until accepted, nothing changes for the invitee.
    expect(await listMembershipsForUser(ref.db, who.identityId)).toEqual([]);
    const c = ctx(who.identityId);
    const out = await acceptInvitation(ref.db, token, who, c);
    expect(out.membership).toMatchObject({ organizationId: orgId, identityId: who.identityId, role: "admin" });
    expect(out.membership.joinedVia).toBe("invitation");
    expect(out.invitation).toMatchObject({ id: invitation.id, status: "accepted", acceptedBy: who.identityId });
    expect((await loadPrincipalData(ref.db, who.identityId)).active).toMatchObject({
      organizationId: orgId,
      role: "admin",
    });
    expect((await auditRows(ref.db, c.requestId)).map((a) => a.action)).toEqual([
      "membership.added",
      "invitation.accepted",
      "user.default_organization_changed",
    ]);
  });

  it("refuses another signed-in user, an unverified address, a tampered or malformed token", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const who = await invitee();
    const other = await invitee("other");
    const { token } = await invite(orgId, ownerId, who.email);

    const wrong = await domainError(acceptInvitation(ref.db, token, other, ctx()), "forbidden");
    expect(wrong.message).toMatch(/different email address/);
    expect(wrong.message).not.toContain(who.email);
    // The other user's claim to the address (their Kratos traits) is not enough unless it is theirs and verified.
    await domainError(
      acceptInvitation(ref.db, token, { ...other, email: who.email, emailVerified: false }, ctx()),
      "email_unverified",
    );
    await domainError(acceptInvitation(ref.db, token, { ...who, emailVerified: false }, ctx()), "email_unverified");

    const last = token.at(-1) === "A" ? "B" : "A";
    await domainError(acceptInvitation(ref.db, token.slice(0, -1) + last, who, ctx()), "not_found");
    const otherId = `inv_${"0".repeat(32)}${token.slice(36)}`;
    await domainError(acceptInvitation(ref.db, otherId, who, ctx()), "not_found");
    for (const bad of ["", "inv_", token.slice(0, -1), `${token}x`, "sk_abc"]) {
      await domainError(acceptInvitation(ref.db, bad, who, ctx()), "not_found");
    }
    expect(await listMembers(ref.db, orgId, OPERATOR)).toHaveLength(1);
    // Still pending: a failed attempt does not use it up.
    await acceptInvitation(ref.db, token, who, ctx());
  });

  it("is single use, and refuses expired and revoked invitations with gone", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const who = await invitee();
    const used = await invite(orgId, ownerId, who.email);
    await acceptInvitation(ref.db, used.token, who, ctx());
    expect((await domainError(acceptInvitation(ref.db, used.token, who, ctx()), "gone")).message).toMatch(/used/);
    // Used even after leaving: the way back in is a new invitation.
    await removeMember(ref.db, { orgId, identityId: who.identityId }, ctx(), member(who.identityId));
    await domainError(acceptInvitation(ref.db, used.token, who, ctx()), "gone");

    const expired = await invite(orgId, ownerId, who.email);
    await sql`update invitations set expires_at = created_at + interval '1 millisecond' where id = ${expired.invitation.id}`.execute(
      ref.db,
    );
    expect((await domainError(acceptInvitation(ref.db, expired.token, who, ctx()), "gone")).message).toMatch(/expired/);

    const revoked = await invite(orgId, ownerId, who.email);
    await revokeInvitation(ref.db, { orgId, id: revoked.invitation.id }, ctx(ownerId), member(ownerId));
    expect((await domainError(acceptInvitation(ref.db, revoked.token, who, ctx()), "gone")).message).toMatch(/revoked/);
    // An accepted invitation cannot be revoked afterwards.
    await domainError(
      revokeInvitation(ref.db, { orgId, id: used.invitation.id }, ctx(ownerId), member(ownerId)),
      "conflict",
    );

    const all = await listInvitations(ref.db, orgId, member(ownerId), { all: true });
    expect(all.map((i) => i.status).sort()).toEqual(["accepted", "expired", "revoked"]);
    expect(await listInvitations(ref.db, orgId, member(ownerId))).toEqual([]);
  });

  it("concurrent acceptances of one invitation: exactly one membership", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const who = await invitee();
    const { token } = await invite(orgId, ownerId, who.email);
    const results = await Promise.allSettled([1, 2, 3].map(() => acceptInvitation(ref.db, token, who, ctx())));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "gone" });
    expect((await listMembers(ref.db, orgId, OPERATOR)).map((m) => m.identityId)).toContain(who.identityId);
  });

  it("a member is not invited twice into the same organization", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const who = await invitee();
    const first = await invite(orgId, ownerId, who.email);
    const second = await invite(orgId, ownerId, who.email, "admin");
    await acceptInvitation(ref.db, first.token, who, ctx());
    await domainError(acceptInvitation(ref.db, second.token, who, ctx()), "conflict");
  });

  it("checks its input: addresses, roles, expiry within 30 days, a live organization", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const by = member(ownerId);
    for (const email of ["", "no-at-sign", "two words@example.test", `${"a".repeat(320)}@x.y`]) {
      await domainError(createInvitation(ref.db, { orgId, email, role: "member" }, ctx(), by), "invalid_input");
    }
    await domainError(
      createInvitation(ref.db, { orgId, email: "a@b.c", role: "boss" as "member" }, ctx(), by),
      "invalid_input",
    );
    await domainError(
      createInvitation(
        ref.db,
        { orgId, email: "a@b.c", role: "member", expiresAt: new Date(Date.now() - 1) },
        ctx(),
        by,
      ),
      "invalid_input",
    );
    await domainError(
      createInvitation(
        ref.db,
        { orgId, email: "a@b.c", role: "member", expiresAt: new Date(Date.now() + 31 * 86_400_000) },
        ctx(),
        by,
      ),
      "invalid_input",
    );
    const soon = await createInvitation(
      ref.db,
      { orgId, email: "a@b.c", role: "member", expiresAt: new Date(Date.now() + 3_600_000) },
      ctx(),
      by,
    );
    expect(soon.invitation.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });
});

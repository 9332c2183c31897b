import { randomUUID } from "node:crypto";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/schema.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { createInvitation } from "../../src/domain/invitations.ts";
import { addMember, chooseDefaultOrganization, removeMember } from "../../src/domain/memberships.ts";
import { onboard, softDeleteOrganization } from "../../src/domain/organizations.ts";
import { loadPrincipalData } from "../../src/domain/principal.ts";
import { addTeamMember, createTeam, softDeleteTeam } from "../../src/domain/teams.ts";
import { getUser, softDeleteUser } from "../../src/domain/users.ts";
import { ctx, databaseUrl, domainError, join, member, newOrg, newUser, useDb } from "./helpers.ts";

describe("loadPrincipalData", () => {
  const ref = useDb();

  /** A user who joined org `first`, then org `second` (where they are on two teams, one deleted). */
  async function fixture() {
    const first = await newOrg(ref.db);
    const second = await newOrg(ref.db);
    const stranger = await newOrg(ref.db);
    const userId = await newUser(ref.db, "principal");
    await join(ref.db, first.orgId, userId, "member");
    await join(ref.db, second.orgId, userId, "admin");
    const lead = await createTeam(ref.db, { orgId: second.orgId, name: "Leads" }, ctx(), OPERATOR);
    const gone = await createTeam(ref.db, { orgId: second.orgId, name: "Gone" }, ctx(), OPERATOR);
    await addTeamMember(
      ref.db,
      { orgId: second.orgId, teamId: lead.id, identityId: userId, role: "lead" },
      ctx(),
      OPERATOR,
    );
    await addTeamMember(
      ref.db,
      { orgId: second.orgId, teamId: gone.id, identityId: userId, role: "member" },
      ctx(),
      OPERATOR,
    );
    await softDeleteTeam(ref.db, { orgId: second.orgId, teamId: gone.id }, ctx(), OPERATOR);
    return { userId, first: first.orgId, second: second.orgId, stranger: stranger.orgId, leadTeam: lead.id };
  }

  it("defaults to the organization the user last joined themselves (accepting an invitation)", async () => {
    const f = await fixture();
    const data = await loadPrincipalData(ref.db, f.userId);
    expect(data.user).toMatchObject({ identityId: f.userId, signupTier: null });
    expect(data.user?.email).toMatch(/^principal-/);
    expect(data.memberships).toEqual([
      { organizationId: f.first, plan: "pro", role: "member" },
      { organizationId: f.second, plan: "pro", role: "admin" },
    ]);
    expect(data.active).toEqual({
      organizationId: f.second,
      plan: "pro",
      requireMfa: false,
      role: "admin",
      teams: [{ id: f.leadTeam, role: "lead" }],
    });
  });

  it("never defaults to an organization the user did not join themselves, even after they create their own", async () => {
    const victim = await newUser(ref.db, "victim");
    const attacker = await newOrg(ref.db);
    // Put there directly (how the old POST …/members worked; now an operator's tool only).
    await addMember(ref.db, { orgId: attacker.orgId, identityId: victim, role: "admin" }, ctx(), OPERATOR);
    let data = await loadPrincipalData(ref.db, victim);
    expect(data.memberships.map((m) => m.organizationId)).toEqual([attacker.orgId]);
    expect(data).not.toHaveProperty("active");
    const own = await onboard(ref.db, { identityId: victim, name: "Mine", plan: "starter" }, ctx(victim));
    expect(own.created).toBe(true);
    data = await loadPrincipalData(ref.db, victim);
    expect(data.active?.organizationId).toBe(own.organization.id);
    // Asked for by name, the membership still works (the user may use it, or leave it).
    expect((await loadPrincipalData(ref.db, victim, attacker.orgId)).active?.role).toBe("admin");
    // Choosing it is joining it: then it is the default.
    await chooseDefaultOrganization(ref.db, { identityId: victim, orgId: attacker.orgId }, ctx(victim));
    expect((await loadPrincipalData(ref.db, victim)).active?.organizationId).toBe(attacker.orgId);
    // Only among the user's own memberships.
    const elsewhere = await newOrg(ref.db);
    await domainError(
      chooseDefaultOrganization(ref.db, { identityId: victim, orgId: elsewhere.orgId }, ctx()),
      "not_found",
    );
  });

  it("an invitation not accepted changes nothing; leaving the default falls back to the oldest own membership", async () => {
    const userId = await newUser(ref.db, "chooser");
    const mine = await onboard(ref.db, { identityId: userId, name: "Mine", plan: "starter" }, ctx(userId));
    const other = await newOrg(ref.db);
    const user = await getUser(ref.db, userId);
    await createInvitation(ref.db, { orgId: other.orgId, email: user?.email ?? "", role: "owner" }, ctx(), OPERATOR);
    expect((await loadPrincipalData(ref.db, userId)).active?.organizationId).toBe(mine.organization.id);
    await join(ref.db, other.orgId, userId, "member");
    expect((await loadPrincipalData(ref.db, userId)).active?.organizationId).toBe(other.orgId);
    await removeMember(ref.db, { orgId: other.orgId, identityId: userId }, ctx(), member(userId));
    expect((await loadPrincipalData(ref.db, userId)).active?.organizationId).toBe(mine.organization.id);
  });

  it("uses the organization asked for, with the user's live teams in it", async () => {
    const f = await fixture();
    const data = await loadPrincipalData(ref.db, f.userId, f.second);
    expect(data.active).toEqual({
      organizationId: f.second,
      plan: "pro",
      requireMfa: false,
      role: "admin",
      teams: [{ id: f.leadTeam, role: "lead" }],
    });
  });

  it("refuses an organization the user is not a member of (no active membership)", async () => {
    const f = await fixture();
    const data = await loadPrincipalData(ref.db, f.userId, f.stranger);
    expect(data.active).toBeUndefined();
    expect(data.memberships).toHaveLength(2);
    expect((await loadPrincipalData(ref.db, f.userId, randomUUID())).active).toBeUndefined();
    await domainError(loadPrincipalData(ref.db, f.userId, "not-a-uuid"), "invalid_input");
  });

  it("drops deleted organizations, and fails closed for unknown or deleted users", async () => {
    const f = await fixture();
    await softDeleteOrganization(ref.db, f.first, ctx(), OPERATOR);
    const data = await loadPrincipalData(ref.db, f.userId);
    expect(data.memberships.map((m) => m.organizationId)).toEqual([f.second]);
    expect(data.active?.organizationId).toBe(f.second);
    // Deleting the default organization falls back to the next one the user joined.
    const g = await fixture();
    await softDeleteOrganization(ref.db, g.second, ctx(), OPERATOR);
    expect((await loadPrincipalData(ref.db, g.userId)).active?.organizationId).toBe(g.first);
    expect((await loadPrincipalData(ref.db, f.userId, f.first)).active).toBeUndefined();

    expect(await loadPrincipalData(ref.db, randomUUID())).toEqual({ user: undefined, memberships: [] });
    await softDeleteUser(ref.db, f.userId, ctx());
    expect(await loadPrincipalData(ref.db, f.userId, f.second)).toEqual({ user: undefined, memberships: [] });
  });

  it("a user without organizations gets no active membership", async () => {
    const userId = await newUser(ref.db);
    const data = await loadPrincipalData(ref.db, userId);
    expect(data.user?.identityId).toBe(userId);
    expect(data).not.toHaveProperty("active");
    expect(data.memberships).toEqual([]);
  });

  it("costs one round trip", async () => {
    const f = await fixture();
    let queries = 0;
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const counting = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: () => {
        queries++;
      },
    });
    try {
      const data = await loadPrincipalData(counting, f.userId, f.second);
      expect(data.active?.teams).toHaveLength(1);
      expect(queries).toBe(1);
    } finally {
      await counting.destroy();
    }
  });
});

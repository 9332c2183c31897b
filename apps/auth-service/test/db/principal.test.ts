import { randomUUID } from "node:crypto";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/schema.ts";
import { addMember } from "../../src/domain/memberships.ts";
import { softDeleteOrganization } from "../../src/domain/organizations.ts";
import { loadPrincipalData } from "../../src/domain/principal.ts";
import { addTeamMember, createTeam, softDeleteTeam } from "../../src/domain/teams.ts";
import { softDeleteUser } from "../../src/domain/users.ts";
import { ctx, databaseUrl, domainError, newOrg, newUser, useDb } from "./helpers.ts";

describe("loadPrincipalData", () => {
  const ref = useDb();

  /** A user who joined org `first`, then org `second` (where they are on two teams, one deleted). */
  async function fixture() {
    const first = await newOrg(ref.db);
    const second = await newOrg(ref.db);
    const stranger = await newOrg(ref.db);
    const userId = await newUser(ref.db, "principal");
    await addMember(ref.db, { orgId: first.orgId, identityId: userId, role: "member" }, ctx());
    await addMember(ref.db, { orgId: second.orgId, identityId: userId, role: "admin" }, ctx());
    const lead = await createTeam(ref.db, { orgId: second.orgId, name: "Leads" }, ctx());
    const gone = await createTeam(ref.db, { orgId: second.orgId, name: "Gone" }, ctx());
    await addTeamMember(ref.db, { orgId: second.orgId, teamId: lead.id, identityId: userId, role: "lead" }, ctx());
    await addTeamMember(ref.db, { orgId: second.orgId, teamId: gone.id, identityId: userId, role: "member" }, ctx());
    await softDeleteTeam(ref.db, { orgId: second.orgId, teamId: gone.id }, ctx());
    return { userId, first: first.orgId, second: second.orgId, stranger: stranger.orgId, leadTeam: lead.id };
  }

  it("defaults to the first membership by creation time", async () => {
    const f = await fixture();
    const data = await loadPrincipalData(ref.db, f.userId);
    expect(data.user).toMatchObject({ identityId: f.userId, signupTier: null });
    expect(data.user?.email).toMatch(/^principal-/);
    expect(data.memberships).toEqual([
      { organizationId: f.first, plan: "pro", role: "member" },
      { organizationId: f.second, plan: "pro", role: "admin" },
    ]);
    expect(data.active).toEqual({ organizationId: f.first, plan: "pro", role: "member", teams: [] });
  });

  it("uses the organization asked for, with the user's live teams in it", async () => {
    const f = await fixture();
    const data = await loadPrincipalData(ref.db, f.userId, f.second);
    expect(data.active).toEqual({
      organizationId: f.second,
      plan: "pro",
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
    await softDeleteOrganization(ref.db, f.first, ctx());
    const data = await loadPrincipalData(ref.db, f.userId);
    expect(data.memberships.map((m) => m.organizationId)).toEqual([f.second]);
    expect(data.active?.organizationId).toBe(f.second);
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

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { OPERATOR } from "../../src/domain/authz.ts";
import { addMember } from "../../src/domain/memberships.ts";
import { inTransaction } from "../../src/domain/support.ts";
import {
  addTeamMember,
  createTeam,
  listTeamMembers,
  listTeams,
  removeTeamMember,
  renameTeam,
  setTeamRole,
  softDeleteTeam,
} from "../../src/domain/teams.ts";
import { auditRows, ctx, domainError, newOrg, newUser, useDb } from "./helpers.ts";

describe("teams", () => {
  const ref = useDb();

  it("creates, renames and deletes teams, auditing each step", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx(ownerId);
    const team = await createTeam(ref.db, { orgId, name: "Platform" }, c, OPERATOR);
    const renamed = await renameTeam(ref.db, { orgId, teamId: team.id, name: "Infra" }, c, OPERATOR);
    expect(renamed.name).toBe("Infra");
    expect((await listTeams(ref.db, orgId, OPERATOR)).map((t) => t.name)).toEqual(["Infra"]);
    await softDeleteTeam(ref.db, { orgId, teamId: team.id }, c, OPERATOR);
    expect(await listTeams(ref.db, orgId, OPERATOR)).toEqual([]);
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => a.action)).toEqual(["team.created", "team.renamed", "team.deleted"]);
    expect(audit.every((a) => a.actor === ownerId && a.target_id === team.id)).toBe(true);
  });

  it("team names are unique per organization (ignoring case) among live teams", async () => {
    const { orgId } = await newOrg(ref.db);
    const other = await newOrg(ref.db);
    const design = await createTeam(ref.db, { orgId, name: "Design" }, ctx(), OPERATOR);
    await domainError(createTeam(ref.db, { orgId, name: "design" }, ctx(), OPERATOR), "conflict");
    await createTeam(ref.db, { orgId: other.orgId, name: "Design" }, ctx(), OPERATOR);
    const qa = await createTeam(ref.db, { orgId, name: "QA" }, ctx(), OPERATOR);
    await domainError(renameTeam(ref.db, { orgId, teamId: qa.id, name: "DESIGN" }, ctx(), OPERATOR), "conflict");
    await softDeleteTeam(ref.db, { orgId, teamId: design.id }, ctx(), OPERATOR);
    await createTeam(ref.db, { orgId, name: "Design" }, ctx(), OPERATOR);
  });

  it("only live members of the organization can join a team", async () => {
    const { orgId } = await newOrg(ref.db);
    const team = await createTeam(ref.db, { orgId, name: "Core" }, ctx(), OPERATOR);
    const outsider = await newUser(ref.db, "outsider");
    const err = await domainError(
      addTeamMember(ref.db, { orgId, teamId: team.id, identityId: outsider, role: "member" }, ctx(), OPERATOR),
      "invalid_input",
    );
    expect(err.message).toMatch(/members of the organization/);

    // The database enforces it too, for writes that bypass the repository.
    await domainError(
      inTransaction(ref.db, async (trx) => {
        await trx
          .insertInto("team_memberships")
          .values({ team_id: team.id, identity_id: outsider, role: "member" })
          .execute();
      }),
      "invalid_input",
    );

    await addMember(ref.db, { orgId, identityId: outsider, role: "member" }, ctx(), OPERATOR);
    const tm = await addTeamMember(
      ref.db,
      { orgId, teamId: team.id, identityId: outsider, role: "member" },
      ctx(),
      OPERATOR,
    );
    expect(tm).toMatchObject({ teamId: team.id, identityId: outsider, role: "member" });
    await domainError(
      addTeamMember(ref.db, { orgId, teamId: team.id, identityId: outsider, role: "lead" }, ctx(), OPERATOR),
      "conflict",
    );
  });

  it("sets team roles and removes team members", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const team = await createTeam(ref.db, { orgId, name: "Growth" }, ctx(), OPERATOR);
    const userId = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(), OPERATOR);
    const c = ctx(ownerId);
    await addTeamMember(ref.db, { orgId, teamId: team.id, identityId: userId, role: "member" }, c, OPERATOR);
    await addTeamMember(ref.db, { orgId, teamId: team.id, identityId: ownerId, role: "member" }, c, OPERATOR);
    await setTeamRole(ref.db, { orgId, teamId: team.id, identityId: userId, role: "lead" }, c, OPERATOR);
    const members = await listTeamMembers(ref.db, { orgId, teamId: team.id }, OPERATOR);
    expect(members.map((m) => [m.identityId, m.role])).toEqual([
      [userId, "lead"],
      [ownerId, "member"],
    ]);
    expect(members[0]?.email).toMatch(/@example\.test$/);
    await removeTeamMember(ref.db, { orgId, teamId: team.id, identityId: userId }, c, OPERATOR);
    await domainError(
      removeTeamMember(ref.db, { orgId, teamId: team.id, identityId: userId }, c, OPERATOR),
      "not_found",
    );
    await domainError(
      setTeamRole(ref.db, { orgId, teamId: team.id, identityId: userId, role: "member" }, c, OPERATOR),
      "not_found",
    );
    expect((await auditRows(ref.db, c.requestId)).map((a) => a.action)).toEqual([
      "team.member_added",
      "team.member_added",
      "team.member_role_changed",
      "team.member_removed",
    ]);
  });

  it("a team is only reachable through its own organization", async () => {
    const a = await newOrg(ref.db);
    const b = await newOrg(ref.db);
    const team = await createTeam(ref.db, { orgId: b.orgId, name: "Secret" }, ctx(), OPERATOR);
    await domainError(
      renameTeam(ref.db, { orgId: a.orgId, teamId: team.id, name: "Mine" }, ctx(), OPERATOR),
      "not_found",
    );
    await domainError(softDeleteTeam(ref.db, { orgId: a.orgId, teamId: team.id }, ctx(), OPERATOR), "not_found");
    await domainError(
      addTeamMember(ref.db, { orgId: a.orgId, teamId: team.id, identityId: a.ownerId, role: "lead" }, ctx(), OPERATOR),
      "not_found",
    );
    expect(await listTeamMembers(ref.db, { orgId: a.orgId, teamId: team.id }, OPERATOR)).toEqual([]);
    await domainError(createTeam(ref.db, { orgId: randomUUID(), name: "Ghost" }, ctx(), OPERATOR), "not_found");
    await domainError(createTeam(ref.db, { orgId: a.orgId, name: "" }, ctx(), OPERATOR), "invalid_input");
  });
});

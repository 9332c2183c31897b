import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { Database, OrgRole } from "../../src/db/schema.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { mapPgError } from "../../src/domain/errors.ts";
import {
  addMember,
  changeRole,
  listMembers,
  listMembershipsForUser,
  removeMember,
} from "../../src/domain/memberships.ts";
import { onboard } from "../../src/domain/organizations.ts";
import { inTransaction } from "../../src/domain/support.ts";
import { addTeamMember, createTeam, listTeams } from "../../src/domain/teams.ts";
import { auditRows, ctx, domainError, newOrg, newUser, useDb } from "./helpers.ts";

describe("memberships", () => {
  const ref = useDb();

  async function owners(orgId: string): Promise<string[]> {
    return (await listMembers(ref.db, orgId, OPERATOR)).filter((m) => m.role === "owner").map((m) => m.identityId);
  }

  it("adds, changes and removes members, each with an audit row carrying actor and request id", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const userId = await newUser(ref.db, "bob");
    const c = ctx(ownerId);
    const m = await addMember(ref.db, { orgId, identityId: userId, role: "member" }, c, OPERATOR);
    expect(m).toMatchObject({ organizationId: orgId, identityId: userId, role: "member" });
    await changeRole(ref.db, { orgId, identityId: userId, role: "admin" }, c, OPERATOR);
    await removeMember(ref.db, { orgId, identityId: userId }, c, OPERATOR);
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => a.action)).toEqual(["membership.added", "membership.role_changed", "membership.removed"]);
    for (const row of audit) {
      expect(row).toMatchObject({ actor: ownerId, request_id: c.requestId, organization_id: orgId, target_id: m.id });
    }
    expect(audit[1]).toMatchObject({ before: { role: "member" }, after: { role: "admin" } });
    expect(await listMembers(ref.db, orgId, OPERATOR)).toHaveLength(1);
  });

  it("lists members with their email, and a user's organizations in the order they joined", async () => {
    const a = await newOrg(ref.db);
    const b = await newOrg(ref.db);
    const userId = await newUser(ref.db, "carol");
    await addMember(ref.db, { orgId: b.orgId, identityId: userId, role: "admin" }, ctx(), OPERATOR);
    await addMember(ref.db, { orgId: a.orgId, identityId: userId, role: "member" }, ctx(), OPERATOR);
    const members = await listMembers(ref.db, b.orgId, OPERATOR);
    expect(members.map((m) => m.role)).toEqual(["owner", "admin"]);
    expect(members[1]?.email).toMatch(/^carol-.*@example\.test$/);
    expect(await listMembershipsForUser(ref.db, userId)).toEqual([
      { organizationId: b.orgId, name: expect.any(String), plan: "pro", role: "admin" },
      { organizationId: a.orgId, name: expect.any(String), plan: "pro", role: "member" },
    ]);
  });

  it("the last owner can be neither removed nor demoted, and the organization keeps its owner", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx();
    await domainError(removeMember(ref.db, { orgId, identityId: ownerId }, c, OPERATOR), "last_owner");
    for (const role of ["admin", "member"] as OrgRole[]) {
      await domainError(changeRole(ref.db, { orgId, identityId: ownerId, role }, c, OPERATOR), "last_owner");
    }
    expect(await owners(orgId)).toEqual([ownerId]);
    // Nothing of the failed attempts was written, audit rows included.
    expect(await auditRows(ref.db, c.requestId)).toEqual([]);
  });

  it("the database itself refuses to delete the last owner's row", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    await domainError(
      inTransaction(ref.db, async (trx) => {
        await trx.deleteFrom("memberships").where("organization_id", "=", orgId).execute();
      }),
      "last_owner",
    );
    await domainError(
      inTransaction(ref.db, async (trx) => {
        await sql`update memberships set deleted_at = now() where organization_id = ${orgId}`.execute(trx);
      }),
      "last_owner",
    );
    expect(await owners(orgId)).toEqual([ownerId]);
  });

  it("with a second owner, the first can be demoted or removed", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const second = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: second, role: "owner" }, ctx(), OPERATOR);
    await changeRole(ref.db, { orgId, identityId: ownerId, role: "admin" }, ctx(), OPERATOR);
    expect(await owners(orgId)).toEqual([second]);
    await removeMember(ref.db, { orgId, identityId: ownerId }, ctx(), OPERATOR);
    await domainError(removeMember(ref.db, { orgId, identityId: second }, ctx(), OPERATOR), "last_owner");
  });

  it("owners can be swapped in one transaction, demoting first", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const heir = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: heir, role: "member" }, ctx(), OPERATOR);
    const c = ctx(ownerId);
    await ref.db.transaction().execute(async (trx) => {
      // Between these two statements the organization has no owner; the check is deferred to COMMIT.
      await changeRole(trx, { orgId, identityId: ownerId, role: "admin" }, c, OPERATOR);
      await changeRole(trx, { orgId, identityId: heir, role: "owner" }, c, OPERATOR);
    });
    expect(await owners(orgId)).toEqual([heir]);
    expect((await auditRows(ref.db, c.requestId)).map((a) => a.action)).toEqual([
      "membership.role_changed",
      "membership.role_changed",
    ]);
  });

  it("two owners removing each other at the same time cannot leave the organization ownerless", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const second = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: second, role: "owner" }, ctx(), OPERATOR);
    const results = await Promise.allSettled([
      removeMember(ref.db, { orgId, identityId: ownerId }, ctx(), OPERATOR),
      removeMember(ref.db, { orgId, identityId: second }, ctx(), OPERATOR),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.status === "rejected" && rejected.reason).toMatchObject({ code: "last_owner" });
    expect(await owners(orgId)).toHaveLength(1);
  });

  it("the owner check serializes racing transactions: the second remover waits and then fails", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const second = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: second, role: "owner" }, ctx(), OPERATOR);
    const removeAndCheck = (identityId: string) => async (trx: Kysely<Database>) => {
      await sql`update memberships set deleted_at = now()
                 where organization_id = ${orgId} and identity_id = ${identityId} and deleted_at is null`.execute(trx);
      // Run the deferred check now rather than at COMMIT, to control the interleaving.
      await sql`set constraints memberships_last_owner immediate`.execute(trx);
    };
    const a = await ref.db.startTransaction().execute();
    const b = await ref.db.startTransaction().execute();
    try {
      await removeAndCheck(ownerId)(a); // passes: `second` is still an owner; holds the organization row
      const bDone = removeAndCheck(second)(b).then(
        () => "passed",
        (e: unknown) => mapPgError(e),
      );
      // b's check is blocked on a's lock, so it has not seen a's change yet and cannot pass on stale data.
      const early = await Promise.race([bDone, new Promise((r) => setTimeout(() => r("waiting"), 300))]);
      expect(early).toBe("waiting");
      await a.commit().execute();
      expect(await bDone).toMatchObject({ code: "last_owner" });
    } finally {
      await b.rollback().execute();
    }
    expect(await owners(orgId)).toEqual([second]);
  });

  it("a duplicate live membership is a conflict; re-adding after removal works", async () => {
    const { orgId } = await newOrg(ref.db);
    const userId = await newUser(ref.db);
    const first = await addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(), OPERATOR);
    await domainError(addMember(ref.db, { orgId, identityId: userId, role: "admin" }, ctx(), OPERATOR), "conflict");
    await removeMember(ref.db, { orgId, identityId: userId }, ctx(), OPERATOR);
    await domainError(removeMember(ref.db, { orgId, identityId: userId }, ctx(), OPERATOR), "not_found");
    const again = await addMember(ref.db, { orgId, identityId: userId, role: "admin" }, ctx(), OPERATOR);
    expect(again.id).not.toBe(first.id);
    expect(again.role).toBe("admin");
  });

  it("concurrent adds of the same member: one wins, the other is a conflict", async () => {
    const { orgId } = await newOrg(ref.db);
    const userId = await newUser(ref.db);
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(), OPERATOR)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "conflict" });
  });

  it("unknown users and organizations are not_found; bad ids are invalid_input", async () => {
    const { orgId } = await newOrg(ref.db);
    await domainError(
      addMember(ref.db, { orgId, identityId: randomUUID(), role: "member" }, ctx(), OPERATOR),
      "not_found",
    );
    const userId = await newUser(ref.db);
    await domainError(
      addMember(ref.db, { orgId: randomUUID(), identityId: userId, role: "member" }, ctx(), OPERATOR),
      "not_found",
    );
    await domainError(
      addMember(ref.db, { orgId: "x", identityId: userId, role: "member" }, ctx(), OPERATOR),
      "invalid_input",
    );
    await domainError(
      addMember(ref.db, { orgId, identityId: userId, role: "superuser" as OrgRole }, ctx(), OPERATOR),
      "invalid_input",
    );
    await domainError(changeRole(ref.db, { orgId, identityId: userId, role: "admin" }, ctx(), OPERATOR), "not_found");
    await domainError(listMembers(ref.db, "'; drop table users; --", OPERATOR), "invalid_input");
  });

  it("removing a member also takes them off the organization's teams", async () => {
    const { orgId } = await newOrg(ref.db);
    const userId = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(), OPERATOR);
    const team = await createTeam(ref.db, { orgId, name: "Ops" }, ctx(), OPERATOR);
    await addTeamMember(ref.db, { orgId, teamId: team.id, identityId: userId, role: "lead" }, ctx(), OPERATOR);
    expect((await listTeams(ref.db, orgId, OPERATOR))[0]?.memberCount).toBe(1);
    await removeMember(ref.db, { orgId, identityId: userId }, ctx(), OPERATOR);
    expect((await listTeams(ref.db, orgId, OPERATOR))[0]?.memberCount).toBe(0);
  });

  it("a user can belong to several organizations, owning one of them", async () => {
    const userId = await newUser(ref.db);
    const { orgId } = await newOrg(ref.db);
    await addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(), OPERATOR);
    const own = await onboard(ref.db, { identityId: userId, name: "Mine", plan: "starter" }, ctx());
    expect(own.created).toBe(true);
    expect((await listMembershipsForUser(ref.db, userId)).map((m) => m.role)).toEqual(["member", "owner"]);
  });
});

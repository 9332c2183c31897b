// Every function takes the organization id as well as the team id and matches both,
// and authorizes `by` in that organization (authz.ts: members read, owners and admins
// write), so a caller of org A cannot touch a team of org B by passing its id.
import { type Kysely, sql } from "kysely";
import { type Database, TEAM_ROLES, type TeamMembershipRow, type TeamRole, type TeamRow } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertOneOf, assertUuid, cleanName, inTransaction } from "./support.ts";

export interface Team {
  id: string;
  organizationId: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

function toTeam(row: TeamRow): Team {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface TeamMember {
  teamId: string;
  identityId: string;
  role: TeamRole;
  createdAt: Date;
  updatedAt: Date;
}

function toTeamMember(row: TeamMembershipRow): TeamMember {
  return {
    teamId: row.team_id,
    identityId: row.identity_id,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface TeamRef {
  orgId: string;
  teamId: string;
}

function teamRefOf(input: TeamRef): TeamRef {
  return { orgId: assertUuid(input.orgId, "orgId"), teamId: assertUuid(input.teamId, "teamId") };
}

async function lockLiveTeam(trx: Kysely<Database>, ref: TeamRef): Promise<TeamRow> {
  const row = await trx
    .selectFrom("teams as t")
    .innerJoin("organizations as o", "o.id", "t.organization_id")
    .selectAll("t")
    .where("t.id", "=", ref.teamId)
    .where("t.organization_id", "=", ref.orgId)
    .where("t.deleted_at", "is", null)
    .where("o.deleted_at", "is", null)
    .forUpdate("t")
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "team not found");
  return row;
}

/** Names are unique per organization, case-insensitively, among live teams (else conflict). */
export async function createTeam(
  db: Kysely<Database>,
  input: { orgId: string; name: string },
  ctx: AuditContext,
  by: Authority,
): Promise<Team> {
  assertAuditContext(ctx);
  const orgId = assertUuid(input.orgId, "orgId");
  const name = cleanName(input.name, "name");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, orgId, { kind: "team.write" });
    await requireLiveOrganization(trx, orgId);
    const row = await trx
      .insertInto("teams")
      .values({ organization_id: orgId, name })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "team.created",
      targetType: "team",
      targetId: row.id,
      organizationId: orgId,
      after: { name },
    });
    return toTeam(row);
  });
}

export async function renameTeam(
  db: Kysely<Database>,
  input: TeamRef & { name: string },
  ctx: AuditContext,
  by: Authority,
): Promise<Team> {
  assertAuditContext(ctx);
  const ref = teamRefOf(input);
  const name = cleanName(input.name, "name");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, ref.orgId, { kind: "team.write" });
    const current = await lockLiveTeam(trx, ref);
    if (current.name === name) return toTeam(current);
    const row = await trx
      .updateTable("teams")
      .set({ name })
      .where("id", "=", ref.teamId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "team.renamed",
      targetType: "team",
      targetId: ref.teamId,
      organizationId: ref.orgId,
      before: { name: current.name },
      after: { name },
    });
    return toTeam(row);
  });
}

/** Soft delete; the team's member rows stay (and are ignored while the team is deleted). */
export async function softDeleteTeam(
  db: Kysely<Database>,
  input: TeamRef,
  ctx: AuditContext,
  by: Authority,
): Promise<void> {
  assertAuditContext(ctx);
  const ref = teamRefOf(input);
  await inTransaction(db, async (trx) => {
    await authorize(trx, by, ref.orgId, { kind: "team.write" });
    const current = await lockLiveTeam(trx, ref);
    await trx.updateTable("teams").set({ deleted_at: sql<Date>`now()` }).where("id", "=", ref.teamId).execute();
    await writeAudit(trx, ctx, {
      action: "team.deleted",
      targetType: "team",
      targetId: ref.teamId,
      organizationId: ref.orgId,
      before: { name: current.name },
    });
  });
}

/**
 * Adds a user to a team. The user must be a live member of the team's organization
 * (DomainError "invalid_input" otherwise; a database trigger enforces the same);
 * already on the team → conflict.
 */
export async function addTeamMember(
  db: Kysely<Database>,
  input: TeamRef & { identityId: string; role: TeamRole },
  ctx: AuditContext,
  by: Authority,
): Promise<TeamMember> {
  assertAuditContext(ctx);
  const ref = teamRefOf(input);
  const identityId = assertUuid(input.identityId, "identityId");
  const role = assertOneOf(input.role, TEAM_ROLES, "role");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, ref.orgId, { kind: "team.write" });
    await lockLiveTeam(trx, ref);
    const member = await trx
      .selectFrom("memberships")
      .select("id")
      .where("organization_id", "=", ref.orgId)
      .where("identity_id", "=", identityId)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (!member) {
      throw new DomainError("invalid_input", "only members of the organization can join its teams");
    }
    const row = await trx
      .insertInto("team_memberships")
      .values({ team_id: ref.teamId, identity_id: identityId, role })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "team.member_added",
      targetType: "team",
      targetId: ref.teamId,
      organizationId: ref.orgId,
      after: { identityId, role },
    });
    return toTeamMember(row);
  });
}

export async function setTeamRole(
  db: Kysely<Database>,
  input: TeamRef & { identityId: string; role: TeamRole },
  ctx: AuditContext,
  by: Authority,
): Promise<TeamMember> {
  assertAuditContext(ctx);
  const ref = teamRefOf(input);
  const identityId = assertUuid(input.identityId, "identityId");
  const role = assertOneOf(input.role, TEAM_ROLES, "role");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, ref.orgId, { kind: "team.write" });
    await lockLiveTeam(trx, ref);
    const current = await trx
      .selectFrom("team_memberships")
      .selectAll()
      .where("team_id", "=", ref.teamId)
      .where("identity_id", "=", identityId)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new DomainError("not_found", "team member not found");
    if (current.role === role) return toTeamMember(current);
    const row = await trx
      .updateTable("team_memberships")
      .set({ role })
      .where("team_id", "=", ref.teamId)
      .where("identity_id", "=", identityId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "team.member_role_changed",
      targetType: "team",
      targetId: ref.teamId,
      organizationId: ref.orgId,
      before: { identityId, role: current.role },
      after: { identityId, role },
    });
    return toTeamMember(row);
  });
}

export async function removeTeamMember(
  db: Kysely<Database>,
  input: TeamRef & { identityId: string },
  ctx: AuditContext,
  by: Authority,
): Promise<void> {
  assertAuditContext(ctx);
  const ref = teamRefOf(input);
  const identityId = assertUuid(input.identityId, "identityId");
  await inTransaction(db, async (trx) => {
    await authorize(trx, by, ref.orgId, { kind: "team.write" });
    await lockLiveTeam(trx, ref);
    const removed = await trx
      .deleteFrom("team_memberships")
      .where("team_id", "=", ref.teamId)
      .where("identity_id", "=", identityId)
      .returning("role")
      .executeTakeFirst();
    if (!removed) throw new DomainError("not_found", "team member not found");
    await writeAudit(trx, ctx, {
      action: "team.member_removed",
      targetType: "team",
      targetId: ref.teamId,
      organizationId: ref.orgId,
      before: { identityId, role: removed.role },
    });
  });
}

export interface TeamSummary extends Team {
  memberCount: number;
}

/** Live teams of a live organization, by name. */
export async function listTeams(db: Kysely<Database>, orgId: string, by: Authority): Promise<TeamSummary[]> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    await authorize(db, by, id, { kind: "organization.read" });
    const rows = await db
      .selectFrom("teams as t")
      .innerJoin("organizations as o", "o.id", "t.organization_id")
      .selectAll("t")
      .select((eb) =>
        eb
          .selectFrom("team_memberships as tm")
          .select((eb2) => eb2.fn.countAll<string>().as("n"))
          .whereRef("tm.team_id", "=", "t.id")
          .as("member_count"),
      )
      .where("t.organization_id", "=", id)
      .where("t.deleted_at", "is", null)
      .where("o.deleted_at", "is", null)
      .orderBy(sql`lower(t.name)`)
      .execute();
    return rows.map(({ member_count, ...row }) => ({ ...toTeam(row), memberCount: Number(member_count ?? 0) }));
  });
}

export interface TeamMemberDetail extends TeamMember {
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
}

/** Members of a live team, leads first. */
export async function listTeamMembers(
  db: Kysely<Database>,
  input: TeamRef,
  by: Authority,
): Promise<TeamMemberDetail[]> {
  const ref = teamRefOf(input);
  return withDomainErrors(async () => {
    await authorize(db, by, ref.orgId, { kind: "organization.read" });
    const rows = await db
      .selectFrom("team_memberships as tm")
      .innerJoin("teams as t", "t.id", "tm.team_id")
      .innerJoin("users as u", "u.identity_id", "tm.identity_id")
      .selectAll("tm")
      .select(["u.email", "u.name_first", "u.name_last"])
      .where("t.id", "=", ref.teamId)
      .where("t.organization_id", "=", ref.orgId)
      .where("t.deleted_at", "is", null)
      .orderBy(sql`tm.role = 'lead'`, "desc")
      .orderBy("tm.created_at")
      .execute();
    return rows.map(({ email, name_first, name_last, ...row }) => ({
      ...toTeamMember(row),
      email,
      nameFirst: name_first,
      nameLast: name_last,
    }));
  });
}

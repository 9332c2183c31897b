import { type Kysely, sql } from "kysely";
import { type Database, type MembershipRow, ORG_ROLES, type OrgRole, type Plan } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertOneOf, assertUuid, inTransaction } from "./support.ts";

export interface Membership {
  id: string;
  organizationId: string;
  identityId: string;
  role: OrgRole;
  createdAt: Date;
  updatedAt: Date;
}

function toMembership(row: MembershipRow): Membership {
  return {
    id: row.id,
    organizationId: row.organization_id,
    identityId: row.identity_id,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface MemberRef {
  orgId: string;
  identityId: string;
}

function refOf(input: MemberRef): { orgId: string; identityId: string } {
  return { orgId: assertUuid(input.orgId, "orgId"), identityId: assertUuid(input.identityId, "identityId") };
}

/** Adds a live membership. The user row must exist; a second live membership is a conflict. */
export async function addMember(
  db: Kysely<Database>,
  input: MemberRef & { role: OrgRole },
  ctx: AuditContext,
): Promise<Membership> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  const role = assertOneOf(input.role, ORG_ROLES, "role");
  return inTransaction(db, async (trx) => {
    await requireLiveOrganization(trx, orgId);
    const user = await trx
      .selectFrom("users")
      .select(["deleted_at"])
      .where("identity_id", "=", identityId)
      .executeTakeFirst();
    if (!user || user.deleted_at !== null) throw new DomainError("not_found", "user not found");
    // A live duplicate hits memberships_org_identity_live → conflict.
    const row = await trx
      .insertInto("memberships")
      .values({ organization_id: orgId, identity_id: identityId, role })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "membership.added",
      targetType: "membership",
      targetId: row.id,
      organizationId: orgId,
      after: { identityId, role },
    });
    return toMembership(row);
  });
}

async function lockLiveMembership(trx: Kysely<Database>, orgId: string, identityId: string): Promise<MembershipRow> {
  const row = await trx
    .selectFrom("memberships as m")
    .innerJoin("organizations as o", "o.id", "m.organization_id")
    .selectAll("m")
    .where("m.organization_id", "=", orgId)
    .where("m.identity_id", "=", identityId)
    .where("m.deleted_at", "is", null)
    .where("o.deleted_at", "is", null)
    .forUpdate("m")
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "membership not found");
  return row;
}

/**
 * Changes a member's role. Demoting the last owner fails with DomainError("last_owner")
 * (raised by the database at commit). Same role → no write, no audit row.
 */
export async function changeRole(
  db: Kysely<Database>,
  input: MemberRef & { role: OrgRole },
  ctx: AuditContext,
): Promise<Membership> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  const role = assertOneOf(input.role, ORG_ROLES, "role");
  return inTransaction(db, async (trx) => {
    const current = await lockLiveMembership(trx, orgId, identityId);
    if (current.role === role) return toMembership(current);
    const row = await trx
      .updateTable("memberships")
      .set({ role })
      .where("id", "=", current.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "membership.role_changed",
      targetType: "membership",
      targetId: current.id,
      organizationId: orgId,
      before: { identityId, role: current.role },
      after: { identityId, role },
    });
    return toMembership(row);
  });
}

/**
 * Soft-deletes the membership and removes the user from the organization's teams.
 * Removing the last owner fails with DomainError("last_owner").
 */
export async function removeMember(db: Kysely<Database>, input: MemberRef, ctx: AuditContext): Promise<void> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  await inTransaction(db, async (trx) => {
    const current = await lockLiveMembership(trx, orgId, identityId);
    // Membership first, team rows second: a concurrent addTeamMember either committed
    // before our UPDATE (and this DELETE sees it) or waits on the row and then fails.
    await trx.updateTable("memberships").set({ deleted_at: sql<Date>`now()` }).where("id", "=", current.id).execute();
    const teams = await trx
      .deleteFrom("team_memberships")
      .where("identity_id", "=", identityId)
      .where("team_id", "in", (eb) => eb.selectFrom("teams").select("id").where("organization_id", "=", orgId))
      .returning("team_id")
      .execute();
    await writeAudit(trx, ctx, {
      action: "membership.removed",
      targetType: "membership",
      targetId: current.id,
      organizationId: orgId,
      before: { identityId, role: current.role, teamIds: teams.map((t) => t.team_id) },
    });
  });
}

export interface Member {
  membershipId: string;
  identityId: string;
  role: OrgRole;
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
  joinedAt: Date;
}

/** Live members of a live organization, oldest first. */
export async function listMembers(db: Kysely<Database>, orgId: string): Promise<Member[]> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    const rows = await db
      .selectFrom("memberships as m")
      .innerJoin("organizations as o", "o.id", "m.organization_id")
      .innerJoin("users as u", "u.identity_id", "m.identity_id")
      .select([
        "m.id as membershipId",
        "m.identity_id as identityId",
        "m.role",
        "u.email",
        "u.name_first as nameFirst",
        "u.name_last as nameLast",
        "m.created_at as joinedAt",
      ])
      .where("m.organization_id", "=", id)
      .where("m.deleted_at", "is", null)
      .where("o.deleted_at", "is", null)
      .orderBy("m.created_at")
      .orderBy("m.id")
      .execute();
    return rows;
  });
}

export interface UserMembership {
  organizationId: string;
  name: string;
  plan: Plan;
  role: OrgRole;
}

/** The user's live memberships in live organizations, in the order they were created. */
export async function listMembershipsForUser(db: Kysely<Database>, identityId: string): Promise<UserMembership[]> {
  const id = assertUuid(identityId, "identityId");
  return withDomainErrors(async () => {
    return db
      .selectFrom("memberships as m")
      .innerJoin("organizations as o", "o.id", "m.organization_id")
      .select(["o.id as organizationId", "o.name", "o.plan", "m.role"])
      .where("m.identity_id", "=", id)
      .where("m.deleted_at", "is", null)
      .where("o.deleted_at", "is", null)
      .orderBy("m.created_at")
      .orderBy("m.id")
      .execute();
  });
}

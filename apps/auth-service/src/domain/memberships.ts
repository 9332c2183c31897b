import { type Kysely, sql, type Transaction } from "kysely";
import { type Database, type JoinedVia, type MembershipRow, ORG_ROLES, type OrgRole, type Plan } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize, check } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertOneOf, assertUuid, inTransaction } from "./support.ts";

export interface Membership {
  id: string;
  organizationId: string;
  identityId: string;
  role: OrgRole;
  joinedVia: JoinedVia;
  createdAt: Date;
  updatedAt: Date;
}

export function toMembership(row: MembershipRow): Membership {
  return {
    id: row.id,
    organizationId: row.organization_id,
    identityId: row.identity_id,
    role: row.role,
    joinedVia: row.joined_via,
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

/**
 * Puts a user in an organization without their consent ("direct"): operators only, for
 * data fixes and fixtures. People join by accepting an invitation (invitations.ts); a
 * direct membership never becomes the user's default organization by itself.
 * The user row must exist; a second live membership is a conflict.
 */
export async function addMember(
  db: Kysely<Database>,
  input: MemberRef & { role: OrgRole },
  ctx: AuditContext,
  by: Authority,
): Promise<Membership> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  const role = assertOneOf(input.role, ORG_ROLES, "role");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, orgId, { kind: "member.add" });
    await requireLiveOrganization(trx, orgId);
    return insertMembership(trx, { orgId, identityId, role, joinedVia: "direct" }, ctx);
  });
}

/** The INSERT and its audit row, for addMember and acceptInvitation (in their transaction). */
export async function insertMembership(
  trx: Transaction<Database>,
  input: { orgId: string; identityId: string; role: OrgRole; joinedVia: JoinedVia },
  ctx: AuditContext,
): Promise<Membership> {
  const { orgId, identityId, role, joinedVia } = input;
  const user = await trx
    .selectFrom("users")
    .select(["deleted_at"])
    .where("identity_id", "=", identityId)
    .executeTakeFirst();
  if (!user || user.deleted_at !== null) throw new DomainError("not_found", "user not found");
  // A live duplicate hits memberships_org_identity_live → conflict.
  const row = await trx
    .insertInto("memberships")
    .values({ organization_id: orgId, identity_id: identityId, role, joined_via: joinedVia })
    .returningAll()
    .executeTakeFirstOrThrow();
  await writeAudit(trx, ctx, {
    action: "membership.added",
    targetType: "membership",
    targetId: row.id,
    organizationId: orgId,
    after: { identityId, role, joinedVia },
  });
  return toMembership(row);
}

/**
 * Locks the target's live membership, and the actor's when a member acts, in one
 * statement in id order (two admins acting on each other cannot deadlock). The actor
 * not being a member is forbidden; the target not being one is not_found.
 */
async function lockForChange(
  trx: Kysely<Database>,
  orgId: string,
  identityId: string,
  by: Authority,
): Promise<{ target: MembershipRow; actorRole: OrgRole | undefined }> {
  const actorId = by.kind === "member" ? assertUuid(by.identityId, "identityId") : undefined;
  const ids = actorId === undefined || actorId === identityId ? [identityId] : [identityId, actorId];
  const rows = await trx
    .selectFrom("memberships as m")
    .innerJoin("organizations as o", "o.id", "m.organization_id")
    .selectAll("m")
    .where("m.organization_id", "=", orgId)
    .where("m.identity_id", "in", ids)
    .where("m.deleted_at", "is", null)
    .where("o.deleted_at", "is", null)
    .orderBy("m.id")
    .forUpdate("m")
    .execute();
  const actor = actorId === undefined ? undefined : rows.find((r) => r.identity_id === actorId);
  if (actorId !== undefined && !actor) throw new DomainError("forbidden", "you are not a member of this organization");
  const target = rows.find((r) => r.identity_id === identityId);
  if (!target) throw new DomainError("not_found", "membership not found");
  return { target, actorRole: actor?.role };
}

/**
 * Changes a member's role, if `by` may (authz.ts: only owners touch or make owners).
 * Demoting the last owner fails with DomainError("last_owner") (raised by the database
 * at commit). Same role → no write, no audit row.
 */
export async function changeRole(
  db: Kysely<Database>,
  input: MemberRef & { role: OrgRole },
  ctx: AuditContext,
  by: Authority,
): Promise<Membership> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  const role = assertOneOf(input.role, ORG_ROLES, "role");
  return inTransaction(db, async (trx) => {
    const { target: current, actorRole } = await lockForChange(trx, orgId, identityId, by);
    check(by, actorRole, {
      kind: "member.change_role",
      target: current.role,
      to: role,
      self: by.kind === "member" && current.identity_id === by.identityId.toLowerCase(),
    });
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
 * Soft-deletes the membership and removes the user from the organization's teams, if
 * `by` may (authz.ts: owners and admins remove members ranked at most their own role;
 * anyone may leave). Removing the last owner fails with DomainError("last_owner").
 */
export async function removeMember(
  db: Kysely<Database>,
  input: MemberRef,
  ctx: AuditContext,
  by: Authority,
): Promise<void> {
  assertAuditContext(ctx);
  const { orgId, identityId } = refOf(input);
  await inTransaction(db, async (trx) => {
    const { target: current, actorRole } = await lockForChange(trx, orgId, identityId, by);
    check(by, actorRole, {
      kind: "member.remove",
      target: current.role,
      self: by.kind === "member" && current.identity_id === by.identityId.toLowerCase(),
    });
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

/** Live members of a live organization, oldest first; for its members (and operators). */
export async function listMembers(db: Kysely<Database>, orgId: string, by: Authority): Promise<Member[]> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    await authorize(db, by, id, { kind: "organization.read" });
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

/**
 * The user's own choice of the organization their tokens default to (POST /v1/token
 * without organization_id). They must be a live member of it. Choosing counts as
 * joining: this is how a user makes a membership someone else created their default.
 */
export async function chooseDefaultOrganization(
  db: Kysely<Database>,
  input: { identityId: string; orgId: string },
  ctx: AuditContext,
): Promise<void> {
  assertAuditContext(ctx);
  const identityId = assertUuid(input.identityId, "identityId");
  const orgId = assertUuid(input.orgId, "orgId");
  await inTransaction(db, async (trx) => {
    const member = await trx
      .selectFrom("memberships as m")
      .innerJoin("organizations as o", "o.id", "m.organization_id")
      .select("m.id")
      .where("m.organization_id", "=", orgId)
      .where("m.identity_id", "=", identityId)
      .where("m.deleted_at", "is", null)
      .where("o.deleted_at", "is", null)
      .forShare("m")
      .executeTakeFirst();
    if (!member) throw new DomainError("not_found", "you are not a member of that organization");
    await setDefaultOrganization(trx, identityId, orgId, ctx);
  });
}

/** Sets users.default_organization_id (in the caller's transaction), with an audit row if it changed. */
export async function setDefaultOrganization(
  trx: Transaction<Database>,
  identityId: string,
  orgId: string,
  ctx: AuditContext,
): Promise<void> {
  const before = await trx
    .selectFrom("users")
    .select("default_organization_id")
    .where("identity_id", "=", identityId)
    .where("deleted_at", "is", null)
    .forUpdate()
    .executeTakeFirst();
  if (!before) throw new DomainError("not_found", "user not found");
  if (before.default_organization_id === orgId) return;
  await trx
    .updateTable("users")
    .set({ default_organization_id: orgId })
    .where("identity_id", "=", identityId)
    .execute();
  await writeAudit(trx, ctx, {
    action: "user.default_organization_changed",
    targetType: "user",
    targetId: identityId,
    organizationId: orgId,
    before: { organizationId: before.default_organization_id },
    after: { organizationId: orgId },
  });
}

import { type Kysely, sql, type Transaction } from "kysely";
import { type Database, type OrganizationRow, PLANS, type Plan } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { assertOneOf, assertUuid, cleanName, inTransaction } from "./support.ts";

export interface Organization {
  id: string;
  name: string;
  plan: Plan;
  /** Members must sign in with a second factor (aal2); enterprise plans only. */
  requireMfa: boolean;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    requireMfa: row.require_mfa,
    deletedAt: row.deleted_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface OnboardInput {
  identityId: string;
  name: string;
  plan: Plan;
}

/**
 * Creates an organization with the user as its owner, in one transaction (the database
 * refuses an organization without an owner at commit), and makes it the user's default
 * organization. Idempotent per user: if the user already created a live organization
 * they still own, that one comes back with `created: false` (one they were invited to
 * or put in, even as owner, does not count).
 * A per-identity advisory lock makes concurrent double-submits queue, so the second
 * sees the first's organization instead of creating another.
 */
export async function onboard(
  db: Kysely<Database>,
  input: OnboardInput,
  ctx: AuditContext,
): Promise<{ created: boolean; organization: Organization }> {
  assertAuditContext(ctx);
  const identityId = assertUuid(input.identityId, "identityId");
  const name = cleanName(input.name, "name");
  const plan = assertOneOf(input.plan, PLANS, "plan");

  return inTransaction(db, async (trx) => {
    // Two-key form: (namespace, identity) cannot collide with other advisory locks.
    await sql`select pg_advisory_xact_lock(hashtext('gatehouse.onboard'), hashtext(${identityId}))`.execute(trx);

    const user = await trx
      .selectFrom("users")
      .select(["identity_id", "deleted_at"])
      .where("identity_id", "=", identityId)
      .executeTakeFirst();
    if (!user || user.deleted_at !== null) throw new DomainError("not_found", "user not found");

    const owned = await trx
      .selectFrom("memberships as m")
      .innerJoin("organizations as o", "o.id", "m.organization_id")
      .selectAll("o")
      .where("m.identity_id", "=", identityId)
      .where("m.role", "=", "owner")
      .where("m.joined_via", "=", "onboarding")
      .where("m.deleted_at", "is", null)
      .where("o.deleted_at", "is", null)
      .orderBy("m.created_at")
      .orderBy("m.id")
      .limit(1)
      .executeTakeFirst();
    if (owned) return { created: false, organization: toOrganization(owned) };

    const org = await trx.insertInto("organizations").values({ name, plan }).returningAll().executeTakeFirstOrThrow();
    const membership = await trx
      .insertInto("memberships")
      .values({ organization_id: org.id, identity_id: identityId, role: "owner", joined_via: "onboarding" })
      .returning("id")
      .executeTakeFirstOrThrow();
    await trx
      .updateTable("users")
      .set({ default_organization_id: org.id })
      .where("identity_id", "=", identityId)
      .execute();
    await writeAudit(trx, ctx, {
      action: "organization.created",
      targetType: "organization",
      targetId: org.id,
      organizationId: org.id,
      after: { name, plan },
    });
    await writeAudit(trx, ctx, {
      action: "membership.added",
      targetType: "membership",
      targetId: membership.id,
      organizationId: org.id,
      after: { identityId, role: "owner", joinedVia: "onboarding" },
    });
    return { created: true, organization: toOrganization(org) };
  });
}

/** A live organization, or undefined (also for a soft-deleted one unless includeDeleted). */
export async function getOrganization(
  db: Kysely<Database>,
  orgId: string,
  opts: { includeDeleted?: boolean } = {},
): Promise<Organization | undefined> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    let query = db.selectFrom("organizations").selectAll().where("id", "=", id);
    if (!opts.includeDeleted) query = query.where("deleted_at", "is", null);
    const row = await query.executeTakeFirst();
    return row && toOrganization(row);
  });
}

/** Locks (FOR NO KEY UPDATE) and returns a live organization, or throws not_found. */
async function lockLiveOrganization(trx: Kysely<Database>, orgId: string): Promise<OrganizationRow> {
  const row = await trx
    .selectFrom("organizations")
    .selectAll()
    .where("id", "=", orgId)
    .where("deleted_at", "is", null)
    .forNoKeyUpdate()
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "organization not found");
  return row;
}

/**
 * Throws not_found unless the organization exists and is live. No lock: a row added
 * to an organization that is being deleted at that moment is harmless, because every
 * read path ignores deleted organizations.
 */
export async function requireLiveOrganization(trx: Kysely<Database>, orgId: string): Promise<void> {
  const row = await trx
    .selectFrom("organizations")
    .select("id")
    .where("id", "=", orgId)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "organization not found");
}

/** Sets the plan (owners); unchanged plan → no write, no audit row. */
export function changePlan(
  db: Kysely<Database>,
  orgId: string,
  plan: Plan,
  ctx: AuditContext,
  by: Authority,
): Promise<Organization> {
  return updateOrganization(db, orgId, { plan }, ctx, by);
}

/** What updateOrganization may change; at least one of them. */
export interface OrganizationChange {
  name?: string;
  plan?: Plan;
  requireMfa?: boolean;
}

/** The plan a second-factor requirement is sold with (the pricing page's Enterprise). */
export const MFA_PLAN: Plan = "enterprise";

/**
 * Renames (owners and admins), sets the plan (owners) and/or turns the second-factor
 * requirement on or off (owners), in one transaction: a request that may not do one of
 * them changes nothing. The requirement exists on the enterprise plan only, so turning
 * it on elsewhere, or leaving enterprise with it on, is a conflict (send
 * `requireMfa: false` with the plan change). Each change that changes something writes
 * its own audit row and event; an unchanged value writes nothing.
 */
export async function updateOrganization(
  db: Kysely<Database>,
  orgId: string,
  change: OrganizationChange,
  ctx: AuditContext,
  by: Authority,
): Promise<Organization> {
  assertAuditContext(ctx);
  const id = assertUuid(orgId, "orgId");
  const name = change.name === undefined ? undefined : cleanName(change.name, "name");
  const plan = change.plan === undefined ? undefined : assertOneOf(change.plan, PLANS, "plan");
  const requireMfa = change.requireMfa;
  if (requireMfa !== undefined && typeof requireMfa !== "boolean") {
    throw new DomainError("invalid_input", "requireMfa must be a boolean");
  }
  if (name === undefined && plan === undefined && requireMfa === undefined) {
    throw new DomainError("invalid_input", "name, plan or require_mfa is required");
  }
  return inTransaction(db, async (trx) => {
    if (name !== undefined) await authorize(trx, by, id, { kind: "organization.rename" });
    if (plan !== undefined) await authorize(trx, by, id, { kind: "organization.change_plan" });
    if (requireMfa !== undefined) await authorize(trx, by, id, { kind: "organization.require_mfa" });
    const current = await lockLiveOrganization(trx, id);
    const set = {
      ...(name !== undefined && name !== current.name ? { name } : {}),
      ...(plan !== undefined && plan !== current.plan ? { plan } : {}),
      ...(requireMfa !== undefined && requireMfa !== current.require_mfa ? { require_mfa: requireMfa } : {}),
    };
    const planAfter = set.plan ?? current.plan;
    if ((set.require_mfa ?? current.require_mfa) && planAfter !== MFA_PLAN) {
      throw new DomainError(
        "conflict",
        set.plan !== undefined
          ? `turn off the second-factor requirement before leaving the ${MFA_PLAN} plan`
          : `requiring a second factor needs the ${MFA_PLAN} plan (this organization is on ${planAfter})`,
      );
    }
    if (Object.keys(set).length === 0) return toOrganization(current);
    const row = await trx
      .updateTable("organizations")
      .set(set)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await auditChanges(trx, ctx, current, set);
    return toOrganization(row);
  });
}

async function auditChanges(
  trx: Transaction<Database>,
  ctx: AuditContext,
  current: OrganizationRow,
  set: { name?: string; plan?: Plan; require_mfa?: boolean },
): Promise<void> {
  const target = { targetType: "organization", targetId: current.id, organizationId: current.id } as const;
  if (set.name !== undefined)
    await writeAudit(trx, ctx, {
      action: "organization.renamed",
      ...target,
      before: { name: current.name },
      after: { name: set.name },
    });
  if (set.plan !== undefined)
    await writeAudit(trx, ctx, {
      action: "organization.plan_changed",
      ...target,
      before: { plan: current.plan },
      after: { plan: set.plan },
    });
  if (set.require_mfa !== undefined)
    await writeAudit(trx, ctx, {
      action: "organization.mfa_requirement_changed",
      ...target,
      before: { require_mfa: current.require_mfa },
      after: { require_mfa: set.require_mfa },
    });
}

/**
 * Soft delete. Memberships, teams and API keys stay as they are (a restore brings
 * them back), but every read path ignores a deleted organization: it drops out of
 * principals and listings, and its API keys stop working. Owners only.
 */
export async function softDeleteOrganization(
  db: Kysely<Database>,
  orgId: string,
  ctx: AuditContext,
  by: Authority,
): Promise<Organization> {
  assertAuditContext(ctx);
  const id = assertUuid(orgId, "orgId");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, id, { kind: "organization.delete" });
    const current = await lockLiveOrganization(trx, id);
    const row = await trx
      .updateTable("organizations")
      .set({ deleted_at: sql<Date>`now()` })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "organization.deleted",
      targetType: "organization",
      targetId: id,
      organizationId: id,
      before: { name: current.name, plan: current.plan },
    });
    return toOrganization(row);
  });
}

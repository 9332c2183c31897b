import { type Kysely, sql } from "kysely";
import { type Database, PLANS, type Plan, type UserRow } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { assertOneOf, assertUuid, inTransaction } from "./support.ts";

export interface User {
  identityId: string;
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
  signupTier: Plan | null;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toUser(row: UserRow): User {
  return {
    identityId: row.identity_id,
    email: row.email,
    nameFirst: row.name_first,
    nameLast: row.name_last,
    signupTier: row.signup_tier,
    deletedAt: row.deleted_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface KratosUserInput {
  identityId: string;
  email: string;
  /** Omitted: keep what is stored. null: clear it. */
  nameFirst?: string | null;
  nameLast?: string | null;
  /** Only ever fills an empty signup_tier; a stored tier is never replaced. */
  signupTier?: Plan | null;
}

function optionalName(value: unknown, field: string): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== "string" || value.length > 200) {
    throw new DomainError("invalid_input", `${field} must be a string of at most 200 characters`);
  }
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

function cleanEmail(value: unknown): string {
  const email = typeof value === "string" ? value.trim() : "";
  if (email.length < 3 || email.length > 320 || !email.includes("@")) {
    throw new DomainError("invalid_input", "email must be an email address");
  }
  return email;
}

/**
 * Creates or refreshes the user row for a Kratos identity (registration webhook,
 * settings webhook, or lazily on token exchange). Idempotent and safe under
 * concurrent duplicates: one INSERT … ON CONFLICT, and an audit row only from the
 * call that actually inserted.
 */
export async function upsertUserFromKratos(
  db: Kysely<Database>,
  input: KratosUserInput,
  ctx: AuditContext,
): Promise<{ created: boolean; user: User }> {
  assertAuditContext(ctx);
  const identityId = assertUuid(input.identityId, "identityId");
  const email = cleanEmail(input.email);
  const nameFirst = optionalName(input.nameFirst, "nameFirst");
  const nameLast = optionalName(input.nameLast, "nameLast");
  const signupTier =
    input.signupTier === undefined || input.signupTier === null
      ? null
      : assertOneOf(input.signupTier, PLANS, "signupTier");

  return inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto("users")
      .values({
        identity_id: identityId,
        email,
        name_first: nameFirst ?? null,
        name_last: nameLast ?? null,
        signup_tier: signupTier,
      })
      .onConflict((oc) =>
        oc.column("identity_id").doUpdateSet((eb) => ({
          email: eb.ref("excluded.email"),
          ...(nameFirst !== undefined ? { name_first: eb.ref("excluded.name_first") } : {}),
          ...(nameLast !== undefined ? { name_last: eb.ref("excluded.name_last") } : {}),
          signup_tier: eb.fn.coalesce("users.signup_tier", "excluded.signup_tier"),
        })),
      )
      // xmax = 0 only on a freshly inserted tuple: the standard way to tell an insert
      // from the DO UPDATE branch in one statement.
      .returningAll()
      .returning(sql<boolean>`(xmax = 0)`.as("inserted"))
      .executeTakeFirstOrThrow();
    const { inserted, ...userRow } = row;
    const user = toUser(userRow);
    if (inserted) {
      await writeAudit(trx, ctx, {
        action: "user.created",
        targetType: "user",
        targetId: identityId,
        after: { signupTier: user.signupTier },
      });
    }
    return { created: inserted, user };
  });
}

/** The user row, soft-deleted ones included (check `deletedAt`). */
export async function getUser(db: Kysely<Database>, identityId: string): Promise<User | undefined> {
  const id = assertUuid(identityId, "identityId");
  return withDomainErrors(async () => {
    const row = await db.selectFrom("users").selectAll().where("identity_id", "=", id).executeTakeFirst();
    return row && toUser(row);
  });
}

/**
 * Marks the user deleted (Kratos identity deleted). Memberships are left alone so an
 * organization never loses its owner implicitly; loadPrincipalData treats a deleted
 * user as unknown.
 */
export async function softDeleteUser(db: Kysely<Database>, identityId: string, ctx: AuditContext): Promise<User> {
  assertAuditContext(ctx);
  const id = assertUuid(identityId, "identityId");
  return inTransaction(db, async (trx) => {
    const existing = await trx
      .selectFrom("users")
      .selectAll()
      .where("identity_id", "=", id)
      .forUpdate()
      .executeTakeFirst();
    if (!existing) throw new DomainError("not_found", "user not found");
    if (existing.deleted_at !== null) return toUser(existing);
    const row = await trx
      .updateTable("users")
      .set({ deleted_at: sql<Date>`now()` })
      .where("identity_id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, { action: "user.deleted", targetType: "user", targetId: id });
    return toUser(row);
  });
}

export interface SignIn {
  identityId: string;
  /** Kratos' login flow: one sign-in, the idempotency key (Kratos may deliver twice). */
  flowId: string;
  aal: string;
  methods: string[];
}

/**
 * Records a sign-in (audit row and `user.authenticated` event), once per login flow:
 * a second delivery of the same flow changes nothing and answers `recorded: false`.
 */
export async function recordSignIn(
  db: Kysely<Database>,
  input: SignIn,
  ctx: AuditContext,
): Promise<{ recorded: boolean }> {
  assertAuditContext(ctx);
  const identityId = assertUuid(input.identityId, "identityId");
  const flowId = assertUuid(input.flowId, "flowId");
  return inTransaction(db, async (trx) => {
    // Two deliveries of one flow at once: the second waits here, then sees the first.
    await sql`select pg_advisory_xact_lock(hashtext(${`sign-in:${flowId}`}))`.execute(trx);
    const seen = await trx
      .selectFrom("audit_log")
      .select("id")
      .where("action", "=", "user.authenticated")
      .where("target_id", "=", identityId)
      .where(sql<string>`after->>'flowId'`, "=", flowId)
      .executeTakeFirst();
    if (seen) return { recorded: false };
    await writeAudit(trx, ctx, {
      action: "user.authenticated",
      targetType: "user",
      targetId: identityId,
      after: { flowId, aal: input.aal, methods: input.methods },
    });
    return { recorded: true };
  });
}

/**
 * Deactivates (or reactivates) a user for another service's inbound event: while
 * deactivated_at is set the token exchange refuses them (403 user_deactivated) and API
 * keys they own or created stop working. Audited as user.deactivated / user.reactivated,
 * whose announcement drops every cached principal and token of theirs. The user's
 * record is created from Kratos' identity if it is missing; already in that state →
 * no write, `changed: false`.
 */
export async function setDeactivated(
  db: Kysely<Database>,
  identity: { identityId: string; email: string },
  deactivated: boolean,
  ctx: AuditContext,
): Promise<{ changed: boolean }> {
  assertAuditContext(ctx);
  const id = assertUuid(identity.identityId, "identityId");
  return inTransaction(db, async (trx) => {
    await upsertUserFromKratos(trx, { identityId: id, email: identity.email }, ctx);
    const row = await trx
      .updateTable("users")
      .set({ deactivated_at: deactivated ? sql<Date>`now()` : null })
      .where("identity_id", "=", id)
      .where("deactivated_at", deactivated ? "is" : "is not", null)
      .returning("identity_id")
      .executeTakeFirst();
    if (!row) return { changed: false };
    await writeAudit(trx, ctx, {
      action: deactivated ? "user.deactivated" : "user.reactivated",
      targetType: "user",
      targetId: id,
    });
    return { changed: true };
  });
}

/** The second factors Kratos' settings hooks report (kratos-config/kratos.yml). */
export const MFA_METHODS = ["totp", "lookup_secret", "webauthn", "passkey"] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/**
 * Records that a second factor is now set up or not (Kratos' settings hook, the state
 * read from Kratos' admin API): user.mfa_enabled / user.mfa_disabled when it differs
 * from the last one recorded for that method, nothing otherwise. So a repeated
 * delivery, or a settings change that left the method as it was (a second passkey, new
 * recovery codes), records nothing.
 */
export async function recordMfaState(
  db: Kysely<Database>,
  input: { identityId: string; method: MfaMethod; enabled: boolean },
  ctx: AuditContext,
): Promise<{ recorded: boolean }> {
  assertAuditContext(ctx);
  const identityId = assertUuid(input.identityId, "identityId");
  const method = assertOneOf(input.method, MFA_METHODS, "method");
  return inTransaction(db, async (trx) => {
    // Two deliveries at once: the second waits here, then sees the first's row.
    await sql`select pg_advisory_xact_lock(hashtext(${`mfa:${identityId}:${method}`}))`.execute(trx);
    const last = await trx
      .selectFrom("audit_log")
      .select("action")
      .where("action", "in", ["user.mfa_enabled", "user.mfa_disabled"])
      .where("target_type", "=", "user")
      .where("target_id", "=", identityId)
      .where(sql<string>`after->>'method'`, "=", method)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    const wasEnabled = last?.action === "user.mfa_enabled";
    if (wasEnabled === input.enabled) return { recorded: false };
    await writeAudit(trx, ctx, {
      action: input.enabled ? "user.mfa_enabled" : "user.mfa_disabled",
      targetType: "user",
      targetId: identityId,
      after: { method },
    });
    return { recorded: true };
  });
}

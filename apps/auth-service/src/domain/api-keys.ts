import { createHash, randomBytes } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertDate, assertUuid, cleanName, inTransaction } from "./support.ts";

/** An API key as the rest of the service sees it: never the hash, never the raw key. */
export interface ApiKey {
  id: string;
  organizationId: string;
  identityId: string | null;
  /** The member who created it (null: an operator). The key never does more than they may now. */
  createdBy: string | null;
  name: string;
  /** First 12 characters of the raw key, for display ("sk_AbCdEfGhI…"). */
  prefix: string;
  scopes: string[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

// The only columns that ever leave this module: `hash` is deliberately absent.
const API_KEY_COLUMNS = [
  "k.id",
  "k.organization_id as organizationId",
  "k.identity_id as identityId",
  "k.created_by as createdBy",
  "k.name",
  "k.prefix",
  "k.scopes",
  "k.expires_at as expiresAt",
  "k.last_used_at as lastUsedAt",
  "k.revoked_at as revokedAt",
  "k.created_at as createdAt",
  "k.updated_at as updatedAt",
] as const;

const RAW_KEY_PREFIX = "sk_";
const PREFIX_LENGTH = 12;
// sk_ + base64url of 32 bytes (43 characters, no padding).
const RAW_KEY_RE = /^sk_[A-Za-z0-9_-]{43}$/;
const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._/-]{0,99}$/;
const MAX_SCOPES = 50;

function hashKey(raw: string): string {
  return createHash("sha256").update(raw, "utf8").digest("hex");
}

function cleanScopes(value: unknown): string[] {
  if (!Array.isArray(value)) throw new DomainError("invalid_input", "scopes must be an array of strings");
  const scopes = [...new Set(value)];
  if (scopes.length > MAX_SCOPES) throw new DomainError("invalid_input", `at most ${MAX_SCOPES} scopes`);
  for (const scope of scopes) {
    if (typeof scope !== "string" || !SCOPE_RE.test(scope)) {
      throw new DomainError("invalid_input", "each scope must be 1 to 100 characters of A-Z a-z 0-9 : . _ / -");
    }
  }
  return scopes as string[];
}

export interface CreateApiKeyInput {
  orgId: string;
  /** The owning user; must be a live member of the organization. The key stops working if they leave. */
  identityId?: string;
  name: string;
  scopes: string[];
  expiresAt?: Date;
}

/**
 * Creates a key and returns the raw value once. Only its SHA-256 is stored; the raw
 * key is not stored, logged or audited, so it cannot be shown again.
 *
 * A member (owner or admin) creates keys whose scopes are a subset of their own role's
 * permissions, for the organization or owned by themselves; the key records them as its
 * creator, and every exchange cuts its permissions down to what they may still do.
 */
export async function createApiKey(
  db: Kysely<Database>,
  input: CreateApiKeyInput,
  ctx: AuditContext,
  by: Authority,
): Promise<{ rawKey: string; apiKey: ApiKey }> {
  assertAuditContext(ctx);
  const orgId = assertUuid(input.orgId, "orgId");
  const identityId = input.identityId === undefined ? null : assertUuid(input.identityId, "identityId");
  const name = cleanName(input.name, "name");
  const scopes = cleanScopes(input.scopes);
  const expiresAt = input.expiresAt === undefined ? null : assertDate(input.expiresAt, "expiresAt");
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
    throw new DomainError("invalid_input", "expiresAt must be in the future");
  }

  const rawKey = RAW_KEY_PREFIX + randomBytes(32).toString("base64url");
  const prefix = rawKey.slice(0, PREFIX_LENGTH);

  const createdBy = by.kind === "member" ? assertUuid(by.identityId, "identityId") : null;

  return inTransaction(db, async (trx) => {
    await authorize(trx, by, orgId, {
      kind: "api_key.create",
      scopes,
      forSelf: identityId !== null && identityId === createdBy,
      forOther: identityId !== null && identityId !== createdBy,
    });
    await requireLiveOrganization(trx, orgId);
    if (identityId !== null) {
      const member = await trx
        .selectFrom("memberships")
        .select("id")
        .where("organization_id", "=", orgId)
        .where("identity_id", "=", identityId)
        .where("deleted_at", "is", null)
        .executeTakeFirst();
      if (!member) throw new DomainError("invalid_input", "an API key's owner must be a member of the organization");
    }
    const { id } = await trx
      .insertInto("api_keys")
      .values({
        organization_id: orgId,
        identity_id: identityId,
        name,
        prefix,
        hash: hashKey(rawKey),
        scopes,
        created_by: createdBy,
        expires_at: expiresAt,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "api_key.created",
      targetType: "api_key",
      targetId: id,
      organizationId: orgId,
      after: { name, prefix, scopes, identityId, createdBy, expiresAt: expiresAt?.toISOString() ?? null },
    });
    const apiKey = await trx
      .selectFrom("api_keys as k")
      .select(API_KEY_COLUMNS)
      .where("k.id", "=", id)
      .executeTakeFirstOrThrow();
    return { rawKey, apiKey };
  });
}

/**
 * The live key (not revoked, not expired, organization live, owner still a member)
 * for a raw key, or undefined.
 *
 * Why no constant-time comparison: we never compare the secret. We hash the presented
 * key and look the hash up in a unique B-tree index. Whatever timing the index lookup
 * leaks is about SHA-256 of the attacker's own guess, which tells them nothing about
 * any stored key (they cannot steer a hash towards a stored one), and a 256-bit random
 * key cannot be guessed in the first place.
 */
export async function findApiKeyByRaw(db: Kysely<Database>, raw: string): Promise<ApiKey | undefined> {
  // Malformed input never costs a round trip.
  if (typeof raw !== "string" || !RAW_KEY_RE.test(raw)) return undefined;
  const hash = hashKey(raw);
  return withDomainErrors(() =>
    db
      .selectFrom("api_keys as k")
      .innerJoin("organizations as o", "o.id", "k.organization_id")
      .select(API_KEY_COLUMNS)
      .where("k.hash", "=", hash)
      .where("k.revoked_at", "is", null)
      .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", sql<Date>`now()`)]))
      .where("o.deleted_at", "is", null)
      .where((eb) =>
        eb.or([
          eb("k.identity_id", "is", null),
          eb.exists(
            eb
              .selectFrom("memberships as m")
              .innerJoin("users as u", "u.identity_id", "m.identity_id")
              .select("m.id")
              .whereRef("m.organization_id", "=", "k.organization_id")
              .whereRef("m.identity_id", "=", "k.identity_id")
              .where("m.deleted_at", "is", null)
              .where("u.deleted_at", "is", null),
          ),
        ]),
      )
      .executeTakeFirst(),
  );
}

/** Revokes a key of this organization (owners, admins). Already revoked → returned as is, no audit row. */
export async function revokeApiKey(
  db: Kysely<Database>,
  input: { orgId: string; id: string },
  ctx: AuditContext,
  by: Authority,
): Promise<ApiKey> {
  assertAuditContext(ctx);
  const orgId = assertUuid(input.orgId, "orgId");
  const id = assertUuid(input.id, "id");
  return inTransaction(db, async (trx) => {
    await authorize(trx, by, orgId, { kind: "api_key.revoke" });
    const current = await trx
      .selectFrom("api_keys as k")
      .select(API_KEY_COLUMNS)
      .where("k.id", "=", id)
      .where("k.organization_id", "=", orgId)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new DomainError("not_found", "API key not found");
    if (current.revokedAt !== null) return current;
    await trx.updateTable("api_keys").set({ revoked_at: sql<Date>`now()` }).where("id", "=", id).execute();
    await writeAudit(trx, ctx, {
      action: "api_key.revoked",
      targetType: "api_key",
      targetId: id,
      organizationId: orgId,
      before: { name: current.name, prefix: current.prefix },
    });
    return trx.selectFrom("api_keys as k").select(API_KEY_COLUMNS).where("k.id", "=", id).executeTakeFirstOrThrow();
  });
}

/** Every key of the organization, revoked and expired included, newest first (owners, admins). */
export async function listApiKeys(db: Kysely<Database>, orgId: string, by: Authority): Promise<ApiKey[]> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    await authorize(db, by, id, { kind: "api_key.list" });
    return db
      .selectFrom("api_keys as k")
      .select(API_KEY_COLUMNS)
      .where("k.organization_id", "=", id)
      .orderBy("k.created_at", "desc")
      .orderBy("k.id")
      .execute();
  });
}

/**
 * Records use. A single-row UPDATE by primary key and deliberately not audited (it is
 * telemetry, not a change anyone made); callers throttle it (e.g. once a minute per key).
 */
export async function touchApiKeyLastUsed(db: Kysely<Database>, id: string): Promise<void> {
  const keyId = assertUuid(id, "id");
  await withDomainErrors(() =>
    db.updateTable("api_keys").set({ last_used_at: sql<Date>`now()` }).where("id", "=", keyId).execute(),
  );
}

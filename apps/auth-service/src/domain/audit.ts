import type { Kysely, Transaction } from "kysely";
import type { AuditLogRow, Database, JsonObject, JsonValue } from "../db/schema.ts";
import { affectedBy } from "./affected.ts";
import { type Authority, authorize } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { assertUuid, willAnnounce } from "./support.ts";

/**
 * Who is acting, for the audit log. `actor` is an identity id, "system",
 * "kratos-webhook", "api_key:<id>" or "operator"; `requestId` ties the row to logs.
 */
export interface AuditContext {
  actor: string;
  requestId?: string;
}

export interface AuditEvent {
  /** Dotted, past tense: "membership.role_changed". */
  action: string;
  targetType: string;
  targetId: string;
  organizationId?: string | null;
  /** State before/after, as small JSON objects. Never secrets (see redact below). */
  before?: JsonObject | null;
  after?: JsonObject | null;
}

export interface AuditRecord {
  id: string;
  at: Date;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  organizationId: string | null;
  before: JsonObject | null;
  after: JsonObject | null;
  requestId: string | null;
}

// Belt and braces: repositories never pass secrets, but a field with one of these
// names, or a string that looks like a raw API key, is dropped rather than stored.
const SECRET_KEYS = /^(hash|raw_?key|private_?key(_?enc)?|secret|password|token|ciphertext)$/i;
const RAW_API_KEY = /^sk_[A-Za-z0-9_-]{20,}$/;

function redact(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value === "string") return RAW_API_KEY.test(value) ? "[redacted]" : value;
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    out[key] = SECRET_KEYS.test(key) ? "[redacted]" : redact(inner);
  }
  return out;
}

function jsonOrNull(value: JsonObject | null | undefined): string | null {
  return value == null ? null : JSON.stringify(redact(value));
}

export function assertAuditContext(ctx: AuditContext): void {
  if (typeof ctx?.actor !== "string" || ctx.actor.length === 0 || ctx.actor.length > 200) {
    throw new DomainError("invalid_input", "audit actor must be 1 to 200 characters");
  }
  if (ctx.requestId !== undefined && (typeof ctx.requestId !== "string" || ctx.requestId.length > 200)) {
    throw new DomainError("invalid_input", "request id must be at most 200 characters");
  }
}

/**
 * Appends one audit row, and the change's announcement (which tokens it makes stale,
 * see affected.ts) to the outbox. Takes a Transaction so both commit or roll back with
 * the change they describe; for a standalone event, wrap it in `db.transaction()`.
 */
export async function writeAudit(trx: Transaction<Database>, ctx: AuditContext, event: AuditEvent): Promise<void> {
  assertAuditContext(ctx);
  const affected = await affectedBy(trx, event);
  if (affected.identities.length > 0 || affected.revoked.length > 0) {
    await trx
      .insertInto("outbox")
      .values({ topic: "invalidation", payload: JSON.stringify({ action: event.action, ...affected }) })
      .execute();
    willAnnounce(trx);
  }
  await trx
    .insertInto("audit_log")
    .values({
      actor: ctx.actor,
      request_id: ctx.requestId ?? null,
      action: event.action,
      target_type: event.targetType,
      target_id: event.targetId,
      organization_id: event.organizationId ?? null,
      before: jsonOrNull(event.before),
      after: jsonOrNull(event.after),
    })
    .execute();
}

function toRecord(row: AuditLogRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    organizationId: row.organization_id,
    before: row.before,
    after: row.after,
    requestId: row.request_id,
  };
}

export interface ListAuditOptions {
  organizationId?: string;
  targetType?: string;
  targetId?: string;
  /** The first part of the action: "membership" matches membership.added, membership.removed… */
  actionKind?: string;
  /** Who did it (an identity id, or "system"/an operator name as recorded). */
  actor?: string;
  /** 1..500. */
  limit: number;
  /** Keyset pagination: only rows with a smaller id (pass the last id of the previous page). */
  beforeId?: string;
}

/** Newest first. A member reads one organization's log, as its owner or admin. */
export async function listAudit(db: Kysely<Database>, opts: ListAuditOptions, by: Authority): Promise<AuditRecord[]> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 500) {
    throw new DomainError("invalid_input", "limit must be an integer from 1 to 500");
  }
  if (opts.beforeId !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.beforeId)) {
    throw new DomainError("invalid_input", "beforeId must be an audit row id");
  }
  if (opts.actionKind !== undefined && !/^[a-z_]{1,40}$/.test(opts.actionKind)) {
    throw new DomainError("invalid_input", "action must be an action kind such as membership or api_key");
  }
  if (opts.actor !== undefined && (opts.actor.length === 0 || opts.actor.length > 200)) {
    throw new DomainError("invalid_input", "actor must be 1 to 200 characters");
  }
  const orgId = opts.organizationId === undefined ? undefined : assertUuid(opts.organizationId, "organizationId");
  if (by.kind === "member" && orgId === undefined) {
    throw new DomainError("forbidden", "members read the audit log of one organization");
  }
  return withDomainErrors(async () => {
    if (orgId !== undefined) await authorize(db, by, orgId, { kind: "audit.read" });
    let query = db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(opts.limit);
    if (orgId !== undefined) query = query.where("organization_id", "=", orgId);
    if (opts.targetType !== undefined) query = query.where("target_type", "=", opts.targetType);
    if (opts.targetId !== undefined) query = query.where("target_id", "=", opts.targetId);
    if (opts.beforeId !== undefined) query = query.where("id", "<", opts.beforeId);
    // The kind is checked above to be [a-z_]: "_" is LIKE's one-character wildcard, so
    // it is escaped; nothing else in it is special.
    if (opts.actionKind !== undefined)
      query = query.where("action", "like", `${opts.actionKind.replaceAll("_", "\\_")}.%`);
    if (opts.actor !== undefined) query = query.where("actor", "=", opts.actor);
    const rows = await query.execute();
    return rows.map(toRecord);
  });
}

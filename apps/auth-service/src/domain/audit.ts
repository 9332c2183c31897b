import { randomUUID } from "node:crypto";
import type { EventType } from "@gatehouse/contracts";
import type { Kysely, Transaction } from "kysely";
import type { AuditLogRow, Database, JsonObject, JsonValue, OutboxPayload, StoredEvent } from "../db/schema.ts";
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
  /** Dotted, past tense: "membership.role_changed"; also the event's type, so it must be in the catalogue. */
  action: EventType;
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
 * Appends one audit row and, to the outbox, the change's event (@gatehouse/contracts'
 * catalogue, for webhook subscribers) and its announcement (which tokens it makes
 * stale, see affected.ts). Takes a Transaction so all commit or roll back with the
 * change they describe; for a standalone event, wrap it in `db.transaction()`.
 */
export async function writeAudit(trx: Transaction<Database>, ctx: AuditContext, event: AuditEvent): Promise<void> {
  assertAuditContext(ctx);
  const affected = await affectedBy(trx, event);
  const rows: { topic: "invalidation" | "event"; payload: string }[] = [
    { topic: "event", payload: JSON.stringify(eventOf(ctx, event)) },
  ];
  if (affected.identities.length > 0 || affected.revoked.length > 0) {
    const payload: OutboxPayload = { action: event.action, ...affected };
    rows.push({ topic: "invalidation", payload: JSON.stringify(payload) });
  }
  await trx.insertInto("outbox").values(rows).execute();
  willAnnounce(trx);
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

/** The event's envelope; `before`/`after` are redacted exactly like the audit row's. */
function eventOf(ctx: AuditContext, event: AuditEvent): StoredEvent {
  return {
    id: randomUUID(),
    type: event.action,
    version: 1,
    occurred_at: new Date().toISOString(),
    subject: { type: event.targetType, id: event.targetId },
    organization_id: event.organizationId ?? null,
    actor: ctx.actor,
    request_id: ctx.requestId || null,
    data: {
      before: event.before == null ? null : (redact(event.before) as JsonObject),
      after: event.after == null ? null : (redact(event.after) as JsonObject),
    },
  };
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
  /** Only this actor's rows (an identity id, "operator", "api_key:<id>"...). */
  actor?: string;
  /** Only these actions (event types). */
  actions?: readonly string[];
  /** Only rows at or after `since`, and before `until`. */
  since?: Date;
  until?: Date;
  /** The first part of the action: "membership" matches membership.added, membership.removed… */
  actionKind?: string;
  /** 1..500. */
  limit: number;
  /** Keyset pagination: only rows with a smaller id (pass the last id of the previous page). */
  beforeId?: string;
}

function checkListOptions(opts: ListAuditOptions): void {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 500) {
    throw new DomainError("invalid_input", "limit must be an integer from 1 to 500");
  }
  if (opts.beforeId !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.beforeId)) {
    throw new DomainError("invalid_input", "beforeId must be an audit row id");
  }
  for (const [name, d] of [
    ["since", opts.since],
    ["until", opts.until],
  ] as const) {
    if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()))) {
      throw new DomainError("invalid_input", `${name} must be a valid date`);
    }
  }
  if (opts.actionKind !== undefined && !/^[a-z_]{1,40}$/.test(opts.actionKind)) {
    throw new DomainError("invalid_input", "action must be an action kind such as membership or api_key");
  }
  if (opts.actor !== undefined && (opts.actor.length === 0 || opts.actor.length > 200)) {
    throw new DomainError("invalid_input", "actor must be 1 to 200 characters");
  }
}

/** Newest first. A member reads one organization's log, as its owner or admin. */
export async function listAudit(db: Kysely<Database>, opts: ListAuditOptions, by: Authority): Promise<AuditRecord[]> {
  checkListOptions(opts);
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
    if (opts.actor !== undefined) query = query.where("actor", "=", opts.actor);
    if (opts.actions !== undefined) query = query.where("action", "in", opts.actions.length ? opts.actions : [""]);
    if (opts.since !== undefined) query = query.where("at", ">=", opts.since);
    if (opts.until !== undefined) query = query.where("at", "<", opts.until);
    if (opts.beforeId !== undefined) query = query.where("id", "<", opts.beforeId);
    // The kind is checked above to be [a-z_]: "_" is LIKE's one-character wildcard, so
    // it is escaped; nothing else in it is special.
    if (opts.actionKind !== undefined)
      query = query.where("action", "like", `${opts.actionKind.replaceAll("_", "\\_")}.%`);
    const rows = await query.execute();
    return rows.map(toRecord);
  });
}

/** What a person sees of their own security history (GET /v1/me/security-events). */
export const SECURITY_ACTIONS = [
  "user.created",
  "user.authenticated",
  "user.password_changed",
  "user.recovered",
  "user.mfa_enabled",
  "user.mfa_disabled",
  "user.account_locked",
  "user.account_unlocked",
  "user.deactivated",
  "user.reactivated",
  "user.deleted",
  "session.revoked",
  "identity.sessions_revoked",
  "identity.other_sessions_revoked",
  "api_key.created",
  "api_key.revoked",
] as const satisfies readonly EventType[];

/**
 * The person's own security history, newest first: what they did among
 * SECURITY_ACTIONS, and what was done to their identity. `identityId` comes from
 * their verified session, never from the request.
 */
export async function listSecurityEvents(
  db: Kysely<Database>,
  identityId: string,
  page: { limit: number; beforeId?: string },
): Promise<AuditRecord[]> {
  const id = assertUuid(identityId, "identityId");
  checkListOptions(page);
  return withDomainErrors(async () => {
    let query = db
      .selectFrom("audit_log")
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb("actor", "=", id), eb("action", "in", SECURITY_ACTIONS)]),
          eb.and([eb("target_type", "in", ["user", "identity"]), eb("target_id", "=", id)]),
        ]),
      )
      .orderBy("id", "desc")
      .limit(page.limit);
    if (page.beforeId !== undefined) query = query.where("id", "<", page.beforeId);
    return (await query.execute()).map(toRecord);
  });
}

// Webhook subscriptions and their dead letters. An operator subscribes to every
// organization's events (organization null) or one's; an organization's owners
// subscribe to their own organization's events only (authz: webhook.manage), and
// never see or touch another organization's subscriptions. Dead letters are the
// operators'. The secret is generated here, returned once, and never logged.
import { randomBytes, randomUUID } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { isEventType } from "@gatehouse/contracts";
import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema.ts";
import type { SecretBox } from "../events/secret-box.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertUuid, inTransaction } from "./support.ts";

export interface WebhookSubscription {
  id: string;
  organizationId: string | null;
  url: string;
  eventTypes: string[];
  createdBy: string;
  createdAt: Date;
}

export interface DeadLetter {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
}

// Never `secret`: it leaves this module once, from createSubscription.
const COLUMNS = [
  "id",
  "organization_id as organizationId",
  "url",
  "event_types as eventTypes",
  "created_by as createdBy",
  "created_at as createdAt",
] as const;

function cleanUrl(value: unknown): string {
  if (typeof value !== "string" || value.length > 2000) throw new DomainError("invalid_input", "url must be a URL");
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new DomainError("invalid_input", "url must be a URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new DomainError("invalid_input", "url must be http(s)");
  if (u.username || u.password) throw new DomainError("invalid_input", "url must not carry credentials");
  return u.toString();
}

// Addresses an organization's owner may not point the auth-service at (loopback,
// private, link-local, unspecified): the service would otherwise POST from inside the
// network on their behalf. A name that resolves to one is not caught here (see README).
const INTERNAL = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["100.64.0.0", 10],
] as const) {
  INTERNAL.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["::ffff:0:0", 96], // IPv4-mapped: a way to spell 127.0.0.1
  ["fc00::", 7],
  ["fe80::", 10],
] as const) {
  INTERNAL.addSubnet(net, bits, "ipv6");
}

function isInternalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const family = isIP(host);
  if (family === 0) return false;
  return INTERNAL.check(host, family === 4 ? "ipv4" : "ipv6");
}

function cleanTypes(value: unknown): string[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > 100) {
    throw new DomainError("invalid_input", "event_types must be 1 to 100 event types");
  }
  for (const t of value) {
    if (t !== "*" && !isEventType(t)) throw new DomainError("invalid_input", `unknown event type: ${String(t)}`);
  }
  return [...new Set(value as string[])];
}

/** `organizationId` undefined: every organization's events (operators only). */
export async function createSubscription(
  db: Kysely<Database>,
  input: { organizationId?: string; url: unknown; eventTypes: unknown; allowInternalUrls?: boolean },
  ctx: AuditContext,
  by: Authority,
  box: SecretBox,
): Promise<{ subscription: WebhookSubscription; secret: string }> {
  assertAuditContext(ctx);
  const orgId = input.organizationId === undefined ? null : assertUuid(input.organizationId, "organizationId");
  const url = cleanUrl(input.url);
  const eventTypes = cleanTypes(input.eventTypes);
  if (by.kind === "member" && !input.allowInternalUrls && isInternalHost(new URL(url).hostname)) {
    throw new DomainError("invalid_input", "url must be a public address (not loopback, private or link-local)");
  }
  if (orgId === null && by.kind !== "operator") {
    throw new DomainError("forbidden", "only operators subscribe to every organization's events");
  }
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  // Sealed bound to the row's id, chosen here for that.
  const id = randomUUID();
  const sealed = await box.seal(secret, id);
  return inTransaction(db, async (trx) => {
    if (orgId !== null) {
      await requireLiveOrganization(trx, orgId);
      await authorize(trx, by, orgId, { kind: "webhook.manage" });
    }
    const subscription = await trx
      .insertInto("webhook_subscriptions")
      .values({
        id,
        organization_id: orgId,
        url,
        event_types: eventTypes,
        secret: sealed.secret,
        secret_kid: sealed.kid,
        created_by: ctx.actor,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "webhook_subscription.created",
      targetType: "webhook_subscription",
      targetId: subscription.id,
      organizationId: orgId,
      after: { url, eventTypes },
    });
    return { subscription, secret };
  });
}

/** `organizationId` undefined: every subscription (operators only). */
export async function listSubscriptions(
  db: Kysely<Database>,
  organizationId: string | undefined,
  by: Authority,
): Promise<WebhookSubscription[]> {
  const orgId = organizationId === undefined ? undefined : assertUuid(organizationId, "organizationId");
  if (orgId === undefined && by.kind !== "operator") {
    throw new DomainError("forbidden", "only operators list every subscription");
  }
  return inTransaction(db, async (trx) => {
    if (orgId !== undefined) await authorize(trx, by, orgId, { kind: "webhook.manage" });
    let q = trx
      .selectFrom("webhook_subscriptions")
      .select(COLUMNS)
      .where("deleted_at", "is", null)
      .orderBy("created_at");
    if (orgId !== undefined) q = q.where("organization_id", "=", orgId);
    return q.execute();
  });
}

/** Stops deliveries to it (pending ones included). A member deletes only their organization's. */
export async function deleteSubscription(
  db: Kysely<Database>,
  input: { organizationId?: string; id: string },
  ctx: AuditContext,
  by: Authority,
): Promise<void> {
  assertAuditContext(ctx);
  const id = assertUuid(input.id, "id");
  const orgId = input.organizationId === undefined ? undefined : assertUuid(input.organizationId, "organizationId");
  if (orgId === undefined && by.kind !== "operator") throw new DomainError("forbidden", "name the organization");
  await inTransaction(db, async (trx) => {
    if (orgId !== undefined) await authorize(trx, by, orgId, { kind: "webhook.manage" });
    let q = trx
      .updateTable("webhook_subscriptions")
      .set({ deleted_at: new Date() })
      .where("id", "=", id)
      .where("deleted_at", "is", null);
    if (orgId !== undefined) q = q.where("organization_id", "=", orgId);
    const row = await q.returning(["organization_id"]).executeTakeFirst();
    if (!row) throw new DomainError("not_found", "no such webhook subscription");
    await trx
      .deleteFrom("webhook_deliveries")
      .where("subscription_id", "=", id)
      .where("state", "=", "pending")
      .execute();
    await writeAudit(trx, ctx, {
      action: "webhook_subscription.deleted",
      targetType: "webhook_subscription",
      targetId: id,
      organizationId: row.organization_id,
    });
  });
}

/** Dead-lettered deliveries, newest first, for operators. `beforeId`: keyset pagination. */
export async function listDeadLetters(
  db: Kysely<Database>,
  opts: { limit: number; beforeId?: string },
  by: Authority,
): Promise<DeadLetter[]> {
  if (by.kind !== "operator") throw new DomainError("forbidden", "dead letters are the operators'");
  if (opts.beforeId !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.beforeId)) {
    throw new DomainError("invalid_input", "before must be a delivery id");
  }
  return withDomainErrors(async () => {
    let q = db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("outbox as o", "o.id", "d.outbox_id")
      .select([
        "d.id",
        "d.subscription_id as subscriptionId",
        sql<string>`o.payload->>'id'`.as("eventId"),
        sql<string>`o.payload->>'type'`.as("eventType"),
        "d.attempts",
        "d.last_error as lastError",
        "d.created_at as createdAt",
      ])
      .where("d.state", "=", "dead")
      .orderBy("d.id", "desc")
      .limit(opts.limit);
    if (opts.beforeId !== undefined) q = q.where("d.id", "<", opts.beforeId);
    return q.execute();
  });
}

/** Sends a dead letter again from now, with a fresh retry window. Same event, same `webhook-id`. */
export async function replayDelivery(
  db: Kysely<Database>,
  id: string,
  ctx: AuditContext,
  by: Authority,
): Promise<void> {
  assertAuditContext(ctx);
  if (by.kind !== "operator") throw new DomainError("forbidden", "dead letters are the operators'");
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw new DomainError("invalid_input", "id must be a delivery id");
  await inTransaction(db, async (trx) => {
    const r = await sql<{ subscription_id: string }>`update webhook_deliveries
      set state = 'pending', attempts = 0, created_at = now(), next_attempt_at = now(), lease_until = null
      where id = ${id} and state = 'dead' returning subscription_id`.execute(trx);
    if (r.rows.length === 0) throw new DomainError("not_found", "no dead-lettered delivery with that id");
    await writeAudit(trx, ctx, { action: "webhook_delivery.replayed", targetType: "webhook_delivery", targetId: id });
  });
}

/**
 * Seals every subscription's secret under the current KEK (`reencrypt-keys`, after a
 * KEK rotation; also those stored before secrets were encrypted), in one transaction.
 * Returns how many changed; a secret no configured KEK opens aborts it all.
 */
export async function resealSecrets(db: Kysely<Database>, box: SecretBox): Promise<number> {
  return inTransaction(db, async (trx) => {
    const rows = await trx
      .selectFrom("webhook_subscriptions")
      .select(["id", "secret", "secret_kid"])
      .where((eb) => eb.or([eb("secret_kid", "is", null), eb("secret_kid", "<>", box.currentKid)]))
      .forUpdate()
      .execute();
    for (const row of rows) {
      const sealed = await box.seal(await box.open({ secret: row.secret, kid: row.secret_kid }, row.id), row.id);
      await trx
        .updateTable("webhook_subscriptions")
        .set({ secret: sealed.secret, secret_kid: sealed.kid })
        .where("id", "=", row.id)
        .execute();
    }
    return rows.length;
  });
}

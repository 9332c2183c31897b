// Delivers the outbox (db/migrations/0003_outbox.ts): pending invalidations, oldest
// first, are announced on the invalidation bus (this instance at once, the others
// through Redis) and marked published in the same transaction that locked them.
// Pending events (0004_events.ts) become one webhook delivery per matching
// subscription, in that same transaction, so an event is fanned out exactly once;
// the delivery worker (../events/delivery.ts) sends them. The two topics pass
// separately: a Redis outage delays invalidations, never webhooks. FOR UPDATE SKIP
// LOCKED lets several instances relay side by side without announcing a row twice
// at the same time; a row whose announcement failed (Redis down) stays pending and is
// tried again on the next pass. Runs after every commit and on a timer.
//
// Events also go to a Redis Stream (@gatehouse/contracts' EVENT_STREAM) for internal
// consumers, tracked apart (outbox.streamed_at): one instance at a time appends them in
// outbox order (an advisory lock), so per subject they arrive in commit order; a row
// is marked only after Redis took it, so an outage delays the stream, never loses it,
// and an append whose answer was lost is appended again (at least once, same event id).
import { EVENT_STREAM } from "@gatehouse/contracts";
import type { RedisClient } from "@gatehouse/redis";
import { settleWithin } from "@gatehouse/tokens";
import { type Kysely, sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import type { InvalidationBus } from "../cache/bus.ts";
import type { Database, OutboxPayload, StoredEvent } from "../db/schema.ts";

const BATCH = 100;

/** Marks a batch done: delivered or announced (`published_at`), or in the Redis Stream (`streamed_at`). */
function stamp(
  trx: Transaction<Database>,
  column: "published_at" | "streamed_at",
  rows: readonly { id: string }[],
): Promise<unknown> {
  const now = sql<Date>`now()`;
  return trx
    .updateTable("outbox")
    .set(column === "published_at" ? { published_at: now } : { streamed_at: now })
    .where(
      "id",
      "in",
      rows.map((r) => r.id),
    )
    .execute();
}
const ANNOUNCE_TIMEOUT_MS = 1_000;

export interface OutboxRelayOptions {
  db: Kysely<Database>;
  bus: InvalidationBus;
  /** Refuses a revoked credential's tokens everywhere (SessionResolver.forgetSession). */
  revoke: (sid: string, untilMs: number) => Promise<void>;
  /** How long a revoked credential's tokens can live, ms. */
  rememberMs: number;
  log: Logger;
  intervalMs?: number;
  /** Called after events were fanned out to webhook deliveries (wakes the delivery worker). */
  onDeliveries?: () => void;
  /** The event stream: where, and about how many entries it keeps (XADD MAXLEN ~). Absent: no stream. */
  stream?: { redis: RedisClient; maxLen: number };
}

export class OutboxRelay {
  readonly #o: OutboxRelayOptions;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.#o.intervalMs ?? 1_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Delivers what is pending; never rejects. A call during a pass gets one more pass. */
  flush(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      try {
        while ((await this.#pass("event")) === BATCH) {}
        while ((await this.#pass("invalidation")) === BATCH) {}
        while ((await this.#streamPass()) === BATCH) {}
      } catch (e) {
        this.#o.log.warn({ err: (e as Error).message }, "outbox not delivered yet; retrying");
        return;
      }
    } while (this.#again);
  }

  /** One batch of one topic; returns how many rows it delivered. */
  async #pass(topic: "invalidation" | "event"): Promise<number> {
    const n = await this.#o.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom("outbox")
        .select(["id", "payload"])
        .where("published_at", "is", null)
        .where("topic", "=", topic)
        .orderBy("id")
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      for (const row of rows) {
        if (topic === "event") await fanOut(trx, row.id, row.payload as StoredEvent);
        else await this.#announce(row.payload as OutboxPayload);
      }
      await stamp(trx, "published_at", rows);
      return rows.length;
    });
    if (topic === "event" && n > 0) this.#o.onDeliveries?.();
    return n;
  }

  /** Appends one batch of unstreamed events to the Redis Stream, in outbox order; returns how many. */
  async #streamPass(): Promise<number> {
    const stream = this.#o.stream;
    if (!stream) return 0;
    return this.#o.db.transaction().execute(async (trx) => {
      const lock = await sql<{
        ok: boolean;
      }>`select pg_try_advisory_xact_lock(hashtext('gatehouse.event_stream')) as ok`.execute(trx);
      if (!lock.rows[0]?.ok) return 0; // another instance is streaming: it keeps the order
      const rows = await trx
        .selectFrom("outbox")
        .select(["id", "payload"])
        .where("topic", "=", "event")
        .where("streamed_at", "is", null)
        .orderBy("id")
        .limit(BATCH)
        .execute();
      if (rows.length === 0) return 0;
      // One pipeline on one connection: Redis appends the entries in this order.
      const pipeline = stream.redis.pipeline();
      for (const row of rows) {
        const event = { ...(row.payload as StoredEvent), sequence: row.id };
        const max = String(stream.maxLen);
        pipeline.xadd(
          EVENT_STREAM,
          "MAXLEN",
          "~",
          max,
          "*",
          "id",
          event.id,
          "type",
          event.type,
          "event",
          JSON.stringify(event),
        );
      }
      const sent = pipeline.exec();
      sent.catch(() => {});
      const results = await settleWithin(sent, ANNOUNCE_TIMEOUT_MS, () => new Error("event stream timed out"));
      const failed = (results ?? []).find(([err]) => err !== null)?.[0];
      if (failed || results === null) throw failed ?? new Error("event stream not written");
      await stamp(trx, "streamed_at", rows);
      return rows.length;
    });
  }

  async #announce(payload: OutboxPayload): Promise<void> {
    const until = Date.now() + this.#o.rememberMs;
    const work = (async () => {
      for (const id of payload.identities) await this.#o.bus.publish({ t: "identity", id });
      for (const sid of payload.revoked) await this.#o.revoke(sid, until);
    })();
    work.catch(() => {}); // after a timeout, its own failure is nobody's business
    await settleWithin(work, ANNOUNCE_TIMEOUT_MS, () => new Error("announcing timed out"));
  }
}

/** One delivery per live subscription that wants this event (its type, or "*"; its organization, or every one). */
async function fanOut(trx: Kysely<Database>, outboxId: string, event: StoredEvent): Promise<void> {
  await sql`insert into webhook_deliveries (subscription_id, outbox_id)
    select s.id, ${outboxId}::bigint from webhook_subscriptions s
    where s.deleted_at is null
      and (${event.type} = any(s.event_types) or '*' = any(s.event_types))
      and (s.organization_id is null or s.organization_id = ${event.organization_id})
    on conflict do nothing`.execute(trx);
}

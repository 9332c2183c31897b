// Delivers the outbox (db/migrations/0003_outbox.ts): pending rows, oldest first, are
// announced on the invalidation bus (this instance at once, the others through Redis)
// and marked published in the same transaction that locked them. FOR UPDATE SKIP
// LOCKED lets several instances relay side by side without announcing a row twice
// at the same time; a row whose announcement failed (Redis down) stays pending and is
// tried again on the next pass. Runs after every commit and on a timer.
import { settleWithin } from "@gatehouse/tokens";
import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import type { InvalidationBus } from "../cache/bus.ts";
import type { Database, OutboxPayload } from "../db/schema.ts";

const BATCH = 100;
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
        while ((await this.#pass()) === BATCH) {}
      } catch (e) {
        this.#o.log.warn({ err: (e as Error).message }, "outbox not delivered yet; retrying");
        return;
      }
    } while (this.#again);
  }

  /** One batch; returns how many rows it delivered. */
  async #pass(): Promise<number> {
    return this.#o.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom("outbox")
        .select(["id", "payload"])
        .where("published_at", "is", null)
        .orderBy("id")
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      for (const row of rows) await this.#announce(row.payload);
      await trx
        .updateTable("outbox")
        .set({ published_at: sql<Date>`now()` })
        .where(
          "id",
          "in",
          rows.map((r) => r.id),
        )
        .execute();
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

// Sends webhook deliveries (rows the outbox relay fanned out, see ../outbox/relay.ts)
// as Standard Webhooks messages, signed with the `standardwebhooks` library, so
// receivers verify with the same library. Safe with several instances: a worker
// claims due rows with FOR UPDATE SKIP LOCKED and takes a lease on them; a worker
// that dies mid-delivery leaves the lease to expire and another sends again (at
// least once; `webhook-id` is the event id, the same on every attempt). A failed
// attempt is scheduled again with exponential backoff and jitter; once the delivery is
// older than the retry window the delivery is dead-lettered for an operator to replay.
import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import { Webhook } from "standardwebhooks";
import type { AuthConfig } from "../config.ts";
import type { Database, StoredEvent } from "../db/schema.ts";
import type { SecretBox } from "./secret-box.ts";

const BATCH = 20;

interface Claimed {
  id: string;
  attempts: number;
  created_at: Date;
  url: string;
  subscription_id: string;
  secret: string;
  secret_kid: string | null;
  outbox_id: string;
  payload: StoredEvent;
}

export interface DeliveryOptions {
  db: Kysely<Database>;
  schedule: AuthConfig["webhookDelivery"];
  log: Logger;
  /** Opens the subscriptions' sealed secrets. */
  box: SecretBox;
}

/** How long attempt `attempts` (1-based) waits before the next: exponential, capped, jittered to 50-100%. */
export function backoffMs(attempts: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempts - 1, 40));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export class WebhookDelivery {
  readonly #o: DeliveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  readonly #inFlight = new Set<AbortController>();

  constructor(options: DeliveryOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poke(), this.#o.schedule.pollMs);
    this.#timer.unref();
  }

  /** Stops polling and abandons what is in flight (its leases expire; another instance sends again). */
  stop(): void {
    clearInterval(this.#timer);
    for (const c of this.#inFlight) c.abort();
  }

  /** Sends what is due; never rejects. A call during a pass gets one more pass. */
  poke(): Promise<void> {
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
        let claimed: Claimed[];
        do {
          claimed = await this.#claim();
          await Promise.all(claimed.map((d) => this.#send(d)));
        } while (claimed.length === BATCH);
      } catch (e) {
        this.#o.log.warn({ err: (e as Error).message }, "webhook deliveries not sent yet; retrying");
        return;
      }
    } while (this.#again);
  }

  /** Due rows, oldest first, leased for longer than one attempt can take. */
  async #claim(): Promise<Claimed[]> {
    const leaseMs = this.#o.schedule.timeoutMs + 5_000;
    const r = await sql<Claimed>`
      with due as (
        select id from webhook_deliveries
        where state = 'pending' and next_attempt_at <= now() and (lease_until is null or lease_until <= now())
        order by next_attempt_at, id
        limit ${BATCH}
        for update skip locked
      )
      update webhook_deliveries d
      set lease_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = d.attempts + 1
      from due, webhook_subscriptions s, outbox o
      where d.id = due.id and s.id = d.subscription_id and o.id = d.outbox_id
      returning d.id, d.attempts, d.created_at, s.url, s.id as subscription_id, s.secret, s.secret_kid,
        d.outbox_id, o.payload`.execute(this.#o.db);
    return r.rows;
  }

  async #send(d: Claimed): Promise<void> {
    const error = await this.#post(d);
    if (error === undefined) {
      await sql`update webhook_deliveries set state = 'delivered', delivered_at = now(), lease_until = null,
        last_error = null where id = ${d.id}`.execute(this.#o.db);
      return;
    }
    const { baseMs, maxMs, retryForMs } = this.#o.schedule;
    const wait = backoffMs(d.attempts, baseMs, maxMs);
    const dead = Date.now() + wait > d.created_at.getTime() + retryForMs;
    await sql`update webhook_deliveries
      set state = ${dead ? "dead" : "pending"}, lease_until = null, last_error = ${error},
          next_attempt_at = now() + make_interval(secs => ${wait / 1000})
      where id = ${d.id}`.execute(this.#o.db);
    this.#o.log.info({ delivery: d.id, attempts: d.attempts, dead, err: error }, "webhook delivery failed");
  }

  /** One attempt; undefined when the receiver answered 2xx, else why not (never the secret or body). */
  async #post(d: Claimed): Promise<string | undefined> {
    const body = JSON.stringify({ ...d.payload, sequence: d.outbox_id });
    let secret: string;
    try {
      secret = await this.#o.box.open({ secret: d.secret, kid: d.secret_kid }, d.subscription_id);
    } catch (e) {
      return `secret not readable: ${(e as Error).message}`;
    }
    const at = new Date();
    const abort = new AbortController();
    this.#inFlight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.#o.schedule.timeoutMs);
    try {
      const res = await fetch(d.url, {
        method: "POST",
        redirect: "manual",
        signal: abort.signal,
        headers: {
          "content-type": "application/json",
          "webhook-id": d.payload.id,
          "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
          "webhook-signature": new Webhook(secret).sign(d.payload.id, at, body),
        },
        body,
      });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`;
    } catch (e) {
      return ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(abort);
    }
  }
}

// Cross-instance invalidation over Redis pub/sub. Cached entries carry the
// generation of their identity at the time they were filled; bumping the
// generation makes every such entry stale at once, in O(1), on every instance.
//
// Redis is optional for serving: the bus never blocks start-up on it. It subscribes
// whenever the subscriber connection becomes ready (at start, or when Redis comes
// back, however long it was away), and after every (re)subscription it assumes it
// missed messages meanwhile: every generation moves on, so cached principals and
// tokens are rebuilt, and the resync listeners (session cache, keys) run.
// The channel and the messages are @gatehouse/contracts' (what the guards hear too).
import { INVALIDATION_CHANNEL, type Invalidation, parseInvalidation } from "@gatehouse/contracts";
import type { RedisClient, RedisSubscriber } from "@gatehouse/redis";
import type { Logger } from "pino";

export type { Invalidation };

export class InvalidationBus {
  // Generations come from one counter that only grows, so a value is never reused:
  // after a resync (#base moves past every value handed out) no old entry matches.
  #counter = 0;
  #base = 0;
  readonly #gen = new Map<string, number>();
  readonly #revoked = new Map<string, number>();
  readonly #keyListeners = new Set<() => void>();
  readonly #resyncListeners = new Set<() => void>();
  #pub: RedisClient | undefined;
  #sub: RedisSubscriber | undefined;
  #subscribed = false;
  #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Publishes on `pub`; listens on `sub`, a dedicated connection that does not
   * resubscribe by itself (openSubscriber: the bus subscribes on every 'ready' itself,
   * so it knows when it is subscribed). Returns at once: nothing here waits for Redis.
   */
  attach(pub: RedisClient, sub: RedisSubscriber): void {
    this.#pub = pub;
    this.#sub = sub;
    sub.on("message", (_ch: string, raw: string) => {
      const msg = parseInvalidation(raw);
      if (msg) this.#apply(msg);
      else this.#log.warn("ignored malformed invalidation message");
    });
    sub.on("close", () => {
      if (this.#subscribed)
        this.#log.warn("invalidation channel lost; cached entries follow their TTLs until it is back");
      this.#subscribed = false;
    });
    sub.on("ready", () => this.#subscribe(sub));
    if (sub.status === "ready") this.#subscribe(sub);
  }

  /** True while this instance hears the other instances' invalidations. */
  get subscribed(): boolean {
    return this.#subscribed && this.#sub?.status === "ready";
  }

  #subscribe(sub: RedisSubscriber): void {
    sub.subscribe(INVALIDATION_CHANNEL).then(
      () => {
        if (this.#subscribed) return;
        this.#subscribed = true;
        this.#log.info("invalidation channel subscribed");
        this.#resync();
      },
      (e: Error) => this.#log.warn({ err: e.message }, "invalidation channel not subscribed yet"),
    );
  }

  /** Messages may have been missed: nothing cached before now is trusted. */
  #resync(): void {
    this.#gen.clear();
    this.#base = ++this.#counter;
    for (const fn of this.#resyncListeners) fn();
    for (const fn of this.#keyListeners) fn();
  }

  generation(identityId: string): number {
    return this.#gen.get(identityId) ?? this.#base;
  }

  isSessionRevoked(sid: string): boolean {
    const until = this.#revoked.get(sid);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.#revoked.delete(sid);
      return false;
    }
    return true;
  }

  onKeysChanged(fn: () => void): void {
    this.#keyListeners.add(fn);
  }

  /** Called after a (re)subscription, when messages may have been missed. */
  onResync(fn: () => void): void {
    this.#resyncListeners.add(fn);
  }

  /** Applies locally at once, then tells the other instances. */
  async publish(msg: Invalidation): Promise<void> {
    this.#apply(msg);
    if (this.#pub) await this.#pub.publish(INVALIDATION_CHANNEL, JSON.stringify(msg));
  }

  #apply(msg: Invalidation): void {
    switch (msg.t) {
      case "identity":
        this.#gen.set(msg.id, ++this.#counter);
        break;
      case "session":
        this.#revoked.set(msg.sid, msg.until);
        break;
      case "keys":
        for (const fn of this.#keyListeners) fn();
        break;
    }
  }
}

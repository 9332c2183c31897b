// Where the brute-force counters live. Redis, shared by every gateway instance,
// when it answers; bounded in-memory counters of this instance when it does not
// (down, slow, or not configured), so an outage of Redis never means "no login
// limit". What that gives up, documented in the README: while Redis is down each
// instance counts on its own (N instances allow up to N × the limit), and counts
// made in memory are not carried over when Redis returns.

import type { RedisClient } from "@gatehouse/redis";
import { LruCache } from "@gatehouse/tokens";

export interface CounterStore {
  /** The longest remaining lock among `locks` (ms, 0 when none) and the value of `counter`. */
  read(locks: readonly string[], counter: string | undefined): Promise<{ lockMs: number; count: number }>;
  /** Adds one to each counter; a counter's window starts with its first increment. Returns the new values. */
  increment(counters: readonly string[], windowMs: number): Promise<number[]>;
  lock(keys: readonly string[], ms: number): Promise<void>;
  remove(keys: readonly string[]): Promise<void>;
}

/**
 * One command (or one MULTI on one key) per counter: an address' and an account's
 * counters live in different slots of a Redis Cluster, where a MULTI over both is
 * refused (CROSSSLOT). The commands are still sent back to back, one round trip.
 */
export class RedisCounters implements CounterStore {
  readonly #redis: RedisClient;
  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  get ready(): boolean {
    return this.#redis.status === "ready";
  }

  async read(locks: readonly string[], counter: string | undefined) {
    const [ttls, count] = await Promise.all([
      Promise.all(locks.map((k) => this.#redis.pttl(k))),
      counter === undefined ? null : this.#redis.get(counter),
    ]);
    return { lockMs: Math.max(0, ...ttls), count: Number(count ?? 0) };
  }

  async increment(counters: readonly string[], windowMs: number) {
    // The count and its window go together: a counter without an expiry would never reset.
    return Promise.all(
      counters.map(async (k) => {
        const res = (await this.#redis.multi().incr(k).pexpire(k, windowMs, "NX").exec()) ?? [];
        const failed = res.find(([e]) => e !== null);
        if (failed) throw failed[0];
        return Number(res[0]?.[1] ?? 0);
      }),
    );
  }

  async lock(keys: readonly string[], ms: number) {
    await Promise.all(keys.map((k) => this.#redis.set(k, "1", "PX", ms)));
  }

  async remove(keys: readonly string[]) {
    await Promise.all(keys.map((k) => this.#redis.del(k)));
  }
}

interface Slot {
  value: number;
  untilMs: number;
}

/** Counters in this process: bounded (least recently used go first), each expiring on its own. */
export class MemoryCounters implements CounterStore {
  readonly #slots: LruCache<string, Slot>;
  readonly #now: () => number;

  constructor(size = 100_000, now: () => number = Date.now) {
    this.#slots = new LruCache(size);
    this.#now = now;
  }

  #get(key: string): Slot | undefined {
    const s = this.#slots.get(key);
    if (s !== undefined && s.untilMs <= this.#now()) {
      this.#slots.delete(key);
      return undefined;
    }
    return s;
  }

  async read(locks: readonly string[], counter: string | undefined) {
    let lockMs = 0;
    for (const k of locks) {
      const s = this.#get(k);
      if (s) lockMs = Math.max(lockMs, s.untilMs - this.#now());
    }
    return { lockMs, count: counter === undefined ? 0 : (this.#get(counter)?.value ?? 0) };
  }

  async increment(counters: readonly string[], windowMs: number) {
    return counters.map((k) => {
      const s = this.#get(k);
      if (s) {
        s.value++;
        return s.value;
      }
      this.#slots.set(k, { value: 1, untilMs: this.#now() + windowMs });
      return 1;
    });
  }

  async lock(keys: readonly string[], ms: number) {
    for (const k of keys) this.#slots.set(k, { value: 1, untilMs: this.#now() + ms });
  }

  async remove(keys: readonly string[]) {
    for (const k of keys) this.#slots.delete(k);
  }
}

/**
 * Redis when it answers within `timeoutMs`, this instance's memory otherwise. A
 * failed Redis call is retried in memory at once (the request never waits on an
 * outage twice); `onDegraded` is told when the store switches, in either direction.
 */
export class FallbackCounters implements CounterStore {
  readonly #redis: RedisCounters | undefined;
  readonly #memory: MemoryCounters;
  readonly #timeoutMs: number;
  readonly #onChange: (degraded: boolean, error?: Error) => void;
  #degraded = false;

  constructor(opts: {
    redis: RedisCounters | undefined;
    memory?: MemoryCounters;
    timeoutMs?: number;
    onChange?: (degraded: boolean, error?: Error) => void;
  }) {
    this.#redis = opts.redis;
    this.#memory = opts.memory ?? new MemoryCounters();
    this.#timeoutMs = opts.timeoutMs ?? 250;
    this.#onChange = opts.onChange ?? (() => {});
  }

  /** True while counting in memory. */
  get degraded(): boolean {
    return this.#redis === undefined || this.#degraded;
  }

  async #run<T>(op: (s: CounterStore) => Promise<T>): Promise<T> {
    const redis = this.#redis;
    if (redis?.ready) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const out = await Promise.race([
          op(redis),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)),
              this.#timeoutMs,
            );
          }),
        ]);
        if (this.#degraded) {
          this.#degraded = false;
          this.#onChange(false);
        }
        return out;
      } catch (error) {
        if (!this.#degraded) {
          this.#degraded = true;
          this.#onChange(true, error as Error);
        }
      } finally {
        clearTimeout(timer);
      }
    } else if (redis !== undefined && !this.#degraded) {
      this.#degraded = true;
      this.#onChange(true, new Error("Redis is not connected"));
    }
    return op(this.#memory);
  }

  read(locks: readonly string[], counter: string | undefined) {
    return this.#run((s) => s.read(locks, counter));
  }
  increment(counters: readonly string[], windowMs: number) {
    return this.#run((s) => s.increment(counters, windowMs));
  }
  lock(keys: readonly string[], ms: number) {
    return this.#run((s) => s.lock(keys, ms));
  }
  remove(keys: readonly string[]) {
    return this.#run((s) => s.remove(keys));
  }
}

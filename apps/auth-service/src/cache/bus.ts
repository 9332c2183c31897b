// Cross-instance invalidation over Redis pub/sub. Cached entries carry the
// generation of their identity at the time they were filled; bumping the
// generation makes every such entry stale at once, in O(1), on every instance.
import { INVALIDATION_CHANNEL, type Invalidation } from "@gatehouse/guard";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

export type { Invalidation };

export class InvalidationBus {
  readonly #gen = new Map<string, number>();
  readonly #revoked = new Map<string, number>();
  readonly #keyListeners = new Set<() => void>();
  #pub: Redis | undefined;
  #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  async attach(pub: Redis, sub: Redis): Promise<void> {
    this.#pub = pub;
    sub.on("message", (_ch: string, raw: string) => {
      try {
        this.#apply(JSON.parse(raw) as Invalidation);
      } catch {
        this.#log.warn("ignored malformed invalidation message");
      }
    });
    await sub.subscribe(INVALIDATION_CHANNEL);
  }

  generation(identityId: string): number {
    return this.#gen.get(identityId) ?? 0;
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

  /** Applies locally at once, then tells the other instances. */
  async publish(msg: Invalidation): Promise<void> {
    this.#apply(msg);
    if (this.#pub) await this.#pub.publish(INVALIDATION_CHANNEL, JSON.stringify(msg));
  }

  #apply(msg: Invalidation): void {
    switch (msg.t) {
      case "identity":
        this.#gen.set(msg.id, this.generation(msg.id) + 1);
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

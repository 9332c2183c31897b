// What the auth-service announced on its invalidation channel: identities whose
// roles, memberships, teams or plan changed, and revoked sessions. A cached token
// issued before such a change is not reused (the guard exchanges again), so a role
// change or a logout reaches the guard at once instead of after the cache TTL.
// Edge-safe: it only parses messages; a Node entry feeds it from Redis pub/sub.

/** The auth-service's Redis pub/sub channel (apps/auth-service/src/cache/bus.ts). */
export const INVALIDATION_CHANNEL = "gatehouse:invalidate";

export interface InvalidationView {
  /** True when a token for `subject`/`sessionId` issued at `issuedAtSec` predates a change. */
  isStale(subject: string, sessionId: string, issuedAtSec: number): boolean;
}

const MAX_ENTRIES = 100_000;
const REMEMBER_MS = 60 * 60 * 1000;

export class InvalidationLog implements InvalidationView {
  readonly #changed = new Map<string, number>();
  readonly #now: () => number;
  /** Anything issued at or before this (epoch ms) is stale: see resync(). */
  #allBefore = Number.NEGATIVE_INFINITY;
  /** Whether announcements are being heard right now (kept by whoever feeds this log). */
  listening = false;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Applies one message from the channel; malformed messages are ignored. */
  apply(raw: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof msg !== "object" || msg === null) return;
    const m = msg as { t?: unknown; id?: unknown; sid?: unknown };
    if (m.t === "identity" && typeof m.id === "string") this.#mark(m.id);
    else if (m.t === "session" && typeof m.sid === "string") this.#mark(m.sid);
  }

  /**
   * Announcements may have been missed (the channel was down, or was not up yet):
   * every token issued until now counts as stale, so each is exchanged once more.
   */
  resync(): void {
    this.#allBefore = this.#now();
  }

  isStale(subject: string, sessionId: string, issuedAtSec: number): boolean {
    // Seconds vs milliseconds: a token from the same second as the change counts as stale (one extra exchange, never a stale grant).
    const issuedMs = issuedAtSec * 1000;
    if (issuedMs <= this.#allBefore) return true;
    const a = this.#changed.get(subject);
    const b = this.#changed.get(sessionId);
    return (a !== undefined && a >= issuedMs) || (b !== undefined && b >= issuedMs);
  }

  #mark(id: string): void {
    const now = this.#now();
    this.#changed.delete(id);
    this.#changed.set(id, now);
    if (this.#changed.size > MAX_ENTRIES) {
      // Oldest first (Map keeps insertion order); entries older than any cache TTL are useless anyway.
      for (const [k, at] of this.#changed) {
        if (this.#changed.size <= MAX_ENTRIES && now - at < REMEMBER_MS) break;
        this.#changed.delete(k);
      }
    }
  }
}

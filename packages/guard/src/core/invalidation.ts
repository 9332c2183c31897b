// What the auth-service announces on its invalidation channel (the messages are
// @gatehouse/contracts' Invalidation), as a guard applies it:
// identities whose roles, memberships, teams or plan changed, revoked sessions (a
// logout, an admin revocation, other sessions ended by a password change) and
// revoked API keys, and rotated signing keys. A cached token issued before a change
// is not reused (the guard exchanges again); a token of a revoked session or key is
// refused outright, on the JWT path too, with no network call per request.
// Edge-safe: it only parses messages; a Node entry feeds it from Redis pub/sub.

import { parseInvalidation } from "@gatehouse/contracts";

export interface InvalidationView {
  /**
   * True when a token for `subject`/`sessionId` issued at `issuedAtSec` predates a change.
   * `confirmedAtMs`: when the auth-service last handed this token out (an exchange started
   * then); a resync only doubts what was not confirmed since.
   */
  isStale(subject: string, sessionId: string, issuedAtSec: number, confirmedAtMs?: number): boolean;
  /** True when the session (or API key, `api_key:<id>`) was revoked: its tokens are refused. */
  isRevoked(sessionId: string): boolean;
}

const MAX_ENTRIES = 100_000;
const REMEMBER_MS = 60 * 60 * 1000;

export class InvalidationLog implements InvalidationView {
  readonly #changed = new Map<string, number>();
  readonly #revoked = new Map<string, number>();
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
    const msg = parseInvalidation(raw);
    if (msg?.t === "identity") this.#mark(this.#changed, msg.id, this.#now());
    else if (msg?.t === "session") {
      this.#mark(this.#changed, msg.sid, this.#now());
      this.revoke(msg.sid, msg.until);
    }
  }

  /** Remembers a revoked session until `untilMs` (when its last token has expired). */
  revoke(sessionId: string, untilMs: number): void {
    if (untilMs > this.#now()) this.#mark(this.#revoked, sessionId, Math.min(untilMs, this.#now() + REMEMBER_MS));
  }

  /**
   * Announcements may have been missed (the channel was down, or was not up yet):
   * every token issued until now counts as stale, so each is exchanged once more.
   */
  resync(): void {
    this.#allBefore = this.#now();
  }

  isStale(subject: string, sessionId: string, issuedAtSec: number, confirmedAtMs?: number): boolean {
    // Seconds vs milliseconds: a token from the same second as the change counts as stale (one extra exchange, never a stale grant).
    const issuedMs = issuedAtSec * 1000;
    // A resync doubts everything this guard held, not what the auth-service (which
    // resyncs on its own) handed out since: its cached token may be older than the
    // resync and is still its current answer. Without this, every request after a
    // restart exchanged again until that token's reuse window ended.
    if (Math.max(issuedMs, confirmedAtMs ?? issuedMs) <= this.#allBefore) return true;
    const a = this.#changed.get(subject);
    const b = this.#changed.get(sessionId);
    return (a !== undefined && a >= issuedMs) || (b !== undefined && b >= issuedMs);
  }

  isRevoked(sessionId: string): boolean {
    const until = this.#revoked.get(sessionId);
    return until !== undefined && until > this.#now();
  }

  /** Sets `at` for `id`, keeping insertion order = age, and the map bounded. */
  #mark(map: Map<string, number>, id: string, at: number): void {
    map.delete(id);
    map.set(id, at);
    if (map.size <= MAX_ENTRIES) return;
    // Oldest first (Map keeps insertion order). A revocation dropped here under a flood of
    // over 100,000 in an hour is still refused at the next exchange, just not on the JWT path.
    const now = this.#now();
    for (const [k, v] of map) {
      if (map.size <= MAX_ENTRIES && (map === this.#revoked ? v > now : now - v < REMEMBER_MS)) break;
      map.delete(k);
    }
  }
}

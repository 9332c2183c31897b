// The cache in front of the token exchange: an in-process LRU, then (optionally)
// Redis shared by every instance, then one upstream call per key however many
// requests ask at once. Keys are SHA-256 hashes of the credential, never the raw
// cookie, token or API key. Values are Gatehouse JWTs, which are verified again on
// every read: a tampered Redis can at worst replay a genuine, unexpired token.
// Redis is only ever a cache: when it is slow or down the guard asks the
// auth-service instead, it never denies because of Redis.
import { digestHex } from "@gatehouse/kratos/credentials";
import { LruCache, settleWithin } from "@gatehouse/tokens";
import type { GuardEvent, Principal } from "../types.ts";

const DIGEST_CHARS = 32;

/**
 * The few Redis commands the guard uses, typed structurally so any ioredis-compatible
 * client fits without this package importing ioredis (and so the core stays Edge-safe).
 */
export interface RedisLike {
  /** ioredis' connection state; when present and not usable, Redis is skipped without a round trip. */
  readonly status?: string;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: "PX", ttlMs: number): Promise<unknown>;
  exists?(key: string): Promise<number>;
}

export interface CachedToken {
  token: string;
  /** When the entry stops being served (epoch ms). */
  expiresAtMs: number;
  /**
   * The principal built from the token when it was verified, with the token's `iat` and,
   * when it came from an exchange, when that exchange was asked (see InvalidationView)
   * (in-process only, never written to Redis). A hit then costs a map lookup and an
   * invalidation check instead of a verification and a new principal per request.
   */
  verified?: { principal: Principal; issuedAtSec: number; confirmedAtMs?: number };
}

// ioredis states in which a command would sit in the offline queue or fail:
// skip Redis at once instead of waiting for it.
const UNUSABLE_STATES = new Set(["connecting", "connect", "reconnecting", "close", "end"]);

export interface TokenCacheOptions {
  size: number;
  redis?: RedisLike | undefined;
  prefix: string;
  redisTimeoutMs: number;
  now: () => number;
  onEvent: (event: GuardEvent) => void;
}

export class TokenCache {
  readonly #l1: LruCache<string, CachedToken>;
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #redis: RedisLike | undefined;
  readonly #prefix: string;
  readonly #redisTimeoutMs: number;
  readonly #now: () => number;
  readonly #onEvent: (event: GuardEvent) => void;

  constructor(options: TokenCacheOptions) {
    this.#l1 = new LruCache(options.size);
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#redisTimeoutMs = options.redisTimeoutMs;
    this.#now = options.now;
    this.#onEvent = options.onEvent;
  }

  /** In-process hit, or undefined. Synchronous: a hit costs no I/O at all. */
  local(key: string): CachedToken | undefined {
    const hit = this.#l1.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAtMs > this.#now()) return hit;
    this.#l1.delete(key);
    return undefined;
  }

  // Keys are a credential's latin1 digest (32 characters), then "|<organization id>"
  // when the token is scoped to one: Redis gets the digest in hex, which is also
  // what @gatehouse/kratos' credentialKey computes.
  #redisKey(key: string): string {
    return this.#prefix + digestHex(key.slice(0, DIGEST_CHARS)) + key.slice(DIGEST_CHARS);
  }

  forget(key: string): void {
    this.#l1.delete(key);
  }

  /** Redis hit, or undefined (also when Redis is absent, down or slow). */
  async shared(key: string): Promise<CachedToken | undefined> {
    const redis = this.#usableRedis();
    if (redis === undefined) return undefined;
    let raw: string | null;
    try {
      raw = await settleWithin(
        redis.get(this.#redisKey(key)),
        this.#redisTimeoutMs,
        () => new Error("Redis GET timed out"),
      );
    } catch (error) {
      this.#onEvent({ type: "redis_error", operation: "get", message: messageOf(error) });
      return undefined;
    }
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as { t?: unknown; x?: unknown };
      if (typeof parsed.t !== "string" || typeof parsed.x !== "number") return undefined;
      if (parsed.x <= this.#now()) return undefined;
      return { token: parsed.t, expiresAtMs: parsed.x };
    } catch {
      return undefined;
    }
  }

  /**
   * Remembers a positive answer in the LRU at once and in Redis in the background (best
   * effort): the request that brought the answer need not wait a Redis round trip.
   * The SET is sent before this returns, so a later GET on the same connection sees it.
   */
  store(key: string, entry: CachedToken, shared = true): void {
    const ttlMs = Math.floor(entry.expiresAtMs - this.#now());
    if (ttlMs <= 0) return;
    this.#l1.set(key, entry);
    if (!shared) return;
    const redis = this.#usableRedis();
    if (redis === undefined) return;
    settleWithin(
      redis.set(this.#redisKey(key), JSON.stringify({ t: entry.token, x: entry.expiresAtMs }), "PX", ttlMs),
      this.#redisTimeoutMs,
      () => new Error("Redis SET timed out"),
    ).catch((error: unknown) => this.#onEvent({ type: "redis_error", operation: "set", message: messageOf(error) }));
  }

  /**
   * Runs `load` once per key at a time: concurrent callers for the same key share
   * the one promise (and its outcome, success or failure).
   */
  singleFlight<T>(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.#inflight.get(key) as Promise<T> | undefined;
    if (pending !== undefined) return pending;
    const started = load().finally(() => {
      if (this.#inflight.get(key) === started) this.#inflight.delete(key);
    });
    this.#inflight.set(key, started);
    return started;
  }

  #usableRedis(): RedisLike | undefined {
    const redis = this.#redis;
    if (redis === undefined) return undefined;
    if (typeof redis.status === "string" && UNUSABLE_STATES.has(redis.status)) return undefined;
    return redis;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

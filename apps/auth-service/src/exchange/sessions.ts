// Credential → Kratos session, through an in-process LRU, then Redis, then one
// whoami per credential however many requests ask at once. Keys are a hash of
// the credential, never the raw cookie or token. An entry lives no longer than the
// session or SESSION_CACHE_TTL_SECONDS, whichever ends first. A "not a valid
// session" is remembered for 5 s in this process only (DENIED_TTL_MS).
//
// The in-process tier holds CompactSession entries (../cache/compact-session.ts)
// keyed by the raw 32-byte SHA-256 digest as a 32-character string: 100,000
// cached sessions take ~36 MB instead of ~99 MB (bench/README.md). The hex form
// of the same digest (what credentialKey returns) names the Redis entries and is
// the `key` callers get.
import { revokedKey } from "@gatehouse/contracts";
import {
  digestCredentialSync,
  type KratosClient,
  type KratosCredential,
  KratosError,
  type KratosSession,
} from "@gatehouse/kratos";
import { digestHex } from "@gatehouse/kratos/credentials";
import type { RedisClient } from "@gatehouse/redis";
import { LruCache } from "@gatehouse/tokens";
import type { Logger } from "pino";
import type { InvalidationBus } from "../cache/bus.ts";
import { CompactSession } from "../cache/compact-session.ts";
import type { Metrics } from "../ops/metrics.ts";

/** A cached session as Redis holds it (JSON, see #writeL2). */
interface Entry {
  session: KratosSession;
  expiresAtMs: number;
}

/** A resolved session: its ids at once, the full session object on demand. */
export interface SessionRef {
  /** The credential's SHA-256 digest as a 32-character string: a compact key for in-process caches. */
  digest: string;
  sid: string;
  identityId: string;
  session(): KratosSession;
}

const L2_PREFIX = "gh:s:";
const SID_KEYS_PREFIX = "gh:sk:";

/**
 * SHA-256 of `kind:value` (UTF-8), computed synchronously, as a 32-character (one
 * byte per character) string: the in-process cache key. digestHex() turns it into
 * credentialKey(cred)'s form, which names the Redis entries; only a miss needs that.
 */
export function credentialDigest(cred: KratosCredential): string {
  return digestCredentialSync(cred.kind, cred.value);
}

/**
 * How long Kratos' "not a valid session" is believed without asking again: a flood of
 * the same bad cookie reaches Kratos once per this, not once per request. Short, because
 * a credential never turns valid later, but a wrong 401 (an outage) must not linger.
 */
const DENIED_TTL_MS = 5_000;

export class SessionResolver {
  #l1: LruCache<string, CompactSession>;
  readonly #denied = new LruCache<string, number>(10_000);
  readonly #inflight = new Map<string, Promise<KratosSession>>();
  readonly #kratos: KratosClient;
  readonly #redis: RedisClient | undefined;
  readonly #bus: InvalidationBus;
  readonly #ttlMs: number;
  readonly #metrics: Metrics;
  readonly #log: Logger;

  constructor(opts: {
    kratos: KratosClient;
    redis?: RedisClient;
    bus: InvalidationBus;
    ttlSec: number;
    size: number;
    metrics: Metrics;
    log: Logger;
  }) {
    this.#kratos = opts.kratos;
    this.#redis = opts.redis;
    this.#bus = opts.bus;
    this.#ttlMs = opts.ttlSec * 1000;
    this.#l1 = new LruCache(Math.max(1, opts.size));
    // Revocations announced while the bus was not subscribed were missed: start afresh.
    this.#bus.onResync(() => {
      this.#l1 = new LruCache(Math.max(1, opts.size));
    });
    this.#metrics = opts.metrics;
    this.#log = opts.log;
  }

  /** Returns the live session behind a credential, or throws KratosError. */
  async resolve(cred: KratosCredential): Promise<{ session: KratosSession; key: string }> {
    const ref = await this.lookup(cred);
    return { session: ref.session(), key: digestHex(ref.digest) };
  }

  /**
   * resolve() without building the session object up front: a warm token exchange
   * needs only the ids (its minted token is cached), and building a KratosSession
   * from the compact entry was ~5% of its CPU.
   */
  async lookup(cred: KratosCredential): Promise<SessionRef> {
    const l1 = credentialDigest(cred);
    const now = Date.now();
    const hit = this.#l1.get(l1);
    if (hit && hit.untilMs > now && !this.#bus.isSessionRevoked(hit.sid)) {
      this.#metrics.cache.inc({ tier: "memory", result: "hit" });
      return { digest: l1, sid: hit.sid, identityId: hit.iid, session: () => hit.toSession() };
    }
    if (hit) this.#l1.delete(l1);
    const denied = this.#denied.get(l1);
    if (denied !== undefined && denied > now) {
      this.#metrics.cache.inc({ tier: "memory", result: "denied" });
      throw new KratosError("unauthenticated", "Kratos said this is not a valid session (remembered)");
    }
    this.#metrics.cache.inc({ tier: "memory", result: "miss" });
    let pending = this.#inflight.get(l1);
    if (!pending) {
      // The hex form (credentialKey) names the Redis entries; only a miss needs it.
      pending = this.#fill(l1, digestHex(l1), cred)
        .catch((e: unknown) => {
          if (e instanceof KratosError && e.code === "unauthenticated")
            this.#denied.set(l1, Date.now() + DENIED_TTL_MS);
          throw e;
        })
        .finally(() => this.#inflight.delete(l1));
      this.#inflight.set(l1, pending);
    }
    const session = await pending;
    return { digest: l1, sid: session.id, identityId: session.identity.id, session: () => session };
  }

  async #fill(l1: string, key: string, cred: KratosCredential): Promise<KratosSession> {
    const fromRedis = await this.#readL2(key);
    if (fromRedis) {
      this.#metrics.cache.inc({ tier: "redis", result: "hit" });
      this.#l1.set(l1, new CompactSession(fromRedis.session, fromRedis.expiresAtMs));
      return fromRedis.session;
    }
    this.#metrics.cache.inc({ tier: "redis", result: "miss" });
    const t0 = performance.now();
    const session = await this.#kratos.whoami(cred);
    this.#metrics.whoami.observe({}, (performance.now() - t0) / 1000);
    const expiresAtMs = Math.min(session.expiresAt.getTime(), Date.now() + this.#ttlMs);
    if (this.#ttlMs > 0 && expiresAtMs > Date.now()) {
      this.#l1.set(l1, new CompactSession(session, expiresAtMs));
      // Not awaited, and not even started before the answer is on its way: the caller
      // need not wait for the shared cache, and serializing and sending the entry took
      // ~0.1–0.2 ms of a cold exchange. A logout racing this write is still caught:
      // Redis reads check the revocation marker.
      if (this.#redis?.status === "ready") setImmediate(() => void this.#writeL2(key, { session, expiresAtMs }));
    }
    return session;
  }

  async #readL2(key: string): Promise<Entry | undefined> {
    if (this.#redis?.status !== "ready") return undefined;
    try {
      const raw = await this.#redis.get(L2_PREFIX + key);
      if (!raw) return undefined;
      const e = JSON.parse(raw) as { s: KratosSession & { expiresAt: string; authenticatedAt: string }; x: number };
      const session: KratosSession = {
        ...e.s,
        expiresAt: new Date(e.s.expiresAt),
        authenticatedAt: new Date(e.s.authenticatedAt),
      };
      if (e.x <= Date.now()) return undefined;
      if (await this.#redis.exists(revokedKey(session.id))) return undefined;
      return { session, expiresAtMs: e.x };
    } catch (err) {
      // Redis is a cache here: when it fails, ask Kratos instead (see README "When Redis is down").
      this.#log.warn({ err: (err as Error).message }, "session cache read failed; asking Kratos");
      return undefined;
    }
  }

  async #writeL2(key: string, e: Entry): Promise<void> {
    if (this.#redis?.status !== "ready") return;
    const ttl = Math.max(1, e.expiresAtMs - Date.now());
    const sidKeys = SID_KEYS_PREFIX + e.session.id;
    // Not one MULTI: in a cluster the entry and its session's index live in different
    // slots. Should only the entry be written, a revocation still refuses it (#readL2
    // checks the revocation marker); the index and its expiry go together (one key).
    try {
      await Promise.all([
        this.#redis.set(L2_PREFIX + key, JSON.stringify({ s: e.session, x: e.expiresAtMs }), "PX", ttl),
        this.#redis.multi().sadd(sidKeys, key).pexpire(sidKeys, ttl).exec(),
      ]);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "session cache write failed");
    }
  }

  /** Forgets a revoked session here, in Redis, and (through the bus) on every instance. */
  async forgetSession(sid: string, untilMs: number): Promise<void> {
    await this.#bus.publish({ t: "session", sid, until: untilMs });
    const redis = this.#redis;
    if (!redis) return;
    // The marker first: from then on no cached copy is served (#readL2). One command per
    // key, since in a cluster these keys live in different slots.
    await redis.set(revokedKey(sid), "1", "PX", Math.max(1, untilMs - Date.now()));
    const keys = await redis.smembers(SID_KEYS_PREFIX + sid);
    await Promise.all([...keys.map((k) => redis.del(L2_PREFIX + k)), redis.del(SID_KEYS_PREFIX + sid)]);
  }
}

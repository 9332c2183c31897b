// Brute-force protection Kratos OSS lacks, in front of its self-service
// submissions. Two counters in Redis: per client IP and per identifier (a hash of
// the lower-cased email, so Redis never holds the address). Failures add a
// progressive delay; `maxFailures` within the window lock the identifier (and,
// at a higher threshold, the IP) for `lockoutSec`. The answer to a locked request
// is the same 429 whether or not the account exists.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface BruteForceOptions {
  /** Failures per identifier before a lockout (seed: 5). */
  maxFailures: number;
  /** Lockout length and counting window, seconds (seed: 900). */
  lockoutSec: number;
  /** Failures per IP before the IP is locked (many identifiers from one address). */
  maxIpFailures: number;
  /** Base of the progressive delay: failure n waits base * 2^(n-1) ms, capped at 4 s. */
  delayBaseMs: number;
}

export type Verdict = { allow: true; delayMs: number } | { allow: false; retryAfterSec: number };

const PREFIX = "gh:bf:";
export const identifierKey = (identifier: string) =>
  createHash("sha256").update(identifier.trim().toLowerCase()).digest("hex").slice(0, 32);

export class BruteForce {
  readonly #redis: Redis;
  readonly #o: BruteForceOptions;

  constructor(redis: Redis, options: BruteForceOptions) {
    this.#redis = redis;
    this.#o = options;
  }

  get options(): BruteForceOptions {
    return this.#o;
  }

  /** Before forwarding a submission. Throws when Redis cannot be asked (the caller decides; see README). */
  /**
   * Before forwarding a submission. `scope` separates the counters of different
   * flows (a login lockout does not block recovery). Throws when Redis cannot be
   * asked; the caller decides (see README "Brute-force protection").
   */
  async check(scope: string, ip: string, identifier: string | undefined): Promise<Verdict> {
    const k = this.#keys(scope, ip, identifier);
    const m = this.#redis.multi().pttl(k.ipLock);
    if (k.idLock && k.idFail) m.pttl(k.idLock).get(k.idFail);
    const res = (await m.exec()) ?? [];
    const val = (i: number) => res[i]?.[1];
    const lockMs = Math.max(Number(val(0) ?? -2), k.idLock ? Number(val(1) ?? -2) : -2);
    if (lockMs > 0) return { allow: false, retryAfterSec: Math.ceil(lockMs / 1000) };
    const failures = k.idFail ? Number(val(2) ?? 0) : 0;
    const delayMs = failures <= 0 ? 0 : Math.min(4_000, this.#o.delayBaseMs * 2 ** (failures - 1));
    return { allow: true, delayMs };
  }

  /** Counts a failure (or, for flows that send mail or take codes, an attempt). */
  async failure(scope: string, ip: string, identifier: string | undefined): Promise<void> {
    const k = this.#keys(scope, ip, identifier);
    const win = this.#o.lockoutSec * 1000;
    const m = this.#redis.multi().incr(k.ipFail).pexpire(k.ipFail, win, "NX");
    if (k.idFail) m.incr(k.idFail).pexpire(k.idFail, win, "NX");
    const res = (await m.exec()) ?? [];
    const ipCount = Number(res[0]?.[1] ?? 0);
    const idCount = k.idFail ? Number(res[2]?.[1] ?? 0) : 0;
    const lock = this.#redis.multi();
    if (ipCount >= this.#o.maxIpFailures) lock.set(k.ipLock, "1", "PX", win);
    if (k.idLock && idCount >= this.#o.maxFailures) lock.set(k.idLock, "1", "PX", win);
    await lock.exec();
  }

  /** A successful login clears the identifier's failures (not the IP's). */
  async success(scope: string, identifier: string | undefined): Promise<void> {
    if (!identifier) return;
    await this.#redis.del(`${PREFIX}${scope}:fail:id:${identifierKey(identifier)}`);
  }

  #keys(scope: string, ip: string, identifier: string | undefined) {
    const id = identifier ? identifierKey(identifier) : undefined;
    const p = `${PREFIX}${scope}:`;
    return {
      ipFail: `${p}fail:ip:${ip}`,
      ipLock: `${p}lock:ip:${ip}`,
      idFail: id ? `${p}fail:id:${id}` : undefined,
      idLock: id ? `${p}lock:id:${id}` : undefined,
    };
  }
}

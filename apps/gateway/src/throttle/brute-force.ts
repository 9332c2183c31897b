// Brute-force protection Kratos OSS lacks, in front of its self-service
// submissions. Two counters: per client address and per account (identifierKey: a
// hash of the canonical spelling, so the store never holds an address and no
// respelling gets a fresh counter). Failures add a progressive delay (a configured
// schedule, seed 1 s, 5 s, 30 s); `maxFailures`
// within the window lock the account (and, at a higher threshold, the address) for
// `lockoutSec`. A locked request gets the same 429 whether or not the account exists.
// Key names: @gatehouse/contracts (lockout.ts), shared with the auth-service's unlock.
import { identifierKey, bruteForceKeys as K } from "@gatehouse/contracts";
import type { CounterStore } from "./counters.ts";

export interface BruteForceOptions {
  /** Failures per identifier before a lockout (seed: 5). */
  maxFailures: number;
  /** Lockout length and counting window, seconds (seed: 900). */
  lockoutSec: number;
  /** Failures per IP before the IP is locked (many identifiers from one address). */
  maxIpFailures: number;
  /** The progressive delay: after n failures a submission waits delaysMs[n-1] (the last entry beyond). */
  delaysMs: readonly number[];
  /**
   * Called once per account lock (when the failure that crosses maxFailures is
   * counted: INCR is atomic, so exactly one caller sees that count), with the
   * identifier as sent. Must not throw; the locked person's answer never waits on it.
   */
  onAccountLocked?: (scope: string, identifier: string) => void;
}

export type Verdict = { allow: true; delayMs: number } | { allow: false; retryAfterSec: number };

export class BruteForce {
  readonly #store: CounterStore;
  readonly #o: BruteForceOptions;

  constructor(store: CounterStore, options: BruteForceOptions) {
    this.#store = store;
    this.#o = options;
  }

  get options(): BruteForceOptions {
    return this.#o;
  }

  /**
   * Before forwarding a submission. `scope` separates the counters of different
   * flows (a login lockout does not block recovery); `identifier` as sent (it is
   * normalized here).
   */
  async check(scope: string, ip: string, identifier: string | undefined): Promise<Verdict> {
    const k = await this.#keys(scope, ip, identifier);
    const { lockMs, count } = await this.#store.read(k.idLock ? [k.ipLock, k.idLock] : [k.ipLock], k.idFail);
    if (lockMs > 0) return { allow: false, retryAfterSec: Math.ceil(lockMs / 1000) };
    const delays = this.#o.delaysMs;
    const delayMs = count <= 0 ? 0 : (delays[Math.min(count, delays.length) - 1] ?? 0);
    return { allow: true, delayMs };
  }

  /** Counts a failure (or, for flows that send mail or take codes, an attempt). */
  async failure(scope: string, ip: string, identifier: string | undefined): Promise<void> {
    const k = await this.#keys(scope, ip, identifier);
    const win = this.#o.lockoutSec * 1000;
    const [ipCount = 0, idCount = 0] = await this.#store.increment(k.idFail ? [k.ipFail, k.idFail] : [k.ipFail], win);
    const lock: string[] = [];
    if (ipCount >= this.#o.maxIpFailures) lock.push(k.ipLock);
    if (k.idLock && idCount >= this.#o.maxFailures) lock.push(k.idLock);
    await this.#store.lock(lock, win);
    if (identifier && k.idLock && idCount === this.#o.maxFailures) this.#o.onAccountLocked?.(scope, identifier);
  }

  /** A successful login clears the identifier's failures (not the IP's). */
  async success(scope: string, identifier: string | undefined): Promise<void> {
    if (!identifier) return;
    await this.#store.remove([K.accountFailures(scope, await identifierKey(identifier))]);
  }

  async #keys(scope: string, ip: string, identifier: string | undefined) {
    const id = identifier ? await identifierKey(identifier) : undefined;
    return {
      ipFail: K.ipFailures(scope, ip),
      ipLock: K.ipLock(scope, ip),
      idFail: id ? K.accountFailures(scope, id) : undefined,
      idLock: id ? K.accountLock(scope, id) : undefined,
    };
  }
}

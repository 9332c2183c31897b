// A failed password login must not say whether the account exists by how long it
// took: Kratos hashes the password of a known account (a bcrypt or argon2 compare,
// hundreds of ms) and answers an unknown one much sooner. Every failed login is
// held until a floor has passed since it reached Kratos. The floor is at least
// `minMs` and follows the slowest of the recent failures (plus a margin): a known
// account's refusal is a minority among an attacker's probes, so a percentile would
// miss it, while the slowest one keeps the floor above the hash time when the
// machine is loaded. Successful logins are never held.

export interface FailureFloorOptions {
  /** Never less than this (ms). 0 turns the floor off. */
  minMs: number;
  /** Never more than this (ms). */
  maxMs?: number;
  /** Failures remembered for the percentile. */
  window?: number;
}

export class FailureFloor {
  readonly #min: number;
  readonly #max: number;
  readonly #samples: number[];
  #next = 0;
  #count = 0;
  #floor: number;

  constructor(o: FailureFloorOptions) {
    this.#min = o.minMs;
    this.#max = Math.max(o.minMs, o.maxMs ?? 5_000);
    this.#samples = new Array<number>(o.window ?? 128).fill(0);
    this.#floor = o.minMs;
  }

  /** The current floor, ms. */
  get floorMs(): number {
    return this.#floor;
  }

  /** Records how long Kratos took to refuse a login (ms). */
  observe(ms: number): void {
    if (this.#min <= 0) return;
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#count = Math.min(this.#count + 1, this.#samples.length);
    let slowest = 0;
    for (let i = 0; i < this.#count; i++) slowest = Math.max(slowest, this.#samples[i] as number);
    this.#floor = Math.min(this.#max, Math.max(this.#min, Math.ceil(slowest * 1.2)));
  }

  /** Resolves once the floor has passed since `startedAt` (performance.now() ms). */
  wait(startedAt: number): Promise<void> {
    const left = this.#floor - (performance.now() - startedAt);
    return left > 0 ? new Promise((r) => setTimeout(r, left)) : Promise.resolve();
  }
}

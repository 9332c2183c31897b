// Signing keys: stored in Postgres (private part encrypted with the KEK), shared
// by every instance. Life cycle: next (published, not signing) → active (signs)
// → retiring (published until every token it signed has expired) → retired.
// JWKS = next + active + retiring, so a consumer always knows a key before it
// signs and keeps knowing it until its last token is dead.
import {
  createLocalJwks,
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKey,
  isTokenError,
  type JWK,
  JWKS_CACHE_CONTROL,
  type JwksDocument,
  type JwksSource,
  type Signer,
  type SigningAlg,
  toJwksDocument,
} from "@gatehouse/tokens";
// Node's crypto signs with less latency than Web Crypto (see that module).
import { createNodeSigner } from "@gatehouse/tokens/node";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { InvalidationBus } from "../cache/bus.ts";
import type { Database } from "../db/schema.ts";
import type { AuditContext } from "../domain/audit.ts";
import { DependencyUnavailableError } from "../domain/errors.ts";
import {
  insertSigningKey,
  listSigningKeys,
  reencryptSigningKeys as reencryptStored,
  type SigningKeyRecord,
  transitionSigningKeys,
} from "../domain/signing-keys.ts";

export { JWKS_CACHE_CONTROL };

/** The key set is reloaded from the database when older than this (other instances may have rotated); at most the leeway. */
const RELOAD_EVERY_MS = 30_000;
/** After a failed reload, the keys in memory serve this long before the database is asked again. */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** Tokens are not signed with less life left than this (see verifiableUntilSec). */
const MIN_SIGNED_LIFETIME_SEC = 30;

export interface KeyPolicy {
  alg: SigningAlg;
  /** Token lifetime: a retiring key stays published at least this long (plus leeway). */
  tokenTtlSec: number;
  /** How long a next key is published before it may sign (≥ the JWKS max-age consumers cache for). */
  publishLeadSec: number;
  leewaySec: number;
}

export interface RotationResult {
  promoted?: string;
  retiring?: string;
  created?: string;
  retired: string[];
}

/**
 * The key-encryption keys: `current` encrypts everything written; decryption tries it
 * first, then `previous` in order, so keys written under an older KEK stay readable
 * until `reencryptSigningKeys` has moved them to the current one.
 */
export interface Keks {
  current: Uint8Array;
  previous: readonly Uint8Array[];
}

/** A stored key that none of the configured KEKs opens (wrong KEK, or the row was altered). */
export class UndecryptableKeyError extends Error {
  override name = "UndecryptableKeyError";
  readonly kid: string;
  constructor(kid: string, keks: Keks, cause: unknown) {
    const why =
      keks.previous.length > 0
        ? "neither SIGNING_KEY_KEK nor any SIGNING_KEY_KEK_PREVIOUS opens it"
        : "SIGNING_KEY_KEK does not open it (if the KEK was changed, set the old one as SIGNING_KEY_KEK_PREVIOUS)";
    super(`signing key ${kid} cannot be decrypted: ${why}`, { cause });
    this.kid = kid;
  }
}

/** Non-secret name of KEK number `i` of [current, ...previous], for messages and the audit log. */
function kekName(i: number): string {
  return i === 0 ? "SIGNING_KEY_KEK" : `SIGNING_KEY_KEK_PREVIOUS #${i}`;
}

/** Decrypts a stored private key with the first KEK that opens it; `kek` is its index in [current, ...previous]. */
async function openPrivateKey(
  key: Pick<SigningKeyRecord, "kid" | "privateKeyEnc">,
  keks: Keks,
): Promise<{ jwk: JWK; kek: number }> {
  let failure: unknown;
  for (const [i, kek] of [keks.current, ...keks.previous].entries()) {
    try {
      return { jwk: await decryptPrivateKey(key.privateKeyEnc, kek, key.kid), kek: i };
    } catch (e) {
      // Only "this KEK does not open it" moves on; anything else is not a KEK problem.
      if (!isTokenError(e)) throw e;
      if (e.code !== "key_decrypt_failed") throw new Error(`signing key ${key.kid}: ${e.message}`, { cause: e });
      failure = e;
    }
  }
  throw new UndecryptableKeyError(key.kid, keks, failure);
}

/**
 * Re-encrypts every stored signing key (all states, retired included) that is not
 * already under the current KEK, in one transaction: if any key cannot be decrypted,
 * nothing changes. The kid stays the AAD, and public keys are untouched, so the JWKS
 * and every issued token are unaffected. Running it again finds nothing to do.
 */
export async function reencryptSigningKeys(
  db: Kysely<Database>,
  keks: Keks,
  ctx: AuditContext,
): Promise<{ reencrypted: string[]; total: number }> {
  return reencryptStored(
    db,
    async (key) => {
      const { jwk, kek } = await openPrivateKey(key, keks);
      if (kek === 0) return undefined;
      const privateKeyEnc = await encryptPrivateKey(jwk, keks.current, key.kid);
      return { privateKeyEnc, fromKek: kekName(kek), toKek: kekName(0) };
    },
    ctx,
  );
}

export class KeyStore {
  #signer: Signer | undefined;
  #jwks: JwksDocument = { keys: [] };
  /** When the keys were last read from the database (0: never). */
  #loadedAt = 0;
  #retryAt = 0;
  #staleWarnedAt = 0;
  #loading: Promise<void> | undefined;
  readonly #db: Kysely<Database>;
  readonly #keks: Keks;
  readonly #policy: KeyPolicy;
  readonly #bus: InvalidationBus;
  readonly #log: Logger;
  readonly #reloadEveryMs: number;
  /** Cached minted tokens signed by a key that is leaving are dropped through this. */
  readonly #onSignerChange = new Set<(activeKid: string | undefined) => void>();

  constructor(opts: {
    db: Kysely<Database>;
    kek: Uint8Array;
    /** Older KEKs that may still decrypt stored keys (KEK rotation); never used to encrypt. */
    previousKeks?: readonly Uint8Array[];
    policy: KeyPolicy;
    /** Reread the keys when older than this; default and maximum 30 s (the leeway verifiableUntilSec relies on). */
    reloadEveryMs?: number;
    bus: InvalidationBus;
    log: Logger;
  }) {
    this.#reloadEveryMs = Math.min(opts.reloadEveryMs ?? RELOAD_EVERY_MS, opts.policy.leewaySec * 1000);
    this.#db = opts.db;
    this.#keks = { current: opts.kek, previous: opts.previousKeks ?? [] };
    this.#policy = opts.policy;
    this.#bus = opts.bus;
    this.#log = opts.log;
    this.#bus.onKeysChanged(() => {
      void this.reload().catch((e: Error) => this.#log.error({ err: e.message }, "reloading keys failed"));
    });
  }

  onSignerChange(fn: (activeKid: string | undefined) => void): void {
    this.#onSignerChange.add(fn);
  }

  get activeKid(): string | undefined {
    return this.#signer?.kid;
  }

  /**
   * The signer of the active key; the keys are reloaded from the database when older
   * than 30 s (other instances may have rotated). When that reload fails (Postgres
   * down), signing goes on with the key in memory as long as its tokens are sure to
   * verify (verifiableUntilSec), and stops (503) after that.
   */
  async signer(): Promise<Signer> {
    await this.#refresh();
    if (!this.#signer) throw new Error("no active signing key");
    if (this.verifiableUntilSec - Date.now() / 1000 < MIN_SIGNED_LIFETIME_SEC) {
      throw new DependencyUnavailableError("signing keys could not be reloaded from the database for too long");
    }
    return this.#signer;
  }

  /**
   * Epoch seconds until which a token signed now with the key in memory is sure to
   * verify: a key that was active when last read stays published at least
   * tokenTtl + leeway after that (it can only start retiring later, and retiring keys
   * are published that long), so tokens' exp is capped here. With keys read within
   * the leeway (30 s) this is never sooner than a full token lifetime; during a Postgres
   * outage tokens get shorter, then none are signed.
   */
  get verifiableUntilSec(): number {
    return Math.floor(this.#loadedAt / 1000 + this.#policy.tokenTtlSec + this.#policy.leewaySec);
  }

  /** The published keys. During a Postgres outage, the last set read (it only changes through the database). */
  async jwks(): Promise<JwksDocument> {
    await this.#refresh();
    return this.#jwks;
  }

  /** Reloads when the keys are old; a failure with keys in memory keeps them (logged), without one it throws. */
  async #refresh(): Promise<void> {
    const now = Date.now();
    if (now - this.#loadedAt <= this.#reloadEveryMs) return;
    if (this.#loadedAt === 0) return this.reload();
    if (now < this.#retryAt) return;
    try {
      await this.reload();
    } catch (e) {
      this.#retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
      if (Date.now() - this.#staleWarnedAt >= 10_000) {
        this.#staleWarnedAt = Date.now();
        this.#log.warn(
          { err: (e as Error).message, keysAgeSec: Math.round((Date.now() - this.#loadedAt) / 1000) },
          "signing keys could not be reloaded; serving the ones in memory",
        );
      }
    }
  }

  /** The published keys as a verification source (for introspection); follows rotations. */
  jwksSource(): JwksSource {
    let built: { doc: JwksDocument; src: JwksSource } | undefined;
    return {
      getKey: async (kid, alg) => {
        const doc = await this.jwks();
        if (!built || built.doc !== doc) built = { doc, src: createLocalJwks(doc.keys) };
        return built.src.getKey(kid, alg);
      },
      refresh: () => this.reload(),
    };
  }

  async reload(): Promise<void> {
    if (this.#loading) return this.#loading;
    this.#loading = (async () => {
      const keys = await listSigningKeys(this.#db, ["next", "active", "retiring"]);
      this.#jwks = toJwksDocument(keys.map((k) => k.publicJwk as JWK));
      const active = keys.find((k) => k.state === "active");
      if (active && active.kid !== this.#signer?.kid) {
        const { jwk: privateJwk } = await openPrivateKey(active, this.#keks);
        this.#signer = await createNodeSigner({ kid: active.kid, alg: active.alg as SigningAlg, privateJwk });
        for (const fn of this.#onSignerChange) fn(active.kid);
      } else if (!active) {
        this.#signer = undefined;
      }
      this.#loadedAt = Date.now();
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /** At start-up: make sure an active key exists (the first instance creates it; the others wait on the lock). */
  async ensureActiveKey(ctx: AuditContext): Promise<void> {
    const existing = await listSigningKeys(this.#db, ["active"]);
    if (existing.length === 0) {
      const key = await generateSigningKey(this.#policy.alg);
      const enc = await encryptPrivateKey(key.privateJwk, this.#keks.current, key.kid);
      await transitionSigningKeys(
        this.#db,
        async (trx) => {
          const again = await listSigningKeys(trx, ["active"]);
          if (again.length > 0) return;
          await insertSigningKey(
            trx,
            { kid: key.kid, alg: key.alg, publicJwk: key.publicJwk, privateKeyEnc: enc, state: "active" },
            ctx,
          );
        },
        ctx,
      );
    }
    await this.reload();
  }

  /**
   * One rotation step, safe to run from several instances at once:
   * retire keys whose tokens have all expired; promote a next key that has been
   * published long enough (or at once with `force`); make sure a next key exists.
   */
  async rotate(ctx: AuditContext, opts: { force?: boolean; now?: Date } = {}): Promise<RotationResult> {
    const fresh = await generateSigningKey(this.#policy.alg);
    const enc = await encryptPrivateKey(fresh.privateJwk, this.#keks.current, fresh.kid);
    const now = opts.now ?? new Date();
    const result: RotationResult = { retired: [] };
    await transitionSigningKeys(
      this.#db,
      async (trx, ops) => {
        const keys = await listSigningKeys(trx, ["next", "active", "retiring"]);
        const keepSec = this.#policy.tokenTtlSec + this.#policy.leewaySec;
        for (const k of keys.filter((k) => k.state === "retiring")) {
          if (k.retiringAt && now.getTime() - k.retiringAt.getTime() >= keepSec * 1000) {
            await ops.setState(k.kid, "retired", now);
            result.retired.push(k.kid);
          }
        }
        const next = keys.find((k) => k.state === "next");
        const active = keys.find((k) => k.state === "active");
        let nextKid = next?.kid;
        if (!next) {
          await insertSigningKey(
            trx,
            {
              kid: fresh.kid,
              alg: fresh.alg,
              publicJwk: fresh.publicJwk,
              privateKeyEnc: enc,
              state: "next",
              notBefore: new Date(now.getTime() + this.#policy.publishLeadSec * 1000),
            },
            ctx,
          );
          result.created = fresh.kid;
          nextKid = fresh.kid;
          // Without force, a new key is only published now; it signs after publishLeadSec.
          if (!opts.force) return;
        }
        const ready =
          opts.force ||
          (next?.notBefore !== undefined && next.notBefore !== null && next.notBefore.getTime() <= now.getTime());
        if (nextKid && ready) {
          if (active) {
            await ops.setState(active.kid, "retiring", now);
            result.retiring = active.kid;
          }
          await ops.setState(nextKid, "active", now);
          result.promoted = nextKid;
        }
      },
      ctx,
    );
    await this.#bus.publish({ t: "keys" });
    await this.reload();
    return result;
  }
}

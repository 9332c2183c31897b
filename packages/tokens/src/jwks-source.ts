import { importJWK, type JWK } from "jose";
import { TokenError } from "./errors.ts";
import { jwkFitsAlg, publicJwkOf, type SigningAlg } from "./keys.ts";

/**
 * Where a verifier gets public keys. Resolution is by kid; the source makes sure the
 * key fits the token's alg and hands back an already imported CryptoKey.
 */
export interface JwksSource {
  /** Throws TokenError: token_key_unknown, token_alg_not_allowed, key_invalid or jwks_unavailable. */
  getKey(kid: string, alg: SigningAlg): Promise<CryptoKey>;
  /** Re-reads the key set now (ignores the cooldown). A no-op for a static set. */
  refresh(): Promise<void>;
}

interface KeyEntry {
  readonly kid: string;
  readonly jwk: JWK;
  /** Stable serialisation, to keep imports across refetches when a key did not change. */
  readonly fingerprint: string;
  readonly imported: Map<SigningAlg, Promise<CryptoKey>>;
}

function fingerprintOf(jwk: JWK): string {
  const sorted = Object.fromEntries(Object.entries(jwk).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(sorted);
}

/**
 * Builds kid → entry from a list of JWKs, keeping public members only and skipping
 * what cannot verify a signature. A kid listed twice is dropped altogether: we cannot
 * know which of the two the issuer meant. Entries whose key did not change reuse the
 * previous imports.
 */
function buildEntries(
  keys: readonly unknown[],
  previous: ReadonlyMap<string, KeyEntry>,
  strict: boolean,
): Map<string, KeyEntry> {
  const entries = new Map<string, KeyEntry>();
  const duplicates = new Set<string>();
  for (const raw of keys) {
    const reject = (why: string): void => {
      if (strict) throw new TokenError("key_invalid", why);
    };
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      reject("JWK must be an object");
      continue;
    }
    const candidate = raw as JWK;
    if (typeof candidate.kid !== "string" || candidate.kid.length === 0) {
      reject("every verification key needs a kid");
      continue;
    }
    if (candidate.kty !== "RSA" && candidate.kty !== "EC" && candidate.kty !== "OKP") {
      reject(`key ${candidate.kid} has unsupported kty ${String(candidate.kty)}`);
      continue;
    }
    if (candidate.use !== undefined && candidate.use !== "sig") {
      reject(`key ${candidate.kid} is not a signature key (use=${String(candidate.use)})`);
      continue;
    }
    const kid = candidate.kid;
    if (entries.has(kid) || duplicates.has(kid)) {
      reject(`duplicate kid ${kid}`);
      entries.delete(kid);
      duplicates.add(kid);
      continue;
    }
    const jwk = publicJwkOf(candidate);
    const fingerprint = fingerprintOf(jwk);
    const old = previous.get(kid);
    entries.set(kid, old?.fingerprint === fingerprint ? old : { kid, jwk, fingerprint, imported: new Map() });
  }
  return entries;
}

/** Imports (once per kid and alg) the entry's key for `alg`, refusing a mismatched key. */
function importFor(entry: KeyEntry, alg: SigningAlg): Promise<CryptoKey> {
  const cached = entry.imported.get(alg);
  if (cached !== undefined) return cached;
  const { jwk, kid } = entry;
  // The kid is attacker-chosen; the key decides which algorithm is acceptable.
  if (!jwkFitsAlg(jwk, alg) || (jwk.alg !== undefined && jwk.alg !== alg)) {
    return Promise.reject(
      new TokenError("token_alg_not_allowed", `key ${kid} (${jwk.alg ?? jwk.kty}) cannot verify ${alg} tokens`),
    );
  }
  const pending = importJWK(jwk, alg).then(
    (key) => {
      if (key instanceof Uint8Array) throw new TokenError("key_invalid", `key ${kid} is symmetric`);
      return key;
    },
    (cause: unknown) => {
      throw new TokenError("key_invalid", `key ${kid} cannot be imported`, { cause });
    },
  );
  entry.imported.set(alg, pending);
  return pending;
}

function unknownKid(kid: string, detail = ""): TokenError {
  return new TokenError("token_key_unknown", `no verification key with kid ${JSON.stringify(kid)}${detail}`);
}

/**
 * A fixed key set, e.g. the auth service verifying its own tokens. Private JWKs may be
 * passed; only their public part is kept. Invalid or duplicate keys throw at once.
 */
export function createLocalJwks(keys: readonly JWK[]): JwksSource {
  const entries = buildEntries(keys, new Map(), true);
  return {
    async getKey(kid, alg) {
      const entry = entries.get(kid);
      if (entry === undefined) throw unknownKid(kid);
      return importFor(entry, alg);
    },
    async refresh() {},
  };
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface RemoteJwksOptions {
  /** Injectable fetch (tests, custom agents). Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Minimum gap between two fetches, measured from the previous attempt. Default 30 000. */
  cooldownMs?: number;
  /** After this age the set is refetched before use (stale keys still serve if that fails). Default 600 000. */
  cacheMaxAgeMs?: number;
  /** Abort a fetch after this long. Default 3 000. */
  timeoutMs?: number;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

export interface RemoteJwks extends JwksSource {
  /** Kids currently cached (for health checks and debugging). */
  kids(): string[];
}

// After a failed fetch the next attempt may come sooner than the full cooldown, so a
// blip at startup does not mean 30 s of rejected requests; still bounded, so a dead
// endpoint is not hammered.
const FAILURE_RETRY_MS = 5_000;
const MAX_JWKS_CHARS = 512 * 1024;
// A fetch that has not settled this long after its own timeout is treated as lost.
// Edge runtimes may cancel a promise started during another request; without this,
// every later lookup would wait on it forever.
const STUCK_GRACE_MS = 500;

/**
 * A key set fetched from a JWKS URL, written here rather than on jose's
 * createRemoteJWKSet because that one (6.x) starts its cooldown only after a
 * successful fetch (a down endpoint is then fetched on every unknown kid) and drops
 * its keys once they are older than cacheMaxAge if the refetch fails. Guarantees:
 * - imported keys are reused across verifies and across refetches of an unchanged key;
 * - at most one fetch per cooldown after a success (per min(cooldown, 5 s) after a
 *   failure), whatever the kids asked for, with concurrent callers sharing one
 *   in-flight request;
 * - a failed refetch keeps the cached keys in service.
 */
export function createRemoteJwks(url: string | URL, options: RemoteJwksOptions = {}): RemoteJwks {
  const href = new URL(url).href;
  if (!/^https?:$/.test(new URL(href).protocol)) throw new TypeError("JWKS URL must be http(s)");
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const cooldownMs = nonNegative(options.cooldownMs ?? 30_000, "cooldownMs");
  const cacheMaxAgeMs = nonNegative(options.cacheMaxAgeMs ?? 600_000, "cacheMaxAgeMs");
  const timeoutMs = nonNegative(options.timeoutMs ?? 3_000, "timeoutMs");
  const now = options.now ?? Date.now;

  let entries = new Map<string, KeyEntry>();
  let loadedAt = Number.NEGATIVE_INFINITY; // last successful fetch
  let nextFetchAt = Number.NEGATIVE_INFINITY; // earliest next attempt
  let loadedOnce = false;
  let inflight: Promise<void> | undefined;
  let inflightSince = 0; // real time (Date.now), not the injectable clock
  let lastError: unknown;

  async function fetchKeys(): Promise<unknown[]> {
    const response = await fetchImpl(href, {
      method: "GET",
      headers: { accept: "application/jwk-set+json, application/json" },
      // A redirect could point us at keys someone else controls.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new Error(`JWKS endpoint answered HTTP ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_JWKS_CHARS) throw new Error("JWKS document is too large");
    const doc: unknown = JSON.parse(text);
    const keys = typeof doc === "object" && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(keys)) throw new Error('JWKS document has no "keys" array');
    return keys;
  }

  async function attemptLoad(): Promise<void> {
    try {
      const keys = await fetchKeys();
      entries = buildEntries(keys, entries, false);
      loadedAt = now();
      loadedOnce = true;
      nextFetchAt = loadedAt + cooldownMs;
      lastError = undefined;
    } catch (cause) {
      lastError = cause;
      nextFetchAt = now() + Math.min(cooldownMs, FAILURE_RETRY_MS);
      throw new TokenError("jwks_unavailable", `cannot fetch JWKS from ${href}`, { cause });
    }
  }

  const stuckAfterMs = timeoutMs + STUCK_GRACE_MS;

  function inflightAge(): number {
    return Date.now() - inflightSince;
  }

  /** The fetch under way, if any and not given up on. */
  function pending(): Promise<void> | undefined {
    if (inflight !== undefined && inflightAge() >= stuckAfterMs) inflight = undefined;
    return inflight;
  }

  /**
   * Starts a fetch, or joins the one under way: concurrent callers share one request.
   * Never waits longer than timeoutMs + STUCK_GRACE_MS, even on a fetch that ignores
   * its abort signal.
   */
  function load(): Promise<void> {
    let current = pending();
    if (current === undefined) {
      const attempt = attemptLoad().finally(() => {
        if (inflight === attempt) inflight = undefined;
      });
      inflight = attempt;
      current = attempt;
      inflightSince = Date.now();
    }
    return settleWithin(current, stuckAfterMs - inflightAge(), () => {
      nextFetchAt = Math.max(nextFetchAt, now() + Math.min(cooldownMs, FAILURE_RETRY_MS));
      return new TokenError("jwks_unavailable", `JWKS fetch from ${href} did not finish in time`);
    });
  }

  // Fetch failures are reported through the outcome of the lookup, not thrown here.
  const loadQuietly = (): Promise<void> => load().catch(() => {});

  return {
    async getKey(kid, alg) {
      const t = now();
      // Stale (or never loaded): refetch first, but serve what we have if that fails.
      if (pending() === undefined && t >= nextFetchAt && t - loadedAt >= cacheMaxAgeMs) await loadQuietly();

      let entry = entries.get(kid);
      if (entry === undefined) {
        if (pending() !== undefined) {
          await loadQuietly(); // joins the fetch already under way
        } else if (now() >= nextFetchAt) {
          await loadQuietly(); // maybe a freshly rotated key
        }
        entry = entries.get(kid);
      }
      if (entry === undefined) {
        if (!loadedOnce) {
          throw new TokenError("jwks_unavailable", `no JWKS could be fetched from ${href}`, { cause: lastError });
        }
        throw unknownKid(kid, lastError === undefined ? "" : " (and the last JWKS refetch failed)");
      }
      return importFor(entry, alg);
    },
    refresh: load,
    kids: () => [...entries.keys()],
  };
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) throw new RangeError(`${name} must be >= 0`);
  return value;
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`, whichever is first
 * (the operation itself is left to finish).
 */
export function settleWithin<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

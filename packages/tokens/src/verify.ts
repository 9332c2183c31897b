import { decodeProtectedHeader, errors, jwtVerify, type ProtectedHeaderParameters } from "jose";
import { type AccessTokenClaims, parseClaims } from "./claims.ts";
import { TokenError } from "./errors.ts";
import type { JwksSource } from "./jwks-source.ts";
import { isSigningAlg, SIGNING_ALGS, type SigningAlg } from "./keys.ts";
import { LruCache } from "./lru.ts";

export interface VerifierOptions {
  jwks: JwksSource;
  /** Required `iss`. */
  issuer: string;
  /** Accepted audience(s): the token's `aud` must contain at least one. */
  audience: string | readonly string[];
  /** Allowlist of algorithms. Default: RS256, ES256, EdDSA. */
  algorithms?: readonly SigningAlg[];
  /** Leeway for exp and nbf, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Clock in seconds since the epoch; injectable for tests. */
  now?: () => number;
  /**
   * Number of verified tokens to remember (LRU), so a guard that sees the same token
   * on every request does not redo the signature check. 0 (default) disables it.
   */
  cacheSize?: number;
}

export interface Verifier {
  /**
   * Verifies signature, header and claims; resolves to the claims (frozen) or
   * rejects with a TokenError. Never rejects with anything else.
   */
  verify(token: string): Promise<AccessTokenClaims>;
  /**
   * The claims of a token this verifier has already verified and still trusts
   * (its verified-token cache), synchronously; undefined otherwise, in which case
   * call verify(). Lets a caller answer a repeat token without a promise.
   */
  peek(token: string): AccessTokenClaims | undefined;
}

// A cached verification is trusted for at most this long, so a key removed from the
// JWKS stops being honoured within a minute even for a token seen before.
const CACHE_TTL_SEC = 60;
// Far above any token we mint; refuses to base64-decode and parse megabytes.
const MAX_TOKEN_LENGTH = 16 * 1024;
// Never trust key material or key locations carried by the token itself, and since we
// implement no extension, "crit" can only mean a token we would misunderstand.
const FORBIDDEN_HEADERS = ["jku", "x5u", "jwk", "x5c", "crit"] as const;

interface CacheEntry {
  readonly token: string;
  readonly claims: AccessTokenClaims;
  readonly until: number;
}

// The cache is keyed by the token's last characters (its signature's tail), not the
// whole ~1 KB token: hashing a fresh 1 KB header string for every lookup was a
// measurable share of a warm request. A hit still requires the whole token to be
// equal, so a token that merely shares the tail is a miss and is verified in full.
const KEY_CHARS = 32;
const cacheKey = (token: string) => token.slice(-KEY_CHARS);

export function createVerifier(options: VerifierOptions): Verifier {
  const { jwks, issuer } = options;
  if (typeof issuer !== "string" || issuer.length === 0) throw new TypeError("issuer is required");
  const audience = typeof options.audience === "string" ? [options.audience] : [...options.audience];
  if (audience.length === 0 || audience.some((a) => typeof a !== "string" || a.length === 0)) {
    throw new TypeError("audience is required");
  }
  const algorithms = [...(options.algorithms ?? SIGNING_ALGS)];
  if (algorithms.length === 0 || !algorithms.every(isSigningAlg)) {
    throw new TypeError(`algorithms must be a non-empty subset of ${SIGNING_ALGS.join(", ")}`);
  }
  const allowed = new Set<string>(algorithms);
  const clockTolerance = options.clockToleranceSec ?? 30;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) throw new RangeError("clockToleranceSec must be >= 0");
  const now = options.now ?? (() => Date.now() / 1000);
  const cacheSize = options.cacheSize ?? 0;
  const cache = cacheSize > 0 ? new LruCache<string, CacheEntry>(cacheSize) : undefined;

  async function verifyUncached(token: string, at: number): Promise<AccessTokenClaims> {
    const { kid, alg } = checkHeader(token, allowed);
    let payload: unknown;
    try {
      const result = await jwtVerify(token, () => jwks.getKey(kid, alg), {
        algorithms,
        issuer,
        audience,
        clockTolerance,
        currentDate: new Date(at * 1000),
      });
      payload = result.payload;
    } catch (error) {
      throw fromJose(error);
    }
    return deepFreeze(parseClaims(payload));
  }

  function peek(token: string, at: number): AccessTokenClaims | undefined {
    if (cache === undefined) return undefined;
    const key = cacheKey(token);
    const hit = cache.get(key);
    if (hit === undefined || hit.token !== token) return undefined;
    // Strictly before `until` (<= exp): the cache may shorten a token's life, never extend it.
    if (at < hit.until) return hit.claims;
    cache.delete(key);
    return undefined;
  }

  return {
    async verify(token: string): Promise<AccessTokenClaims> {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw new TokenError("token_malformed", "token must be a compact JWS string");
      }
      const at = now();
      const hit = peek(token, at);
      if (hit !== undefined) return hit;
      const claims = await verifyUncached(token, at);
      cache?.set(cacheKey(token), { token, claims, until: Math.min(claims.exp, at + CACHE_TTL_SEC) });
      return claims;
    },
    peek(token: string): AccessTokenClaims | undefined {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
      return peek(token, now());
    },
  };
}

function normalizedTyp(typ: unknown): string | undefined {
  if (typeof typ !== "string") return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower;
}

/** Header checks done before any key lookup or crypto, so hostile headers cost nothing. */
function checkHeader(token: string, allowed: ReadonlySet<string>): { kid: string; alg: SigningAlg } {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new TokenError("token_malformed", "token header is not valid base64url JSON", { cause });
  }
  if (token.split(".").length !== 3) throw new TokenError("token_malformed", "token must be a compact JWS");

  const alg = header.alg;
  if (typeof alg !== "string" || alg.toLowerCase() === "none" || !allowed.has(alg) || !isSigningAlg(alg)) {
    throw new TokenError("token_alg_not_allowed", `alg ${JSON.stringify(alg ?? null)} is not allowed`);
  }
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) {
      throw new TokenError("token_header_forbidden", `token header must not carry "${name}"`);
    }
  }
  if (normalizedTyp(header.typ) !== "at+jwt") {
    throw new TokenError("token_type_invalid", `typ must be at+jwt, got ${JSON.stringify(header.typ ?? null)}`);
  }
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0) throw new TokenError("token_key_unknown", "token has no kid");
  return { kid, alg };
}

/** Maps anything jose (or the key source) throws to a TokenError. */
function fromJose(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  const wrap = (code: TokenError["code"], message: string, claim?: string): TokenError =>
    new TokenError(code, message, claim === undefined ? { cause: error } : { cause: error, claim });

  if (error instanceof errors.JWTExpired) return wrap("token_expired", "token has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return wrap("token_not_yet_valid", "token is not valid yet");
      case "iss":
        return wrap("token_issuer_invalid", "token issuer is not accepted", "iss");
      case "aud":
        return wrap("token_audience_invalid", "token audience is not accepted", "aud");
      default:
        return wrap("token_claims_invalid", `claim "${error.claim}" is invalid`, error.claim);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return wrap("token_signature_invalid", "token signature is invalid");
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return wrap("token_alg_not_allowed", "token algorithm is not allowed");
  }
  if (error instanceof errors.JWKInvalid || error instanceof errors.JWKSInvalid) {
    return wrap("key_invalid", "verification key is invalid");
  }
  // JWSInvalid, JWTInvalid and anything unexpected: the token could not be processed.
  return wrap("token_malformed", "token is malformed");
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

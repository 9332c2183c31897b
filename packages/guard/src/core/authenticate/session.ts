// Step 2, session path: a Kratos session (cookie or session token) is exchanged at
// the auth-service for a Gatehouse JWT, which is then verified locally and becomes
// the principal. The exchange result is cached (see cache.ts) for
// min(token exp − margin, maxTtl), so a warm session costs no network I/O; a
// revoked session stops working within maxTtl. Only positive answers are cached.
import type { Verifier } from "@gatehouse/tokens";
import { type Credential, credentialDigest, credentialDigestSync, type Sha256 } from "../extract.ts";
import type { InvalidationView } from "../invalidation.ts";
import { type CredentialKind, GuardError, type Principal } from "../types.ts";
import type { CachedToken, TokenCache } from "./cache.ts";
import type { ExchangeClient, ExchangeCredential } from "./exchange.ts";
import { principalFromClaims, verifyToken } from "./jwt.ts";

export interface ExchangeAuthenticatorOptions {
  via: Exclude<CredentialKind, "jwt">;
  exchange: ExchangeClient;
  verifier: Verifier;
  cache: TokenCache;
  /** Upper bound for a cache entry, ms. */
  maxTtlMs: number;
  /** A cached token is dropped this long before it expires, ms, so what we forward upstream is never about to expire. */
  marginMs: number;
  /** Clock, epoch ms. */
  now: () => number;
  /** Role changes and revocations announced by the auth-service (optional). */
  invalidations?: InvalidationView | undefined;
  /** A synchronous SHA-256 for the cache key (Node); without it, Web Crypto's (a promise per request). */
  sha256?: Sha256 | undefined;
}

export interface ExchangeAuthenticator {
  /** Synchronous on an in-process cache hit; a promise otherwise. */
  /** `clientAddress`: the end client, for the auth-service's rate limits (see ExchangeClient). */
  authenticate(credential: Credential, organizationId?: string, clientAddress?: string): Principal | Promise<Principal>;
}

export function createExchangeAuthenticator(options: ExchangeAuthenticatorOptions): ExchangeAuthenticator {
  const { via, exchange, verifier, cache, maxTtlMs, marginMs, now, invalidations, sha256 } = options;

  /** A cached token still verifies (signature, exp) and predates no announced change, or undefined. */
  async function reuse(token: string): Promise<CachedToken["verified"]> {
    try {
      const claims = await verifyToken(verifier, token);
      if (invalidations?.isStale(claims.sub, claims.sid, claims.iat)) return undefined;
      // Another instance's (Redis) or an unverified entry: only its age is known.
      return { principal: principalFromClaims(claims, token, via), issuedAtSec: claims.iat };
    } catch (error) {
      // Keys rotated away or token expired: fetch a fresh one. An outage propagates.
      if (error instanceof GuardError && error.code === "invalid_token") return undefined;
      throw error;
    }
  }

  async function load(
    key: string,
    credential: ExchangeCredential,
    organizationId: string | undefined,
    clientAddress: string | undefined,
  ) {
    const shared = await cache.shared(key);
    if (shared !== undefined) {
      const verified = await reuse(shared.token);
      if (verified !== undefined) {
        cache.store(key, { ...shared, verified }, false);
        return verified.principal;
      }
    }
    const asked = now();
    const token = await exchange.exchange(credential, organizationId, clientAddress);
    let claims: Awaited<ReturnType<typeof verifyToken>>;
    try {
      claims = await verifyToken(verifier, token);
    } catch (error) {
      // The auth-service just issued it: if it does not verify, issuer/audience/keys
      // are misconfigured. Not the user's fault, so not a 401.
      if (error instanceof GuardError && error.code === "invalid_token") {
        throw new GuardError(
          "dependency_unavailable",
          `the auth-service issued a token this guard rejects (${error.message})`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    const at = now();
    const expiresAtMs = Math.min(claims.exp * 1000 - marginMs, at + maxTtlMs);
    const principal = principalFromClaims(claims, token, via);
    if (expiresAtMs > at)
      cache.store(key, {
        token,
        expiresAtMs,
        verified: { principal, issuedAtSec: claims.iat, confirmedAtMs: asked },
      });
    return principal;
  }

  /** A verified entry that predates no announced change (role change, revocation). */
  function current(v: CachedToken["verified"]): v is NonNullable<CachedToken["verified"]> {
    return (
      v !== undefined &&
      !invalidations?.isStale(v.principal.subject, v.principal.sessionId, v.issuedAtSec, v.confirmedAtMs)
    );
  }

  async function slow(
    key: string,
    credential: ExchangeCredential,
    organizationId: string | undefined,
    clientAddress: string | undefined,
  ) {
    const hit = cache.local(key);
    if (hit !== undefined) {
      const v = hit.verified ?? (await reuse(hit.token));
      if (current(v)) {
        return v.principal;
      }
      cache.forget(key);
    }
    return cache.singleFlight(key, () => load(key, credential, organizationId, clientAddress));
  }

  return {
    authenticate(credential, organizationId, clientAddress) {
      if (credential.kind === "jwt") throw new TypeError("a JWT is not exchanged");
      const base = credentialDigestSync(credential, sha256);
      if (base === undefined) {
        return credentialDigest(credential).then((b) => {
          const key = organizationId === undefined ? b : `${b}|${organizationId}`;
          return slow(key, credential, organizationId, clientAddress);
        });
      }
      const key = organizationId === undefined ? base : `${base}|${organizationId}`;
      // The entry's token was verified when it was stored, and the entry ends before
      // the token does (and within maxTtl, which also bounds a key's removal from
      // the JWKS): only announced changes are left to check. A hit needs no promise.
      const v = cache.local(key)?.verified;
      if (current(v)) {
        return v.principal;
      }
      return slow(key, credential, organizationId, clientAddress);
    },
  };
}

/** The session path: Kratos cookie or session token. */
export function createSessionAuthenticator(options: Omit<ExchangeAuthenticatorOptions, "via">): ExchangeAuthenticator {
  return createExchangeAuthenticator({ ...options, via: "session" });
}

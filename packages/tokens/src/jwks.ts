import type { JWK } from "jose";
import { TokenError } from "./errors.ts";
import { publicJwkOf } from "./keys.ts";

export interface JwksDocument {
  readonly keys: JWK[];
}

/** Media type for a JWK Set (RFC 7517 §8.5). */
export const JWKS_CONTENT_TYPE = "application/jwk-set+json";

/**
 * Recommended Cache-Control for the JWKS endpoint. Short on purpose: verifiers refetch
 * on an unknown kid anyway, and rotation publishes the next key well before it signs
 * (more than max-age + stale-while-revalidate ahead), so a cached copy never blocks a
 * new key; a short max-age bounds how long a withdrawn key stays in HTTP caches.
 */
export const JWKS_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60";

/**
 * The JWKS document to serve: public members only, whatever was passed. Every key
 * needs a unique kid, since verifiers select keys by kid alone.
 */
export function toJwksDocument(publicJwks: readonly JWK[]): JwksDocument {
  const seen = new Set<string>();
  const keys = publicJwks.map((jwk) => {
    const pub = publicJwkOf(jwk);
    if (typeof pub.kid !== "string" || pub.kid.length === 0) {
      throw new TokenError("key_invalid", "every published key needs a kid");
    }
    if (seen.has(pub.kid)) throw new TokenError("key_invalid", `duplicate kid ${pub.kid}`);
    seen.add(pub.kid);
    return pub;
  });
  return { keys };
}

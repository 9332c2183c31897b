// Step 2, JWT path: a Gatehouse access token verified locally against the JWKS
// (no call to the auth-service per request). The verifier from @gatehouse/tokens
// enforces the alg allowlist, typ at+jwt, iss/aud/exp/nbf with leeway, refuses
// jku/x5u/jwk/x5c/crit headers, caches imported keys, refetches the JWKS on an
// unknown kid at most once per cooldown, and remembers verified tokens.
import { type AccessTokenClaims, isTokenError, type Verifier } from "@gatehouse/tokens";
import type { InvalidationView } from "../invalidation.ts";
import type { RevocationCheck } from "../revocation.ts";
import { type CredentialKind, GuardError, type GuardEvent, type Principal } from "../types.ts";

export function principalFromClaims(claims: AccessTokenClaims, token: string, via: CredentialKind): Principal {
  // Built field by field so optional members are absent rather than undefined
  // (exactOptionalPropertyTypes), and nothing but verified claims gets in. Frozen:
  // caches hand the same principal to many requests.
  return Object.freeze({
    subject: claims.sub,
    sessionId: claims.sid,
    ...(claims.email !== undefined ? { email: claims.email } : {}),
    ...(claims.email_verified !== undefined ? { emailVerified: claims.email_verified } : {}),
    ...(claims.org !== undefined ? { organizationId: claims.org } : {}),
    ...(claims.plan !== undefined ? { plan: claims.plan } : {}),
    ...(claims.role !== undefined ? { role: claims.role } : {}),
    ...(claims.mfa_required === true ? { mfaRequired: true as const } : {}),
    teams: claims.teams,
    permissions: claims.perms,
    aal: claims.aal,
    amr: claims.amr,
    via,
    token,
    expiresAt: claims.exp,
  });
}

/**
 * Verifies a token; rejects with GuardError: "invalid_token" (401) for anything wrong
 * with the token, "dependency_unavailable" (503) when no key could ever be fetched.
 */
export async function verifyToken(verifier: Verifier, token: string): Promise<AccessTokenClaims> {
  try {
    return await verifier.verify(token);
  } catch (error) {
    if (isTokenError(error)) {
      // No keys at all, or the issuer publishes an unusable key: our side's problem,
      // so the caller must not be told to sign in again.
      if (error.code === "jwks_unavailable" || error.code === "key_invalid") {
        throw new GuardError("dependency_unavailable", "the token signing keys are unavailable", { cause: error });
      }
      throw new GuardError("invalid_token", `access token rejected (${error.code})`, { cause: error });
    }
    throw new GuardError("invalid_token", "access token rejected", { cause: error });
  }
}

export interface JwtAuthenticator {
  /** Synchronous for a token verified before (no revocation check configured); a promise otherwise. */
  authenticate(token: string): Principal | Promise<Principal>;
}

export function createJwtAuthenticator(options: {
  verifier: Verifier;
  revocation?: RevocationCheck | undefined;
  /** Revocations pushed by the auth-service: checked in memory on every request. */
  invalidations?: InvalidationView | undefined;
  retryAfterSec: number;
  onEvent: (event: GuardEvent) => void;
}): JwtAuthenticator {
  const { verifier, revocation, invalidations } = options;
  // The verifier hands back the same frozen claims for a token it has seen (its
  // verified-token cache), so the principal is built once per token, not per request.
  const principals = new WeakMap<AccessTokenClaims, Principal>();
  function principalOf(claims: AccessTokenClaims, token: string): Principal {
    // A logout (or a revoked key) ends its tokens at once, not when they expire.
    if (invalidations?.isRevoked(claims.sid)) {
      throw new GuardError("session_revoked", "the session behind this token was revoked");
    }
    let principal = principals.get(claims);
    if (principal === undefined) {
      principal = principalFromClaims(claims, token, "jwt");
      principals.set(claims, principal);
    }
    return principal;
  }

  async function slow(token: string): Promise<Principal> {
    const claims = await verifyToken(verifier, token);
    if (revocation !== undefined) {
      let revoked: boolean;
      try {
        revoked = await revocation.isRevoked(claims.sid);
      } catch (cause) {
        // Fails closed, but as an outage (503), not as "signed out".
        options.onEvent({ type: "revocation_check_failed", message: errorMessage(cause) });
        throw new GuardError("dependency_unavailable", "the revocation list cannot be read", {
          cause,
          retryAfterSec: options.retryAfterSec,
        });
      }
      if (revoked) throw new GuardError("session_revoked", "the session behind this token was revoked");
    }
    return principalOf(claims, token);
  }

  return {
    authenticate(token) {
      // A token seen before is answered without a promise (it is the common case:
      // a client sends the same token until it expires).
      if (revocation === undefined) {
        const claims = verifier.peek(token);
        if (claims !== undefined) return principalOf(claims, token);
      }
      return slow(token);
    },
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

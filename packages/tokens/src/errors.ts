/**
 * Every failure this package reports is a TokenError with a code from this closed
 * union, so callers can branch on `code` (e.g. 401 vs 503) without parsing messages
 * and without ever seeing a raw jose error.
 */
export type TokenErrorCode =
  | "token_malformed"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_signature_invalid"
  | "token_alg_not_allowed"
  | "token_type_invalid"
  | "token_claims_invalid"
  | "token_issuer_invalid"
  | "token_audience_invalid"
  | "token_key_unknown"
  | "token_header_forbidden"
  // The key set could not be fetched and no key was ever cached: a server-side
  // outage (think 503), not a bad token (401).
  | "jwks_unavailable"
  | "key_decrypt_failed"
  | "key_invalid";

export const TOKEN_ERROR_CODES: readonly TokenErrorCode[] = [
  "token_malformed",
  "token_expired",
  "token_not_yet_valid",
  "token_signature_invalid",
  "token_alg_not_allowed",
  "token_type_invalid",
  "token_claims_invalid",
  "token_issuer_invalid",
  "token_audience_invalid",
  "token_key_unknown",
  "token_header_forbidden",
  "jwks_unavailable",
  "key_decrypt_failed",
  "key_invalid",
];

export interface TokenErrorOptions {
  /** The claim at fault, for token_claims_invalid (e.g. "teams", "exp"). */
  claim?: string;
  cause?: unknown;
}

export class TokenError extends Error {
  override readonly name = "TokenError";
  readonly code: TokenErrorCode;
  /** Name of the offending claim when the failure is about one claim. */
  readonly claim: string | undefined;

  constructor(code: TokenErrorCode, message: string, options: TokenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.claim = options.claim;
  }
}

export function isTokenError(value: unknown): value is TokenError {
  return value instanceof TokenError;
}

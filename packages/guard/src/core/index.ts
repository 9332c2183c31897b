// The framework-neutral, Edge-safe core: Web APIs only (fetch, crypto.subtle,
// Headers, URL). Node entries add an undici transport on top; see ../index.ts.

// The cross-process contracts: the auth-service's channel, for code that talks to it
// itself, and the error catalogue, for backends that answer in the same terms.
export {
  apiKeySessionId,
  ERRORS,
  type ErrorCode,
  INVALIDATION_CHANNEL,
  type Invalidation,
  isErrorCode,
  parseInvalidation,
  REVOKED_KEY_PREFIX,
  revokedKey,
} from "@gatehouse/contracts";
export { type FetchFunction, type FetchTransportOptions, fetchTransport } from "../transport/fetch.ts";
export {
  type Transport,
  TransportError,
  type TransportErrorKind,
  type TransportRequest,
  type TransportResponse,
} from "../transport/types.ts";
export type { CachedToken, RedisLike } from "./authenticate/cache.ts";
export { parseRetryAfter } from "./authenticate/exchange.ts";
export { principalFromClaims } from "./authenticate/jwt.ts";
export { authorize, type Verdict, validateRule } from "./authorize.ts";
export { isBrowserNavigation } from "./browser.ts";
export {
  type Credential,
  credentialKey,
  DEFAULT_SESSION_COOKIE,
  extractCredential,
  extractSessionCookie,
  removeCookie,
} from "./extract.ts";
export { createGuard, type Guard } from "./guard.ts";
export { InvalidationLog, type InvalidationView } from "./invalidation.ts";
export { IDENTITY_HEADERS, type IdentityHeaderOptions, identityHeaders, isIdentityHeader } from "./mutate.ts";
export type { GuardOptions, LoginOptions, SessionCacheOptions } from "./options.ts";
export { type AllowedHost, parseAllowedHosts, safeReturnTo, withReturnTo } from "./redirect.ts";
export { type RevocationCheck, redisRevocationList } from "./revocation.ts";
export {
  type AllowDecision,
  CREDENTIAL_KINDS,
  type CredentialKind,
  type Decision,
  type DenyDecision,
  GUARD_ERROR_CODES,
  GuardError,
  type GuardErrorCode,
  type GuardEvent,
  type GuardRequest,
  isGuardError,
  type Principal,
  type RedirectDecision,
  type Rule,
} from "./types.ts";

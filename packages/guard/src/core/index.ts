// The public names of the framework-neutral, Edge-safe core (Web APIs only), which
// every entry exports: "@gatehouse/guard" (Node, ../index.ts) and
// "@gatehouse/guard/next" (Edge, ../adapters/next.ts) each add their createGuard.

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
export { type CompiledRule, compileRule } from "./authorize.ts";
export { isBrowserNavigation } from "./browser.ts";
export type { Guard } from "./guard.ts";
export { InvalidationLog, type InvalidationView } from "./invalidation.ts";
export { IDENTITY_HEADERS, isIdentityHeader } from "./mutate.ts";
export type { GuardOptions, LoginOptions, SessionCacheOptions } from "./options.ts";
export { type AllowedHost, parseAllowedHosts, safeReturnTo } from "./redirect.ts";
export { type RevocationCheck, redisRevocationList } from "./revocation.ts";
export {
  type AllowDecision,
  type CredentialKind,
  type Decision,
  type DenyDecision,
  GuardError,
  type GuardErrorCode,
  type GuardEvent,
  type GuardRequest,
  type Principal,
  type RedirectDecision,
  type RefusalPage,
  type Rule,
} from "./types.ts";

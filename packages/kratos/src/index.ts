export {
  createKratosClient,
  type KratosClient,
  type KratosClientOptions,
  type ListSessionsOptions,
} from "./client.ts";
export {
  credentialFrom,
  credentialKey,
  DEFAULT_SESSION_COOKIE,
  extractSessionCookie,
  isValidCookieValue,
  isValidToken,
  type KratosCredential,
  looksLikeKratosSession,
  MAX_COOKIE_HEADER,
  MAX_CREDENTIAL_LENGTH,
} from "./credentials.ts";
export { digestCredentialSync } from "./credentials-node.ts";
export {
  isKratosError,
  KRATOS_ERROR_CODES,
  KratosError,
  type KratosErrorCode,
  type KratosErrorOptions,
  networkErrorCode,
  parseRetryAfter,
  STALE_SOCKET_CODES,
} from "./errors.ts";
export {
  type Aal,
  type KratosIdentity,
  type KratosSession,
  type KratosTraits,
  mapIdentity,
  mapSession,
  mapSessionSummary,
  type SessionDevice,
  type SessionSummary,
} from "./session.ts";

// @gatehouse/contracts: what crosses process boundaries, defined once. Imported by the
// auth-service, the gateway and the guard (whose core must run in edge runtimes), so
// nothing here depends on Node or on any package.
export {
  ERROR_CODES,
  ERRORS,
  type ErrorBody,
  type ErrorCode,
  type ErrorSpec,
  type ErrorStatus,
  errorBody,
  errorStatus,
  isErrorCode,
} from "./errors.ts";
export {
  EVENT_TYPES,
  EVENTS,
  type EventSpec,
  type EventType,
  EXAMPLE_EVENT,
  eventSchema,
  eventSchemaFile,
  type GatehouseEvent,
  isEventType,
} from "./events.ts";
export {
  apiKeySessionId,
  INVALIDATION_CHANNEL,
  type Invalidation,
  parseInvalidation,
  REVOKED_KEY_PREFIX,
  revokedKey,
} from "./invalidation.ts";
export {
  BRUTE_FORCE_PREFIX,
  BRUTE_FORCE_SCOPES,
  type BruteForceScope,
  bruteForceKeys,
  identifierKey,
  MAX_IDENTIFIER_LENGTH,
  normalizeIdentifier,
} from "./lockout.ts";
export { REQUEST_ID_PATTERN, requestIdFrom } from "./request-id.ts";
export { EVENT_STREAM, type EventStreamEntry } from "./stream.ts";

// The error codes Gatehouse answers with, one catalogue for the auth-service, the
// gateway and the guard. A code is a stable name clients branch on; each has one
// HTTP status and a default message. Every error body is {error, message, request_id}.

export interface ErrorSpec {
  readonly status: number;
  /** Used when the thrower has nothing more specific to say. */
  readonly message: string;
}

export const ERRORS = {
  bad_request: { status: 400, message: "bad request" },
  invalid_json: { status: 400, message: "request body is not valid JSON" },
  /** Duplicated or conflicting credentials: refused rather than one picked. */
  ambiguous_credentials: { status: 400, message: "send one credential, not several" },
  /** No usable credential, or one that is not (or no longer) valid. */
  unauthenticated: { status: 401, message: "sign in first" },
  /** A Gatehouse JWT failed verification. */
  invalid_token: { status: 401, message: "the access token is not valid" },
  invalid_api_key: { status: 401, message: "the API key is not valid" },
  /** The token's session (or API key) was revoked. */
  session_revoked: { status: 401, message: "this session was revoked" },
  forbidden: { status: 403, message: "not allowed" },
  /** Signed in at aal1; this needs a second factor (Kratos: session_aal2_required). */
  aal2_required: { status: 403, message: "this session needs a second factor" },
  email_unverified: { status: 403, message: "verify your email address first" },
  /** Another service deactivated the person (inbound user.deactivated); no token until reactivated. */
  user_deactivated: { status: 403, message: "this account is deactivated" },
  /** A cookie-authenticated request from an origin that is not allowlisted. */
  origin_not_allowed: { status: 403, message: "requests with a session cookie are not accepted from this origin" },
  not_found: { status: 404, message: "not found" },
  method_not_allowed: { status: 405, message: "method not allowed" },
  conflict: { status: 409, message: "conflicts with the current state" },
  last_owner: { status: 409, message: "an organization must keep at least one owner" },
  /** An invitation expired, was revoked or used; an endpoint that was retired. */
  gone: { status: 410, message: "no longer available" },
  payload_too_large: { status: 413, message: "request body too large" },
  unsupported_media_type: { status: 415, message: "send the body as application/json" },
  rate_limited: { status: 429, message: "too many requests; retry later" },
  /** The gateway's brute-force throttle on Kratos' login, registration and recovery flows. */
  too_many_attempts: { status: 429, message: "too many attempts; try again later" },
  headers_too_large: { status: 431, message: "request headers too large" },
  internal: { status: 500, message: "internal error" },
  bad_gateway: { status: 502, message: "the upstream could not be reached" },
  /** Postgres, Redis, Kratos or the auth-service cannot answer: retry, do not sign in again. */
  dependency_unavailable: { status: 503, message: "a dependency is unavailable; retry later" },
  /** This instance is shutting down: connect again (to another one). */
  unavailable: { status: 503, message: "this instance is shutting down; connect again" },
  upstream_timeout: { status: 504, message: "the upstream did not answer in time" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
/** The status that goes with `C`. */
export type ErrorStatus<C extends ErrorCode = ErrorCode> = (typeof ERRORS)[C]["status"];

export const ERROR_CODES = Object.keys(ERRORS) as readonly ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERRORS, value);
}

export function errorStatus<C extends ErrorCode>(code: C): ErrorStatus<C> {
  return ERRORS[code].status;
}

/** The body of every error answer. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  request_id: string;
}

/** The JSON text of an error answer; `message` defaults to the code's. */
export function errorBody(code: ErrorCode, message: string | undefined, requestId: string): string {
  const body: ErrorBody = { error: code, message: message ?? ERRORS[code].message, request_id: requestId };
  return JSON.stringify(body);
}

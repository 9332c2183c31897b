/**
 * Every failure of this package is a KratosError with a code from this closed
 * union. The split that matters to callers is "the user must sign in again"
 * (unauthenticated, aal2_required) versus "we could not ask Kratos" (unavailable,
 * rate_limited): the latter must never log anybody out.
 */
export type KratosErrorCode =
  // Kratos looked at the credential and said it is not (or no longer) a valid session.
  | "unauthenticated"
  // The session is valid but its AAL is lower than Kratos requires (403 session_aal2_required).
  | "aal2_required"
  // No usable answer: 5xx, timeout, connection refused/reset, malformed body.
  | "unavailable"
  // Kratos (or a proxy in front of it) answered 429.
  | "rate_limited"
  // Any other 4xx, or a call this package refused to make: a bug or misconfiguration on our side.
  | "bad_request";

export const KRATOS_ERROR_CODES: readonly KratosErrorCode[] = [
  "unauthenticated",
  "aal2_required",
  "unavailable",
  "rate_limited",
  "bad_request",
];

export interface KratosErrorOptions {
  /** HTTP status Kratos answered with, when there was an answer. */
  status?: number;
  /** Seconds from Retry-After (429, and 503 when Kratos or a proxy sends it). */
  retryAfterSec?: number;
  /** Kratos' `redirect_browser_to` for aal2_required (its login flow at aal2). */
  redirectBrowserTo?: string;
  /** Kratos' `error.id`, e.g. "session_aal2_required". */
  kratosErrorId?: string;
  cause?: unknown;
}

export class KratosError extends Error {
  override readonly name = "KratosError";
  readonly code: KratosErrorCode;
  readonly status?: number;
  readonly retryAfterSec?: number;
  readonly redirectBrowserTo?: string;
  readonly kratosErrorId?: string;

  // Messages are built by this package from fixed text, status codes and Kratos
  // error ids only, never from request headers, so they are safe to log.
  constructor(code: KratosErrorCode, message: string, options: KratosErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterSec !== undefined) this.retryAfterSec = options.retryAfterSec;
    if (options.redirectBrowserTo !== undefined) this.redirectBrowserTo = options.redirectBrowserTo;
    if (options.kratosErrorId !== undefined) this.kratosErrorId = options.kratosErrorId;
  }
}

export function isKratosError(value: unknown): value is KratosError {
  return value instanceof KratosError;
}

/**
 * Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Returns whole seconds >= 0, or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The code of a network error (`err.code`, else its name), for deciding whether to retry. */
export function networkErrorCode(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "error";
}

/**
 * Codes of a keep-alive socket the server closed just as it was reused: a routine
 * race that one retry of an idempotent call (or a token exchange) absorbs, so it
 * never becomes a user-visible 503. Shared with the guard's undici transport.
 */
export const STALE_SOCKET_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

// How a refusal looks on the wire, at every entry point: one request id rule, one
// JSON error body (a page instead for a browser's refused page load, page.ts),
// WWW-Authenticate on every 401, Retry-After where it applies, and never cacheable. The guard's own decisions and an entry point's own refusals (no
// route, a bad path, an upstream down) are written alike. Edge-safe.
import { type ErrorCode, errorBody } from "@gatehouse/contracts";
import type { DenyDecision, RedirectDecision } from "../core/types.ts";
import { refusalPageHtml } from "./page.ts";

// The request id rule and the error body are @gatehouse/contracts', as in every Gatehouse service.
export { errorBody, requestIdFrom } from "@gatehouse/contracts";

/** What a 401 says about how to authenticate (RFC 9110 §11.6.1). */
export const WWW_AUTHENTICATE = 'Bearer realm="gatehouse"';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** JSON text, an HTML page (a refused page load), or undefined (a redirect). */
  body: string | undefined;
}

/** A refusal, the guard's or the entry point's own (404 no route, 502 upstream down…). */
export function errorAnswer(
  status: number,
  error: ErrorCode,
  message: string,
  requestId: string,
  retryAfterSec?: number,
): Answer {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    // A decision about one caller must never be served to another from a cache.
    "cache-control": "no-store",
    "x-request-id": requestId,
  };
  if (retryAfterSec !== undefined) headers["retry-after"] = String(retryAfterSec);
  if (status === 401) headers["www-authenticate"] = WWW_AUTHENTICATE;
  return { status, headers, body: errorBody(error, message, requestId) };
}

/** A deny or redirect decision as an answer. */
export function answerOf(decision: DenyDecision | RedirectDecision, requestId: string): Answer {
  if (decision.kind === "deny" && decision.page !== undefined) {
    const json = errorAnswer(decision.status, decision.error, decision.message, requestId, decision.retryAfterSec);
    return {
      status: json.status,
      headers: {
        ...json.headers,
        "content-type": "text/html; charset=utf-8",
        // The page needs nothing but its inline style.
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
        "x-content-type-options": "nosniff",
      },
      body: refusalPageHtml(decision, requestId),
    };
  }
  if (decision.kind === "deny") {
    return errorAnswer(decision.status, decision.error, decision.message, requestId, decision.retryAfterSec);
  }
  return {
    status: decision.status,
    headers: { location: decision.location, "cache-control": "no-store", "x-request-id": requestId },
    body: undefined,
  };
}

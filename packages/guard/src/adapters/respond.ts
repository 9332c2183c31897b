// How a deny or redirect decision looks on the wire, shared by every adapter
// (Web APIs only, so the Next.js entry can use it too).
import type { DenyDecision, RedirectDecision } from "../core/types.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-Id when it is sane, else a fresh one. */
export function requestIdFrom(value: string | null | undefined): string {
  return typeof value === "string" && REQUEST_ID.test(value) ? value : globalThis.crypto.randomUUID();
}

export function denyBody(decision: DenyDecision, requestId: string): string {
  return JSON.stringify({ error: decision.error, message: decision.message, request_id: requestId });
}

export function denyHeaders(decision: DenyDecision, requestId: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    // A decision about one caller must never be served to another from a cache.
    "cache-control": "no-store",
    "x-request-id": requestId,
  };
  if (decision.retryAfterSec !== undefined) headers["retry-after"] = String(decision.retryAfterSec);
  if (decision.status === 401) headers["www-authenticate"] = 'Bearer realm="gatehouse"';
  return headers;
}

export function redirectHeaders(decision: RedirectDecision): Record<string, string> {
  return { location: decision.location, "cache-control": "no-store" };
}

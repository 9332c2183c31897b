// How a deny or redirect decision looks on the wire, shared by every adapter
// (Web APIs only, so the Next.js entry can use it too). The body and the request id
// are @gatehouse/contracts', as in every Gatehouse service.
import { errorBody } from "@gatehouse/contracts";
import type { DenyDecision, RedirectDecision } from "../core/types.ts";

export { requestIdFrom } from "@gatehouse/contracts";

export function denyBody(decision: DenyDecision, requestId: string): string {
  return errorBody(decision.error, decision.message, requestId);
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

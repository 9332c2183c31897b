// Which credential a request carries, and the cross-site check for cookies.
import { credentialFrom, type KratosCredential } from "@gatehouse/kratos";
import type { Request } from "express";
import { ApiError } from "./errors.ts";

export function sessionCredential(req: Request, cookieName: string): KratosCredential | undefined {
  const token = req.headers["x-session-token"];
  if (Array.isArray(token)) throw new ApiError(400, "bad_request", "X-Session-Token sent more than once");
  const cookieHeader = req.headers.cookie;
  const cred = credentialFrom(
    { ...(cookieHeader ? { cookieHeader } : {}), ...(token ? { sessionToken: token } : {}) },
    cookieName,
  );
  return cred;
}

/**
 * A cookie rides along with any request a browser makes, including one a hostile
 * page triggers. Cookie-authenticated calls therefore need an Origin from the
 * allowlist; a missing Origin means a non-browser caller (server-side rendering
 * forwarding the cookie), which is allowed. `null` is never allowed.
 */
export function assertAllowedOrigin(req: Request, allowed: ReadonlySet<string>): void {
  const origin = req.headers.origin;
  if (origin === undefined) {
    if (req.headers["sec-fetch-site"] === "cross-site") {
      throw new ApiError(403, "origin_not_allowed", "cross-site requests with a session cookie are refused");
    }
    return;
  }
  if (origin === "null" || !allowed.has(origin)) {
    throw new ApiError(403, "origin_not_allowed", "this origin may not use the session cookie here");
  }
}

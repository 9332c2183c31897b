// Which credential a request carries, and the cross-site check for cookies.
import type { IncomingHttpHeaders } from "node:http";
import { credentialFrom, digestCredentialSync, type KratosCredential } from "@gatehouse/kratos";
import { ApiError } from "./errors.ts";

/** What these checks read of a request: its headers (an Express or a plain node:http request fits). */
export type WithHeaders = { headers: IncomingHttpHeaders };

export function sessionCredential(req: WithHeaders, cookieName: string): KratosCredential | undefined {
  const token = req.headers["x-session-token"];
  if (Array.isArray(token)) throw new ApiError("bad_request", "X-Session-Token sent more than once");
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
export function assertAllowedOrigin(req: WithHeaders, allowed: ReadonlySet<string>): void {
  const origin = req.headers.origin;
  if (origin === undefined) {
    if (req.headers["sec-fetch-site"] === "cross-site") {
      throw new ApiError("origin_not_allowed", "cross-site requests with a session cookie are refused");
    }
    return;
  }
  if (origin === "null" || !allowed.has(origin)) {
    throw new ApiError("origin_not_allowed", "this origin may not use the session cookie here");
  }
}

/** `Authorization: Bearer sk_…` or `X-API-Key: sk_…`. A Bearer that is not an API key is not accepted here. */
export function apiKeyFrom(req: WithHeaders): string | undefined {
  const x = req.headers["x-api-key"];
  if (Array.isArray(x)) throw new ApiError("bad_request", "X-API-Key sent more than once");
  const auth = req.headers.authorization;
  const bearer = typeof auth === "string" && /^Bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (bearer !== undefined && !bearer.startsWith("sk_")) {
    throw new ApiError(
      "unauthenticated",
      "exchange a Kratos session or an API key; a bearer token is not a credential here",
    );
  }
  if (x !== undefined && bearer !== undefined && x !== bearer)
    throw new ApiError("bad_request", "two different API keys sent");
  return x ?? bearer;
}

/** A digest naming the credential a request sends (an API key, else a session), for rate limits. */
export function credentialDigestOf(
  apiKey: string | undefined,
  session: KratosCredential | undefined,
): string | undefined {
  if (apiKey !== undefined) return digestCredentialSync("api_key", apiKey);
  return session && digestCredentialSync(session.kind, session.value);
}

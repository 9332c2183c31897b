// The auth-service's public verification documents on the gateway's origin, so a
// verifier in any language finds them where the product is (docs/verifying-tokens.md):
//   GET|HEAD /.well-known/jwks.json                    the public keys
//   GET|HEAD /.well-known/oauth-authorization-server   RFC 8414 metadata
// Anonymous documents: no client header but the conditional ones reaches the
// auth-service (no cookie, Authorization, API key), and its answer is relayed as it
// is, cache headers included, minus any Set-Cookie. The metadata is not rewritten:
// its `issuer` is the `iss` the tokens carry (TOKEN_ISSUER), and its `jwks_uri` is
// that issuer's; with TOKEN_ISSUER set to the gateway's public origin (the chart's
// `tokens.issuer` host routed to the gateway), both name this origin, as RFC 8414
// §3.3 asks, without the gateway trusting a client's Host header to name itself.
import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import { errorAnswer, sendAnswer, sendError } from "@gatehouse/guard/node";
import type { Logger } from "pino";
import { callUpstream, forwardableHeaders, relayResponse, UpstreamError } from "./proxy/forward.ts";

export const DISCOVERY_PATHS: ReadonlySet<string> = new Set([
  "/.well-known/jwks.json",
  "/.well-known/oauth-authorization-server",
]);
/** The only client headers sent on: a cache in front may revalidate (304) through us. */
const CONDITIONAL = ["if-none-match", "if-modified-since"] as const;
const TIMEOUT_MS = 5_000;
const RETRY_AFTER_SEC = 5;

export function discovery(o: { authServiceUrl: string; log: Logger }) {
  const origin = new URL(o.authServiceUrl);
  const base = origin.pathname.replace(/\/+$/, "");
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  return async function serve(req: IncomingMessage, res: ServerResponse, path: string, requestId: string) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      const answer = errorAnswer(405, "method_not_allowed", `${path} answers GET and HEAD only`, requestId);
      return sendAnswer(res, { ...answer, headers: { ...answer.headers, allow: "GET, HEAD" } });
    }
    const headers = ["host", origin.host, "accept", "application/json", "x-request-id", requestId];
    for (const name of CONDITIONAL) {
      const v = req.headers[name];
      if (typeof v === "string") headers.push(name, v);
    }
    try {
      const call = { origin, agent, method: req.method, path: base + path, headers, body: undefined };
      const up = await callUpstream({ ...call, timeoutMs: TIMEOUT_MS });
      // A public, cacheable document sets no cookie on anyone.
      const kept = forwardableHeaders(up, (name, v) => (name.toLowerCase() === "set-cookie" ? undefined : v));
      relayResponse(up, res, [], (e) => o.log.warn({ err: e.message, path }, "auth-service answer broke off"), kept);
    } catch (e) {
      o.log.warn({ err: (e as Error).message, path }, "auth-service unreachable for discovery");
      if (e instanceof UpstreamError && e.kind === "aborted") return void res.destroy();
      sendError(
        res,
        503,
        "dependency_unavailable",
        "the auth-service did not answer; retry later",
        requestId,
        RETRY_AFTER_SEC,
      );
    }
  };
}

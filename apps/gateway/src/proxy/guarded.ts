// A request on a guarded route, start to end:
//   matchRoute (routes/match.ts: where the route rule is matched)
//   → enforce (@gatehouse/guard/node: the guard's decision; a refusal is answered
//     there, an allowed request has its headers rewritten there for the upstream)
//   → callUpstream / relayResponse (forward.ts), on the same path the rule matched.
import { Agent } from "node:http";
import type { AllowDecision, Guard } from "@gatehouse/guard";
import { enforce, nodeRequest, sendError } from "@gatehouse/guard/node";
import type { Logger } from "pino";
import type { ClientAddress } from "../client/address.ts";
import type { GatewayExchange } from "../exchange.ts";
import { matchRoute } from "../routes/match.ts";
import { matchKey } from "../routes/normalize.ts";
import type { RouteTable } from "../routes/schema.ts";
import { callUpstream, forwardableRequestHeaders, hasBody, relayResponse, type UpstreamError } from "./forward.ts";

export interface GuardedRoutes {
  /** Serves a request whose path was normalized (path, query) by the caller. */
  serve(e: GatewayExchange, path: string, query: string): void | Promise<void>;
  close(): void;
}

export function guardedRoutes(deps: {
  guard: Guard;
  client: ClientAddress;
  log: Logger;
  table: () => RouteTable;
}): GuardedRoutes {
  const { guard, client, log } = deps;
  const agent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });

  function serve(e: GatewayExchange, path: string, query: string): void | Promise<void> {
    const req = e.req;
    const route = matchRoute(deps.table(), req.headers.host, matchKey(path), e.method);
    if (!route) return sendError(e.res, 404, "not_found", "no route for this request", e.requestId);
    e.route = route.name;
    e.matched = route;
    e.target = path + query;
    e.stated = client.forwardedHeaders(req);
    const p = client.proto(req);
    const request = nodeRequest(
      req,
      () => `${p}://${req.headers.host ?? "localhost"}${path}${query}`,
      e.method,
      client.clientIp,
    );
    return enforce(guard, e, request, route.access, proxy);
  }

  /** Sends an allowed request on with the rewritten `headers`; a failure is this request's 502/504, never the process'. */
  function proxy(e: GatewayExchange, _decision: AllowDecision, headers: readonly string[]): Promise<void> {
    const route = e.matched;
    if (route === undefined) throw new Error("unreachable: proxying an unmatched request");
    return callUpstream({
      origin: route.origin,
      agent,
      method: e.method,
      path: e.target,
      headers: forwardableRequestHeaders(e.req, undefined, headers),
      body: hasBody(e.req) ? e.req : undefined,
      timeoutMs: route.timeoutMs,
    }).then(
      (upstream) =>
        relayResponse(upstream, e.res, [], (err) =>
          log.warn({ err: err.message, upstream: route.upstream }, "upstream answer broke off"),
        ),
      (err: UpstreamError) => upstreamFailed(e, err),
    );
  }

  function upstreamFailed(e: GatewayExchange, err: UpstreamError): void {
    log.warn({ err: err.message, kind: err.kind, upstream: e.matched?.upstream }, "upstream error");
    if (e.res.headersSent || e.res.destroyed || err.kind === "aborted") e.res.destroy();
    else if (err.kind === "timeout")
      sendError(e.res, 504, "upstream_timeout", "the upstream did not answer in time", e.requestId);
    else sendError(e.res, 502, "bad_gateway", "the upstream could not be reached", e.requestId);
  }

  return { serve, close: () => agent.destroy() };
}

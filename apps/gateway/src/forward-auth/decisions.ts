// Forward-auth: /decisions answers a proxy that does its own routing whether the
// request it describes may pass. nginx auth_request (X-Original-URI / -Method),
// Traefik ForwardAuth (X-Forwarded-Uri / -Method / -Host / -Proto) and Envoy
// ext_authz HTTP (original path appended to /decisions). Only trusted proxies are
// answered. Allowed: 200 with the route's forwarded headers (the same policy as a
// proxied request's, enforce/forward.ts); refused: the guard's answer.
//
// The hot path of a proxy in front of every request: an allowed, cached decision is
// written with one writeHead of a prebuilt header list.
import type { IncomingMessage } from "node:http";
import type { Decision, Guard } from "@gatehouse/guard";
import { answerOf, nodeRequest, respond, sendAnswer, sendError, WWW_AUTHENTICATE } from "@gatehouse/guard/node";
import type { ClientAddress } from "../client/address.ts";
import type { GatewayExchange } from "../exchange.ts";
import { matchRoute } from "../routes/match.ts";
import { matchKey, normalizePath } from "../routes/normalize.ts";
import type { CompiledRoute, RouteTable } from "../routes/schema.ts";

const PREFIX = "/decisions";

export const isDecisionsPath = (path: string): boolean => path === PREFIX || path.startsWith(`${PREFIX}/`);

/** The request a proxy asks about, or why it cannot be told. */
export type OriginalRequest =
  | {
      ok: true;
      method: string;
      /** Normalized path and query. */
      path: string;
      query: string;
      host: string | undefined;
      proto: "http" | "https";
      /** nginx auth_request: a login redirect must be handed over as a 401 (see answer). */
      nginx: boolean;
    }
  | { ok: false; message: string };

const only = (v: string | string[] | undefined): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * How the proxy described the original request. Each proxy says it in its own way, and
 * passes the client's other headers on as they came: Traefik forwards a client's
 * X-Original-URI next to its own X-Forwarded-Uri, nginx a client's X-Forwarded-Uri next
 * to its X-Original-URI. Whichever we preferred, a client could name another path than
 * the one the proxy will serve; when they disagree, refuse.
 */
export function originalRequest(req: IncomingMessage, path: string): OriginalRequest {
  const headers = req.headers;
  const originalUri = only(headers["x-original-uri"]);
  const forwardedUri = only(headers["x-forwarded-uri"]);
  const suffix = path.length > PREFIX.length ? path.slice(PREFIX.length) : undefined;
  const nginx = originalUri !== undefined;
  const uri = originalUri ?? forwardedUri ?? suffix;
  if (!uri)
    return {
      ok: false,
      message: "send the original URI (X-Original-URI, X-Forwarded-Uri, or a path after /decisions)",
    };
  const originalMethod = only(headers["x-original-method"]);
  const forwardedMethod = only(headers["x-forwarded-method"]);
  const n = normalizePath(uri);
  if (
    (originalUri !== undefined && forwardedUri !== undefined && originalUri !== forwardedUri) ||
    (suffix !== undefined && uri !== suffix && n.ok && n.path !== suffix) ||
    (originalMethod !== undefined &&
      forwardedMethod !== undefined &&
      originalMethod.toUpperCase() !== forwardedMethod.toUpperCase())
  )
    return { ok: false, message: "the original request is described twice, differently" };
  if (!n.ok) return { ok: false, message: `refused path: ${n.reason}` };
  const method = (originalMethod ?? forwardedMethod ?? (nginx ? "GET" : (req.method ?? "GET"))).toUpperCase();
  return {
    ok: true,
    method,
    path: n.path,
    query: n.query,
    host: only(headers["x-forwarded-host"]) ?? headers.host,
    proto: headers["x-forwarded-proto"] === "https" ? "https" : "http",
    nginx,
  };
}

export function forwardAuth(deps: { guard: Guard; client: ClientAddress; table: () => RouteTable }) {
  const { guard, client } = deps;

  function refuse(e: GatewayExchange, status: number, error: string, message: string): void {
    sendError(e.res, status, error, message, e.requestId);
    e.answered(status);
  }

  /** Answers GET /decisions[/<original path>]. */
  function decisions(e: GatewayExchange, path: string): void | Promise<void> {
    e.forwardAuth = true;
    const req = e.req;
    if (!client.fromTrustedProxy(req))
      return refuse(e, 403, "forbidden", "forward-auth answers only configured trusted proxies");
    const o = originalRequest(req, path);
    if (!o.ok) return refuse(e, 400, "bad_request", o.message);
    e.method = o.method;
    e.path = o.path;
    const route = matchRoute(deps.table(), o.host, matchKey(o.path), o.method);
    if (!route) return refuse(e, 404, "not_found", "no route for this request");
    e.route = route.name;
    const url = () => `${o.proto}://${o.host ?? "localhost"}${o.path}${o.query}`;
    const decided = guard.decide(nodeRequest(req, url, o.method, client.clientIp), route.access.rule);
    if (decided instanceof Promise) return decided.then((d) => answer(e, route, o.nginx, d));
    answer(e, route, o.nginx, decided);
  }

  function answer(e: GatewayExchange, route: CompiledRoute, nginx: boolean, decision: Decision): void {
    e.onDecision(decision);
    if (decision.kind === "allow") {
      const add = route.access.forward.added(decision);
      e.res.writeHead(200, ["cache-control", "no-store", "x-request-id", e.requestId, ...add]);
      e.res.end();
    } else if (decision.kind === "redirect" && nginx) {
      // auth_request only understands 2xx, 401 and 403: hand nginx the target to use in error_page.
      const a = answerOf(decision, e.requestId);
      a.status = 401;
      a.headers["x-auth-redirect"] = decision.location;
      a.headers["www-authenticate"] = WWW_AUTHENTICATE;
      sendAnswer(e.res, a);
    } else respond(e.req, e.res, decision, e.requestId);
    e.answered();
  }

  return decisions;
}

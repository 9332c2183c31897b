// Forward-auth: /decisions answers a proxy that does its own routing whether the
// request it describes may pass. The proxy is the one FORWARD_AUTH_PROXY names (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz HTTP); the
// original request is read from that proxy's headers only (original-request.ts).
// Only trusted proxies are answered. Allowed: 200 with the route's forwarded headers
// (the same policy as a proxied request's, enforce/forward.ts); refused: the guard's
// answer, in the form nginx's auth_request can pass on.
//
// The hot path of a proxy in front of every request: an allowed, cached decision is
// written with one writeHead of a prebuilt header list.
import type { ErrorCode } from "@gatehouse/contracts";
import type { Decision, Guard } from "@gatehouse/guard";
import { type Answer, answerOf, errorAnswer, nodeRequest, sendAnswer, WWW_AUTHENTICATE } from "@gatehouse/guard/node";
import type { ClientAddress } from "../client/address.ts";
import type { GatewayExchange } from "../exchange.ts";
import { matchRoute } from "../routes/match.ts";
import { matchKey, normalizePath } from "../routes/normalize.ts";
import type { CompiledRoute, RouteTable } from "../routes/schema.ts";
import { type ForwardAuthProxy, forAuthRequest, originalRequest } from "./original-request.ts";

const PREFIX = "/decisions";

export const isDecisionsPath = (path: string): boolean => path === PREFIX || path.startsWith(`${PREFIX}/`);

export function forwardAuth(deps: {
  guard: Guard;
  client: ClientAddress;
  table: () => RouteTable;
  proxy: ForwardAuthProxy | undefined;
}) {
  const { guard, client, proxy } = deps;
  const nginx = proxy === "nginx";
  // Logged and counted with the decision's own status: nginx is handed 403 + X-Auth-Status,
  // but the operator reading the access log wants the 404, 429 or 503 it stands for.
  const send = (e: GatewayExchange, a: Answer): void => {
    sendAnswer(e.res, nginx ? forAuthRequest(a) : a, e.req.method === "HEAD");
    e.answered(a.status);
  };

  function refuse(e: GatewayExchange, status: number, error: ErrorCode, message: string): void {
    send(e, errorAnswer(status, error, message, e.requestId));
  }

  /** Answers GET /decisions[/<original path>]. */
  function decisions(e: GatewayExchange): void | Promise<void> {
    e.forwardAuth = true;
    const req = e.req;
    if (proxy === undefined) return refuse(e, 404, "not_found", "forward-auth is off (FORWARD_AUTH_PROXY is not set)");
    if (!client.fromTrustedProxy(req))
      return refuse(e, 403, "forbidden", "forward-auth answers only configured trusted proxies");
    const described = originalRequest(proxy, req);
    if (!described.ok) return refuse(e, 400, "bad_request", described.message);
    const { method, target, host, proto } = described.request;
    const n = normalizePath(target);
    if (!n.ok) return refuse(e, 400, "bad_request", `refused path: ${n.reason}`);
    e.method = method;
    e.path = n.path;
    const route = matchRoute(deps.table(), host, matchKey(n.path), method);
    if (!route) return refuse(e, 404, "not_found", "no route for this request");
    e.route = route.name;
    const url = () => `${proto}://${host ?? "localhost"}${n.path}${n.query}`;
    const decided = guard.decide(nodeRequest(req, url, method, client.clientIp), route.access.rule);
    if (decided instanceof Promise) return decided.then((d) => answer(e, route, d));
    answer(e, route, decided);
  }

  function answer(e: GatewayExchange, route: CompiledRoute, decision: Decision): void {
    e.onDecision(decision);
    if (decision.kind === "allow") {
      const add = route.access.forward.added(decision);
      e.res.writeHead(200, ["cache-control", "no-store", "x-request-id", e.requestId, ...add]);
      e.res.end();
      e.answered(200);
    } else if (decision.kind === "redirect" && nginx) {
      // auth_request only understands 2xx, 401 and 403: hand nginx the target to use in error_page.
      const a = answerOf(decision, e.requestId);
      const status = a.status;
      a.status = 401;
      a.headers["x-auth-redirect"] = decision.location;
      a.headers["www-authenticate"] = WWW_AUTHENTICATE;
      sendAnswer(e.res, a);
      e.answered(status);
    } else send(e, answerOf(decision, e.requestId));
  }

  return decisions;
}

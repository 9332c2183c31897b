// The gateway: one node:http server (no framework on the hot path) whose request path
// is handed to its rooms:
//   handle()  normalize the path (routes/normalize.ts), then
//     /decisions…             forward-auth/decisions.ts   forward-auth for nginx, Traefik, Envoy
//     /health…, /metrics      health.ts, metrics.ts
//     /.well-known/jwks.json, /.well-known/oauth-authorization-server
//                             discovery.ts                the auth-service's, anonymous
//     Kratos' public paths    kratos/passthrough.ts       brute-force limits: throttle/
//     anything else           proxy/guarded.ts            match the route → the guard
//                                                          (@gatehouse/guard/node enforce) → upstream
//   upgrade   websocket/upgrade.ts
// Who the client is (TRUSTED_PROXIES) is client/address.ts; a request's state, the
// exchange.ts object every room reads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Guard, parseAllowedHosts } from "@gatehouse/guard";
import { errorBody, requestIdOf, sendError } from "@gatehouse/guard/node";
import { HttpDrain } from "@gatehouse/observability/shutdown";
import type { RedisClient } from "@gatehouse/redis";
import type { Logger } from "pino";
import { clientAddress } from "./client/address.ts";
import type { GatewayConfig } from "./config.ts";
import { DISCOVERY_PATHS, discovery } from "./discovery.ts";
import { GatewayExchange } from "./exchange.ts";
import { forwardAuth, isDecisionsPath } from "./forward-auth/decisions.ts";
import { parseErrorForAuthRequest } from "./forward-auth/original-request.ts";
import { DRAINING, readiness, sendJson } from "./health.ts";
import { announceRevoked } from "./kratos/logout.ts";
import { KRATOS_PATHS, kratosPassthrough } from "./kratos/passthrough.ts";
import { GatewayMetrics } from "./metrics.ts";
import { guardedRoutes } from "./proxy/guarded.ts";
import { normalizePath } from "./routes/normalize.ts";
import type { RouteTable } from "./routes/schema.ts";
import { submissionLimits } from "./throttle/limits.ts";
import { websockets } from "./websocket/upgrade.ts";

export interface GatewayDeps {
  cfg: GatewayConfig;
  log: Logger;
  guard: Guard;
  table: RouteTable;
  redis?: RedisClient;
  /** The auth-service's invalidation channel, as the guard hears it (for readiness). */
  invalidations?: { readonly listening: boolean };
}

export interface Gateway {
  server: Server;
  /**
   * The metrics listener's handler (GET /metrics), for a separate port: with
   * METRICS_PORT set, the public port does not serve /metrics.
   */
  metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  reload(table: RouteTable): void;
  /**
   * Drains the listener (and any other server added to `drain`): readiness 503 at once,
   * no new connections, requests in flight finished, keep-alive clients moved off with
   * Connection: close, websockets closed at the deadline (SHUTDOWN_GRACE_SECONDS).
   */
  close(): Promise<void>;
  /** The listener's drain; main.ts adds the metrics listener to it. */
  readonly drain: HttpDrain;
  readonly table: RouteTable;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { cfg, log, guard, redis } = deps;
  let table = deps.table;
  const routes = () => table;
  const client = clientAddress(cfg.TRUSTED_PROXIES);
  const metrics = new GatewayMetrics(log, cfg.ACCESS_LOG, client.clientIp);
  // SIGTERM: see close().
  const drain = new HttpDrain({ graceMs: cfg.SHUTDOWN_GRACE_SECONDS * 1000, log });

  const kratos = kratosPassthrough({
    ...submissionLimits(cfg, redis, log),
    kratosPublicUrl: cfg.KRATOS_PUBLIC_URL,
    allowedReturnHosts: parseAllowedHosts(cfg.ALLOWED_RETURN_HOSTS),
    returnBase: cfg.LOGIN_URL ? new URL(cfg.LOGIN_URL).origin : undefined,
    uiUrl: cfg.SELF_SERVICE_UI_URL ?? (cfg.LOGIN_URL ? new URL(".", cfg.LOGIN_URL).href : undefined),
    clientIp: client.clientIp,
    proto: client.proto,
    cookieName: cfg.KRATOS_COOKIE_NAME,
    ...(redis ? { announceRevoked: (sid: string) => announceRevoked(redis, sid) } : {}),
    log,
  });
  const wellKnown = discovery({ authServiceUrl: cfg.AUTH_SERVICE_URL, log });
  const guarded = guardedRoutes({ guard, client, log, table: routes });
  const decisions = forwardAuth({ guard, client, table: routes, proxy: cfg.FORWARD_AUTH_PROXY });
  const sockets = websockets({
    guard,
    client,
    log,
    metrics,
    table: routes,
    recheckSeconds: cfg.WEBSOCKET_RECHECK_SECONDS,
    draining: () => drain.draining,
  });

  // Not async: a cached decision is answered without a promise; only the steps that
  // wait (a guard lookup, readiness, the upstream) return one.
  function handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const e = new GatewayExchange(req, res, requestIdOf(req), metrics);
    const n = normalizePath(req.url ?? "/");
    if (n.ok && isDecisionsPath(n.path)) return decisions(e);
    res.setHeader("x-request-id", e.requestId);
    res.on("finish", () => e.answered());
    if (!n.ok) return sendError(res, 400, "bad_request", `refused path: ${n.reason}`, e.requestId);
    const { path, query } = n;
    e.path = path;
    if (path === "/health/alive" || path === "/health") return sendJson(res, 200, { status: "ok" });
    if (path === "/health/ready") return ready(res);
    if (path === "/metrics" && cfg.METRICS_PORT === undefined) return sendMetrics(res);
    if ((path.startsWith("/s") || path.startsWith("/.")) && KRATOS_PATHS.test(path)) {
      e.route = "kratos";
      return kratos(req, res, path, query);
    }
    if (DISCOVERY_PATHS.has(path)) {
      e.route = "discovery";
      return wellKnown(req, res, path, e.requestId);
    }
    return guarded.serve(e, path, query);
  }

  function ready(res: ServerResponse): void | Promise<void> {
    if (drain.draining) return sendJson(res, 503, DRAINING);
    return readiness(cfg, redis, deps.invalidations).then((r) => sendJson(res, r.ok ? 200 : 503, r));
  }

  function sendMetrics(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "cache-control": "no-store" });
    res.end(metrics.render());
  }

  const server = createServer(
    { requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 65_000 },
    (req, res) => {
      const fail = (err: Error) => {
        log.error({ err: err.message }, "request failed");
        sendError(res, 500, "internal", "internal error", String(res.getHeader("x-request-id") ?? requestIdOf(req)));
      };
      try {
        handle(req, res)?.catch(fail);
      } catch (err) {
        fail(err as Error);
      }
    },
  );
  drain.add(server);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.upgrade(req, socket, head).catch((err: Error) => {
      log.error({ err: err.message }, "upgrade failed");
      socket.destroy();
    });
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const tooBig = err.code === "HPE_HEADER_OVERFLOW";
    const body = tooBig
      ? errorBody("headers_too_large", "request headers too large", crypto.randomUUID())
      : errorBody("bad_request", "malformed HTTP request", crypto.randomUUID());
    const status = tooBig ? "431 Request Header Fields Too Large" : "400 Bad Request";
    // nginx's auth_request makes anything but 2xx/401/403 a 500 (forward-auth/original-request.ts).
    const line = parseErrorForAuthRequest(cfg.FORWARD_AUTH_PROXY, (err as { rawPacket?: unknown }).rawPacket)
      ? `403 Forbidden\r\nX-Auth-Status: ${status.slice(0, 3)}`
      : status;
    socket.end(
      `HTTP/1.1 ${line}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  return {
    server,
    metricsHandler(req, res) {
      const path = (req.url ?? "/").split("?")[0];
      const id = requestIdOf(req);
      if (path !== "/metrics") return sendError(res, 404, "not_found", "this port serves only GET /metrics", id);
      if (req.method !== "GET" && req.method !== "HEAD")
        return sendError(res, 405, "method_not_allowed", "GET /metrics only", id);
      sendMetrics(res);
    },
    get table() {
      return table;
    },
    reload(next) {
      table = next;
    },
    drain,
    async close() {
      // Websockets stay open (and re-checked) until the drain's deadline closes them.
      await drain.drain();
      sockets.close();
      guarded.close();
    },
  };
}

// The gateway's request path, on plain node:http (no framework on the hot path):
//   normalize the path → Kratos passthrough | forward-auth | route match
//   → guard (credential → authentication → authorization) → strip what the client
//   may not send, add identity → proxy upstream (keep-alive) with the same path
//   the rule matched.
import { randomUUID } from "node:crypto";
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type ErrorCode, type ErrorStatus, errorBody, requestIdFrom } from "@gatehouse/contracts";
import {
  type Decision,
  type Guard,
  type GuardRequest,
  isIdentityHeader,
  parseAllowedHosts,
  type Rule,
  removeCookie,
} from "@gatehouse/guard";
import {
  guardRequest,
  isClientAddressHeader,
  isRoutingOverrideHeader,
  stripIdentityHeaders,
} from "@gatehouse/guard/node";
import { Counter, type CounterSeries, Histogram, type HistogramSeries, renderAll } from "@gatehouse/observability";
import { accessLineWriter } from "@gatehouse/observability/logger";
import { HttpDrain } from "@gatehouse/observability/shutdown";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { GatewayConfig } from "./config.ts";
import { trustChecker } from "./config.ts";
import { announceRevoked } from "./kratos/logout.ts";
import { KRATOS_PATHS, kratosPassthrough } from "./kratos/passthrough.ts";
import {
  callUpstream,
  forwardableRequestHeaders,
  hasBody,
  relayResponse,
  type UpstreamError,
} from "./proxy/forward.ts";
import { forwardUpgrade, refuseSocket } from "./proxy/websocket.ts";
import { matchRoute } from "./routes/match.ts";
import { matchKey, normalizePath } from "./routes/normalize.ts";
import type { CompiledRoute, RouteTable } from "./routes/schema.ts";
import { BruteForce } from "./throttle/brute-force.ts";
import { FallbackCounters, RedisCounters } from "./throttle/counters.ts";
import { FailureFloor } from "./throttle/failure-floor.ts";

export interface GatewayDeps {
  cfg: GatewayConfig;
  log: Logger;
  guard: Guard;
  table: RouteTable;
  redis?: Redis;
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

/** An error answer: a code from the catalogue (@gatehouse/contracts) with its status. */
export function sendError<C extends ErrorCode>(
  res: ServerResponse,
  status: ErrorStatus<C>,
  error: C,
  message: string,
  retryAfterSec?: number,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const requestId = String(res.getHeader("x-request-id") ?? randomUUID());
  const body = errorBody(error, message, requestId);
  const headers: Record<string, string | number> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  };
  if (retryAfterSec !== undefined) headers["retry-after"] = String(retryAfterSec);
  res.writeHead(status, headers);
  res.end(body);
}

// One Rule object per compiled route, so the guard validates it once (it remembers
// the rule objects it has checked), not on every request.
const rules = new WeakMap<CompiledRoute, Rule>();
function ruleOf(route: CompiledRoute): Rule {
  let rule = rules.get(route);
  if (rule === undefined) {
    rule = Object.freeze({
      accept: route.auth.accept,
      ...(route.auth.anonymous ? { anonymous: true } : {}),
      ...(route.auth.roles.length ? { roles: route.auth.roles } : {}),
      ...(route.auth.permissions.length ? { permissions: route.auth.permissions } : {}),
      ...(route.auth.aal === "aal2" ? { aal: "aal2" as const } : {}),
    });
    rules.set(route, rule);
  }
  return rule;
}

// What a route forwards of the guard's headers (the JWT, the identity headers, or
// both), for the upstream request and for a forward-auth answer alike, as a flat
// [name, value, name, value, …] list (the form writeHead takes without building a
// header map). The guard hands out one frozen headers object per principal, so
// this is built once per principal and route option set.
const forwarded = new WeakMap<Readonly<Record<string, string>>, (readonly string[] | undefined)[]>();
function forwardedHeaders(
  headers: Readonly<Record<string, string>>,
  forward: CompiledRoute["forward"],
): readonly string[] {
  const slot = (forward.jwt ? 1 : 0) + (forward.identityHeaders ? 2 : 0);
  let slots = forwarded.get(headers);
  const hit = slots?.[slot];
  if (hit !== undefined) return hit;
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    const lk = k.toLowerCase();
    if (lk === "authorization" ? forward.jwt : forward.identityHeaders) out.push(lk, v);
  }
  if (slots === undefined) {
    slots = [];
    forwarded.set(headers, slots);
  }
  slots[slot] = Object.freeze(out);
  return out;
}

// A websocket's periodic re-checks read the headers as they were at the upgrade (the
// request's own are rewritten for the upstream) and ask for JSON answers, not redirects.
function snapshotHeaders(req: IncomingMessage): GuardRequest["headers"] {
  const h: IncomingMessage["headers"] = { ...req.headers, accept: "application/json" };
  return {
    get(name: string) {
      const v = h[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
    },
  };
}

const only = (v: string | string[] | undefined): string | undefined => (typeof v === "string" ? v : undefined);

// Client-sent headers the upstream never receives: identity claims, what only a
// proxy may say about the client (we say it ourselves), routing overrides unless
// the route opts in, the credentials the guard consumed and the client's request
// id (ours replaces it), in any case. One verdict per name as sent (bounded: a
// client can invent names), as every header of every proxied request is checked.
const Verdict = { Keep: 0, Drop: 1, Routing: 2, Cookie: 3, SessionToken: 4 } as const;
type Verdict = (typeof Verdict)[keyof typeof Verdict];
const verdicts = new Map<string, Verdict>();
function verdictOf(name: string): Verdict {
  let v = verdicts.get(name);
  if (v === undefined) {
    const lower = name.toLowerCase();
    if (isRoutingOverrideHeader(lower)) v = Verdict.Routing;
    else if (lower === "cookie") v = Verdict.Cookie;
    else if (lower === "x-session-token") v = Verdict.SessionToken;
    else if (
      isIdentityHeader(lower) ||
      isClientAddressHeader(lower) ||
      lower === "authorization" ||
      lower === "x-api-key" ||
      lower === "x-request-id"
    )
      v = Verdict.Drop;
    else v = Verdict.Keep;
    if (verdicts.size >= 4_096) verdicts.clear();
    verdicts.set(name, v);
  }
  return v;
}

/** A request id the client sent, if it is a sane one, or a fresh one. */
function requestIdOf(req: IncomingMessage): string {
  return requestIdFrom(req.headers["x-request-id"]);
}

/** Two-level memo (route name, then status or outcome) of metric series, so a request does no label-key work. */
function seriesTable<K, S>(make: (route: string, k: K) => S): (route: string, k: K) => S {
  const byRoute = new Map<string, Map<K, S>>();
  return (route, k) => {
    let m = byRoute.get(route);
    if (m === undefined) {
      m = new Map();
      byRoute.set(route, m);
    }
    let s = m.get(k);
    if (s === undefined) {
      s = make(route, k);
      m.set(k, s);
    }
    return s;
  };
}

const announceOn = (redis: Redis) => (sid: string) => announceRevoked(redis, sid);

export function createGateway(deps: GatewayDeps): Gateway {
  const { cfg, log, guard } = deps;
  let table = deps.table;
  const trusted = trustChecker(cfg.TRUSTED_PROXIES);
  const agent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
  // Upstream origins, parsed once per route table.
  const origins = new Map<string, URL>();
  const originOf = (upstream: string) => {
    let u = origins.get(upstream);
    if (u === undefined) {
      u = new URL(upstream);
      origins.set(upstream, u);
    }
    return u;
  };
  const metrics = {
    requests: new Histogram(
      "gatehouse_gateway_request_duration_seconds",
      "Gateway request latency by route and status",
    ),
    decisions: new Counter("gatehouse_gateway_decisions_total", "Guard decisions by route and outcome"),
    websockets: new Counter("gatehouse_gateway_websockets_closed_total", "Websockets closed by a re-check"),
  };
  // Route names come from the routes file: a reload that renames routes adds series
  // (as the label-keyed calls did), it does not grow them per request.
  const requestSeries = seriesTable<number, HistogramSeries>((route, status) =>
    metrics.requests.labels({ route, status: String(status) }),
  );
  const decisionSeries = seriesTable<string, CounterSeries>((route, outcome) =>
    metrics.decisions.labels({ route, outcome }),
  );
  // Forward-auth decisions are counted as "decisions:<route>", apart from proxied ones.
  const forwardAuthSeries = seriesTable<string, CounterSeries>((route, outcome) =>
    metrics.decisions.labels({ route: `decisions:${route}`, outcome }),
  );
  const outcomeOf = (d: Decision) => (d.kind === "deny" ? String(d.status) : d.kind);
  const countDecision = (route: string, d: Decision) => decisionSeries(route, outcomeOf(d)).inc();
  const countForwardAuth = (route: string, d: Decision) => forwardAuthSeries(route, outcomeOf(d)).inc();
  // ACCESS_LOG: one line per answered request. Its fields are ours and never secret:
  // no header, cookie or query string is ever put on it.
  const access = cfg.ACCESS_LOG ? accessLineWriter(log) : undefined;
  /**
   * A request is answered: its latency observation and, with ACCESS_LOG, its line.
   * Forward-auth answers count under the route "decisions" and log as
   * "decisions:<matched route>" (`route` empty when none matched).
   */
  function answered(
    req: IncomingMessage,
    id: string,
    t0: number,
    status: number,
    method: string,
    path: string,
    route: string,
    forwardAuth: boolean,
  ): void {
    const ms = performance.now() - t0;
    requestSeries(forwardAuth ? "decisions" : route, status).observe(ms / 1000);
    access?.({
      request_id: id,
      method,
      path,
      route: forwardAuth ? (route ? `decisions:${route}` : "decisions") : route,
      status,
      ms: Math.round(ms * 10) / 10,
      client: clientIp(req),
    });
  }

  // --- who is the client ----------------------------------------------------------
  // A connection's peer never changes: decide trust once per socket, not per check.
  const socketTrust = new WeakMap<Socket, boolean>();
  const fromTrustedProxy = (req: IncomingMessage) => {
    let t = socketTrust.get(req.socket);
    if (t === undefined) {
      t = trusted(req.socket.remoteAddress);
      socketTrust.set(req.socket, t);
    }
    return t;
  };
  function clientIp(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? "";
    if (!fromTrustedProxy(req)) return peer;
    const xff = String(req.headers["x-forwarded-for"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    // Walk from the nearest hop outwards; the first address we do not trust is the client.
    for (let i = xff.length - 1; i >= 0; i--) if (!trusted(xff[i])) return xff[i] as string;
    return xff[0] ?? peer;
  }
  const proto = (req: IncomingMessage) => {
    const p = fromTrustedProxy(req)
      ? String(req.headers["x-forwarded-proto"] ?? "")
          .split(",")[0]
          ?.trim()
      : "";
    return p === "https" || p === "http" ? p : "http";
  };

  // Brute-force counters: in Redis (shared by every instance) while it answers, in
  // this instance's memory while it does not, never "no limit".
  const counters = new FallbackCounters({
    redis: deps.redis ? new RedisCounters(deps.redis) : undefined,
    onChange: (degraded, e) =>
      degraded
        ? log.warn({ err: e?.message }, "brute-force counters: Redis unavailable, counting in this instance's memory")
        : log.info("brute-force counters: back on Redis"),
  });
  const allowedReturnHosts = parseAllowedHosts(cfg.ALLOWED_RETURN_HOSTS);
  const kratos = kratosPassthrough({
    kratosPublicUrl: cfg.KRATOS_PUBLIC_URL,
    login: new BruteForce(counters, {
      maxFailures: cfg.BRUTE_FORCE_MAX_FAILURES,
      lockoutSec: cfg.BRUTE_FORCE_LOCKOUT_SECONDS,
      maxIpFailures: cfg.BRUTE_FORCE_MAX_IP_FAILURES,
      delayBaseMs: cfg.BRUTE_FORCE_DELAY_BASE_MS,
    }),
    attempts: new BruteForce(counters, {
      maxFailures: cfg.BRUTE_FORCE_MAX_ATTEMPTS,
      lockoutSec: cfg.BRUTE_FORCE_LOCKOUT_SECONDS,
      maxIpFailures: cfg.BRUTE_FORCE_MAX_IP_FAILURES * 2,
      delayBaseMs: 0,
    }),
    floor: new FailureFloor({ minMs: cfg.LOGIN_FAILURE_FLOOR_MS }),
    allowedReturnHosts,
    returnBase: cfg.LOGIN_URL ? new URL(cfg.LOGIN_URL).origin : undefined,
    uiUrl: cfg.SELF_SERVICE_UI_URL ?? (cfg.LOGIN_URL ? new URL(".", cfg.LOGIN_URL).href : undefined),
    clientIp,
    proto,
    cookieName: cfg.KRATOS_COOKIE_NAME,
    ...(deps.redis ? { announceRevoked: announceOn(deps.redis) } : {}),
    log,
    sendError,
  });

  /**
   * The headers the upstream gets: the client's, minus what it may not say (see
   * verdictOf) and the hop-by-hop ones, plus the guard's identity headers, our
   * X-Forwarded-* and request id, and the body's framing.
   */
  function upstreamHeaders(
    req: IncomingMessage,
    route: CompiledRoute,
    decision: Extract<Decision, { kind: "allow" }>,
    id: string,
  ): string[] {
    const keepCredentials = route.forward.kratosCookie;
    const out = forwardableRequestHeaders(req, (name, value) => {
      switch (verdictOf(name)) {
        case Verdict.Keep:
          return value;
        case Verdict.Drop:
          return undefined;
        case Verdict.Routing:
          return route.forward.routingHeaders ? value : undefined;
        case Verdict.SessionToken:
          return keepCredentials ? value : undefined;
        case Verdict.Cookie:
          return keepCredentials ? value : removeCookie(value, cfg.KRATOS_COOKIE_NAME);
      }
    });
    const add = forwardedHeaders(decision.headers, route.forward);
    for (let i = 0; i < add.length; i++) out.push(add[i] as string);
    // The chain a trusted proxy sent, plus the peer that sent it to us.
    const fwdChain = fromTrustedProxy(req) ? String(req.headers["x-forwarded-for"] ?? "") : "";
    const peer = req.socket.remoteAddress ?? "";
    out.push("x-forwarded-for", fwdChain ? `${fwdChain}, ${peer}` : peer, "x-forwarded-proto", proto(req));
    if (req.headers.host) out.push("x-forwarded-host", req.headers.host);
    out.push("x-request-id", id);
    return out;
  }

  /** Sends an allowed request on and relays the answer; a failure is this request's 502/504, never the process'. */
  function proxy(
    req: IncomingMessage,
    res: ServerResponse,
    route: CompiledRoute,
    decision: Extract<Decision, { kind: "allow" }>,
    id: string,
    target: string,
  ): Promise<void> {
    const headers = upstreamHeaders(req, route, decision, id);
    return callUpstream({
      origin: originOf(route.upstream),
      agent,
      method: req.method ?? "GET",
      path: target,
      headers,
      body: hasBody(req) ? req : undefined,
      timeoutMs: route.timeoutMs,
    }).then(
      (upstream) =>
        relayResponse(upstream, res, [], (e) =>
          log.warn({ err: e.message, upstream: route.upstream }, "upstream answer broke off"),
        ),
      (e: UpstreamError) => {
        log.warn({ err: e.message, kind: e.kind, upstream: route.upstream }, "upstream error");
        if (res.headersSent || res.destroyed) {
          res.destroy();
          return;
        }
        if (e.kind === "timeout") sendError(res, 504, "upstream_timeout", "the upstream did not answer in time");
        else if (e.kind === "aborted") res.destroy();
        else sendError(res, 502, "bad_gateway", "the upstream could not be reached");
      },
    );
  }

  function respondDecision(res: ServerResponse, d: Exclude<Decision, { kind: "allow" }>): void {
    if (d.kind === "redirect") {
      res.writeHead(d.status, { location: d.location, "cache-control": "no-store" });
      res.end();
      return;
    }
    sendError(res, d.status, d.error, d.message, d.retryAfterSec);
  }

  // SIGTERM: see close().
  const drain = new HttpDrain({ graceMs: cfg.SHUTDOWN_GRACE_SECONDS * 1000, log });

  // Not async: a cached decision is answered without a promise; only the steps that
  // wait (a guard lookup, readiness, the proxy) return one.
  function handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const t0 = performance.now();
    const id = requestIdOf(req);
    const n = normalizePath(req.url ?? "/");
    if (n.ok && (n.path === "/decisions" || n.path.startsWith("/decisions/")))
      return forwardAuth(req, res, n.path, id, t0);

    req.headers["x-request-id"] = id;
    res.setHeader("x-request-id", id);
    let routeName = "-";
    res.on("finish", () => {
      answered(req, id, t0, res.statusCode, req.method ?? "GET", n.ok ? n.path : "-", routeName, false);
    });
    if (!n.ok) return sendError(res, 400, "bad_request", `refused path: ${n.reason}`);
    const { path, query } = n;

    if (path === "/health/alive" || path === "/health") return sendJson(res, 200, { status: "ok" });
    if (path === "/health/ready") {
      if (drain.draining) return sendJson(res, 503, { ok: false, status: "draining", checks: {}, missing: [] });
      return readiness().then((ready) => sendJson(res, ready.ok ? 200 : 503, ready));
    }
    if (path === "/metrics" && cfg.METRICS_PORT === undefined) return sendMetrics(res);
    if ((path.startsWith("/s") || path.startsWith("/.")) && KRATOS_PATHS.test(path)) {
      routeName = "kratos";
      stripIdentityHeaders(req);
      return kratos(req, res, path, query);
    }

    const route = matchRoute(table, req.headers.host, matchKey(path), req.method ?? "GET");
    if (!route) return sendError(res, 404, "not_found", "no route for this request");
    routeName = route.name;
    const p = proto(req);
    const request = guardRequest(
      req,
      () => `${p}://${req.headers.host ?? "localhost"}${path}${query}`,
      req.method,
      clientIp,
    );
    // decide(): a cached session is decided without a promise.
    const decided = guard.decide(request, ruleOf(route));
    const proceed = (decision: Decision): void | Promise<void> => {
      countDecision(route.name, decision);
      if (decision.kind !== "allow") return respondDecision(res, decision);
      return proxy(req, res, route, decision, id, path + query);
    };
    return decided instanceof Promise ? decided.then(proceed) : proceed(decided);
  }

  /**
   * Forward-auth for nginx auth_request (X-Original-URI / X-Original-Method),
   * Traefik ForwardAuth (X-Forwarded-Uri / -Method / -Host / -Proto) and Envoy
   * ext_authz HTTP (original path appended to /decisions). Only trusted proxies may
   * say what the original request was.
   *
   * The hot path of a proxy in front of every request: an allowed, cached decision
   * is written with one writeHead of a prebuilt header list, and the request
   * metrics are recorded as it is written (no "finish" listener).
   */
  function forwardAuth(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    id: string,
    t0: number,
  ): void | Promise<void> {
    const refuse = <C extends ErrorCode>(status: ErrorStatus<C>, error: C, message: string) => {
      res.setHeader("x-request-id", id);
      sendError(res, status, error, message);
      answered(req, id, t0, status, req.method ?? "GET", "-", "", true);
    };
    if (!fromTrustedProxy(req)) return refuse(403, "forbidden", "forward-auth answers only configured trusted proxies");
    const headers = req.headers;
    const originalUri = only(headers["x-original-uri"]);
    const forwardedUri = only(headers["x-forwarded-uri"]);
    const suffix = path.length > "/decisions".length ? path.slice("/decisions".length) : undefined;
    const nginx = originalUri !== undefined;
    const uri = originalUri ?? forwardedUri ?? suffix;
    if (!uri)
      return refuse(
        400,
        "bad_request",
        "send the original URI (X-Original-URI, X-Forwarded-Uri, or a path after /decisions)",
      );
    // Each proxy says what the original request was in its own way, and passes the
    // client's other headers on as they came: Traefik forwards a client's
    // X-Original-URI next to its own X-Forwarded-Uri, nginx a client's X-Forwarded-Uri
    // next to its X-Original-URI. Whichever we preferred, a client could name another
    // path than the one the proxy will serve; when they disagree, refuse.
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
      return refuse(400, "bad_request", "the original request is described twice, differently");
    const method = (originalMethod ?? forwardedMethod ?? (nginx ? "GET" : (req.method ?? "GET"))).toUpperCase();
    const host = only(headers["x-forwarded-host"]) ?? headers.host;
    if (!n.ok) return refuse(400, "bad_request", `refused path: ${n.reason}`);
    const route = matchRoute(table, host, matchKey(n.path), method);
    if (!route) return refuse(404, "not_found", "no route for this request");
    const p = headers["x-forwarded-proto"] === "https" ? "https" : "http";
    const request = guardRequest(req, () => `${p}://${host ?? "localhost"}${n.path}${n.query}`, method, clientIp);
    const decided = guard.decide(request, ruleOf(route));
    if (decided instanceof Promise)
      return decided.then((d) => answerForwardAuth(req, res, route, nginx, id, t0, d, method, n.path));
    answerForwardAuth(req, res, route, nginx, id, t0, decided, method, n.path);
  }

  function answerForwardAuth(
    req: IncomingMessage,
    res: ServerResponse,
    route: CompiledRoute,
    nginx: boolean,
    id: string,
    t0: number,
    decision: Decision,
    method: string,
    path: string,
  ): void {
    countForwardAuth(route.name, decision);
    if (decision.kind === "allow") {
      const fwd = forwardedHeaders(decision.headers, route.forward);
      res.writeHead(200, ["cache-control", "no-store", "x-request-id", id, ...fwd]);
      res.end();
      answered(req, id, t0, 200, method, path, route.name, true);
      return;
    }
    res.setHeader("x-request-id", id);
    if (decision.kind === "redirect" && nginx) {
      // auth_request only understands 2xx, 401 and 403: hand nginx the target to use in error_page.
      res.writeHead(401, {
        "x-auth-redirect": decision.location,
        location: decision.location,
        "cache-control": "no-store",
      });
      res.end();
    } else respondDecision(res, decision);
    answered(req, id, t0, res.statusCode, method, path, route.name, true);
  }

  /**
   * Ready when the auth-service and Kratos answer. Redis is optional: without it the
   * brute-force counters fall back to this instance's memory, the shared session
   * cache is skipped and role changes reach cached sessions after their TTL, so the
   * gateway is "degraded", not unready (an unready gateway serves nobody).
   */
  async function readiness(): Promise<{
    ok: boolean;
    status: "ok" | "degraded" | "unavailable";
    checks: Record<string, boolean>;
    missing: string[];
  }> {
    const timeout = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2_000))]);
    const [auth, kr, rd] = await Promise.all([
      timeout(fetch(`${cfg.AUTH_SERVICE_URL}/health/alive`)).then(
        (r) => r.ok,
        () => false,
      ),
      timeout(fetch(`${cfg.KRATOS_PUBLIC_URL}/health/alive`)).then(
        (r) => r.ok,
        () => false,
      ),
      deps.redis
        ? timeout(deps.redis.ping()).then(
            (r) => r === "PONG",
            () => false,
          )
        : Promise.resolve(true),
    ]);
    const checks: Record<string, boolean> = { auth_service: auth, kratos: kr, redis: rd };
    if (deps.invalidations) checks.invalidations = deps.invalidations.listening;
    const missing = Object.entries(checks)
      .filter(([, up]) => !up)
      .map(([name]) => name);
    const ok = auth && kr;
    return { ok, status: !ok ? "unavailable" : missing.length > 0 ? "degraded" : "ok", checks, missing };
  }

  // --- websockets -------------------------------------------------------------------
  const sockets = new Set<{ socket: Socket; req: GuardRequest; rule: Rule }>();
  const recheck = setInterval(() => {
    for (const s of sockets) {
      void guard.check(s.req, s.rule).then((d) => {
        // Revoked or expired: close. An outage (503) is not a logout: keep it open.
        if (d.kind === "deny" && (d.status === 401 || d.status === 403)) {
          metrics.websockets.inc({ reason: String(d.status) });
          s.socket.destroy();
        }
      });
    }
  }, cfg.WEBSOCKET_RECHECK_SECONDS * 1000);
  recheck.unref();

  async function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const id = requestIdOf(req);
    const refuse = <C extends ErrorCode>(status: ErrorStatus<C>, error: C, message: string) =>
      refuseSocket(socket, status, error, message, id);
    // An upgrade on a connection opened before the drain: the client reconnects elsewhere.
    if (drain.draining) return refuse(503, "unavailable", "this instance is shutting down; connect again");
    const n = normalizePath(req.url ?? "/");
    if (!n.ok) return refuse(400, "bad_request", `refused path: ${n.reason}`);
    if (req.method !== "GET" || String(req.headers.upgrade ?? "").toLowerCase() !== "websocket")
      return refuse(400, "bad_request", "only websocket upgrades of a GET are proxied");
    const route = matchRoute(table, req.headers.host, matchKey(n.path), "GET");
    if (!route?.websocket) return refuse(404, "not_found", "no websocket route for this request");
    const greq: GuardRequest = {
      method: "GET",
      url: `${proto(req)}://${req.headers.host ?? "localhost"}${n.path}${n.query}`,
      headers: snapshotHeaders(req),
      clientAddress: clientIp(req),
    };
    const rule = ruleOf(route);
    const d = await guard.check(greq, rule);
    if (d.kind !== "allow") {
      if (d.kind === "redirect") return refuse(401, "unauthenticated", "sign in first");
      return refuse(d.status, d.error, d.message);
    }
    if (socket.destroyed) return;
    const entry = { socket, req: greq, rule };
    sockets.add(entry);
    socket.on("close", () => sockets.delete(entry));
    forwardUpgrade(
      socket,
      head,
      {
        origin: originOf(route.upstream),
        path: n.path + n.query,
        headers: upstreamHeaders(req, route, d, id),
        timeoutMs: route.timeoutMs,
      },
      id,
      (e) => log.warn({ err: e.message, upstream: route.upstream }, "websocket upstream error"),
    );
  }

  const server = createServer(
    { requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 65_000 },
    (req, res) => {
      const fail = (e: Error) => {
        log.error({ err: e.message }, "request failed");
        sendError(res, 500, "internal", "internal error");
      };
      try {
        handle(req, res)?.catch(fail);
      } catch (e) {
        fail(e as Error);
      }
    },
  );
  drain.add(server);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrade(req, socket, head).catch((e: Error) => {
      log.error({ err: e.message }, "upgrade failed");
      socket.destroy();
    });
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const tooBig = err.code === "HPE_HEADER_OVERFLOW";
    const body = tooBig
      ? errorBody("headers_too_large", undefined, randomUUID())
      : errorBody("bad_request", "malformed HTTP request", randomUUID());
    socket.end(
      `HTTP/1.1 ${tooBig ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  function sendMetrics(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "cache-control": "no-store" });
    res.end(renderAll([metrics.requests, metrics.decisions, metrics.websockets]));
  }

  return {
    server,
    metricsHandler(req, res) {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/metrics") return sendError(res, 404, "not_found", "this port serves only GET /metrics");
      if (req.method !== "GET" && req.method !== "HEAD")
        return sendError(res, 405, "method_not_allowed", "GET /metrics only");
      sendMetrics(res);
    },
    get table() {
      return table;
    },
    reload(next) {
      table = next;
      origins.clear();
    },
    drain,
    async close() {
      // Websockets stay open (and re-checked) until the drain's deadline closes them.
      await drain.drain();
      clearInterval(recheck);
      for (const s of sockets) s.socket.destroy();
      agent.destroy();
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

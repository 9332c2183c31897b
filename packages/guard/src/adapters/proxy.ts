// The guard in front of http-proxy-middleware (v4): a request is checked first and
// only an allowed one is proxied, with the credentials the client sent replaced by
// what the upstream should trust (the Gatehouse JWT and/or identity headers). A
// denied request never reaches the upstream.
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createProxyMiddleware, type Options } from "http-proxy-middleware";
import { validateRule } from "../core/authorize.ts";
import { removeCookie } from "../core/extract.ts";
import type { Guard } from "../core/guard.ts";
import { identityHeaders, isIdentityHeader } from "../core/mutate.ts";
import { type Decision, GuardError, type Principal, type Rule } from "../core/types.ts";
import {
  absoluteUrl,
  deleteHeaders,
  guardRequest,
  sendDecision,
  setHeader,
  stripIdentityHeaders,
  whenDecided,
} from "./node.ts";

type Next = (err?: unknown) => void;

/** A bug or an invalid rule: to Express' error handler when there is one, else a bare 500. */
function failed(_req: IncomingMessage, res: ServerResponse, next: Next | undefined, error: unknown): void {
  if (next) next(error);
  else res.writeHead(500).end();
}

export interface ForwardOptions {
  /** Send `Authorization: Bearer <Gatehouse JWT>` upstream. Default true. */
  jwt?: boolean;
  /** Send X-User-Id, X-User-Email, X-User-Roles, X-Org-Id, X-User-Aal. Default true. */
  identityHeaders?: boolean;
  /** Keep the Kratos session cookie. Default false: the upstream gets the JWT instead. */
  kratosCookie?: boolean;
  /** Keep X-Session-Token. Default false. */
  sessionToken?: boolean;
  /** Keep X-API-Key. Default false. */
  apiKey?: boolean;
}

/** http-proxy-middleware options the helper leaves to you (it owns target, agent and WebSockets). */
export type ProxyOptions = Omit<Options<IncomingMessage, ServerResponse>, "target" | "agent" | "ws">;

export interface GuardedProxyOptions {
  guard: Guard;
  /** Default: any authenticated caller. */
  rule?: Rule;
  /** Upstream base URL, e.g. http://127.0.0.1:8080. */
  target: string;
  forward?: ForwardOptions;
  proxyOptions?: ProxyOptions;
  /** Keep-alive sockets per upstream. Default 64. */
  maxSockets?: number;
}

/** Express/Connect-compatible middleware; `close()` destroys the upstream keep-alive agent. */
export interface GuardedProxy {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  close(): void;
}

// Headers to add, stashed on the request between the guard and the proxyReq hook.
const FORWARD = Symbol("gatehouse.forward");
type Stashed = IncomingMessage & { [FORWARD]?: Record<string, string> };

function fail(option: string, message: string): never {
  throw new GuardError("invalid_options", `guardedProxy: ${option} ${message}`, { option });
}

export function guardedProxy(options: GuardedProxyOptions): GuardedProxy {
  const { guard } = options;
  if (guard === undefined || typeof guard.check !== "function") fail("guard", "is required (createGuard(...))");
  const rule = options.rule ?? {};
  validateRule(rule);
  let target: URL;
  try {
    target = new URL(options.target);
  } catch {
    fail("target", "must be an absolute http(s) URL");
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") fail("target", "must be an http(s) URL");
  const proxyOptions = options.proxyOptions ?? {};
  // WebSocket upgrades would bypass the guard (they never reach this middleware).
  if ((proxyOptions as { ws?: unknown }).ws) fail("proxyOptions.ws", "is not supported: upgrades are not guarded");
  const forward = {
    jwt: options.forward?.jwt ?? true,
    identity: options.forward?.identityHeaders ?? true,
    kratosCookie: options.forward?.kratosCookie ?? false,
    sessionToken: options.forward?.sessionToken ?? false,
    apiKey: options.forward?.apiKey ?? false,
  };

  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agent = target.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const userProxyReq = proxyOptions.on?.proxyReq;

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    changeOrigin: true,
    ...proxyOptions,
    target: target.href,
    agent,
    on: {
      ...proxyOptions.on,
      proxyReq(proxyReq, req, res, opts) {
        // Second line of defence: whatever ended up on the outgoing request, no
        // identity header leaves unless the guard wrote it.
        for (const name of proxyReq.getHeaderNames()) if (isIdentityHeader(name)) proxyReq.removeHeader(name);
        const add = (req as Stashed)[FORWARD] ?? {};
        for (const [name, value] of Object.entries(add)) proxyReq.setHeader(name, value);
        userProxyReq?.(proxyReq, req, res, opts);
      },
    },
  });

  function prepare(req: IncomingMessage, principal: Principal | undefined): void {
    if (!forward.kratosCookie) {
      const cookie = req.headers.cookie;
      if (cookie !== undefined) {
        const rest = removeCookie(cookie, guard.cookieName);
        if (rest === undefined) deleteHeaders(req, (n) => n === "cookie");
        else setHeader(req, "cookie", rest);
      }
    }
    if (!forward.sessionToken) deleteHeaders(req, (n) => n === "x-session-token");
    if (!forward.apiKey) deleteHeaders(req, (n) => n === "x-api-key");
    // The client's bearer credential (JWT, API key or session token) was for us; the
    // upstream gets the Gatehouse JWT instead, if configured.
    const auth = req.headers.authorization;
    if (auth !== undefined && /^\s*bearer\s/i.test(auth)) deleteHeaders(req, (n) => n === "authorization");
    const add =
      principal === undefined ? {} : identityHeaders(principal, { jwt: forward.jwt, identity: forward.identity });
    for (const [name, value] of Object.entries(add)) setHeader(req, name, value);
    (req as Stashed)[FORWARD] = add;
  }

  const handler = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    stripIdentityHeaders(req);
    const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
    const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    const request = guardRequest(req, () => absoluteUrl(encrypted ? "https" : "http", req.headers.host, path));
    whenDecided(guard, request, rule, req, res, next, forwardIfAllowed, failed);
  };
  function forwardIfAllowed(req: IncomingMessage, res: ServerResponse, next: Next | undefined, decision: Decision) {
    if (decision.kind !== "allow") {
      sendDecision(req, res, decision);
      return;
    }
    prepare(req, decision.principal);
    void proxy(req, res, next);
  }
  return Object.assign(handler, {
    close() {
      agent.destroy();
    },
  });
}

// The guard in front of http-proxy-middleware (v4): a request is checked first and
// only an allowed one is proxied, its headers rewritten by the enforcement core
// (enforce/forward.ts): the client's credentials and identity claims out, the
// Gatehouse JWT and/or identity headers in. A refused request never reaches the
// upstream.
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createProxyMiddleware, type Options } from "http-proxy-middleware";
import { compileRule } from "../core/authorize.ts";
import type { Guard } from "../core/guard.ts";
import { GuardError, type Rule } from "../core/types.ts";
import { compileForwarding, type ForwardOptions, PROXY_FORWARDING } from "../enforce/forward.ts";
import { type Access, absoluteUrl, type Exchange, enforce, nodeRequest, requestIdOf } from "../enforce/node.ts";

type Next = (err?: unknown) => void;

/** http-proxy-middleware options the helper leaves to you (it owns target, agent and WebSockets). */
export type ProxyOptions = Omit<Options<IncomingMessage, ServerResponse>, "target" | "agent" | "ws">;

export interface GuardedProxyOptions {
  guard: Guard;
  /** Default: any authenticated caller. */
  rule?: Rule;
  /** Upstream base URL, e.g. http://127.0.0.1:8080. */
  target: string;
  /**
   * What goes upstream. Default: the JWT and identity headers; not the client's Kratos
   * cookie, X-Session-Token, X-API-Key, Authorization or routing overrides.
   */
  forward?: ForwardOptions;
  proxyOptions?: ProxyOptions;
  /** Keep-alive sockets per upstream. Default 64. */
  maxSockets?: number;
}

/** Express/Connect-compatible middleware; `close()` destroys the upstream keep-alive agent. */
export interface GuardedProxy {
  (req: IncomingMessage, res: ServerResponse, next?: Next): void;
  close(): void;
}

function fail(option: string, message: string): never {
  throw new GuardError("invalid_options", `guardedProxy: ${option} ${message}`, { option });
}

interface ProxyExchange extends Exchange {
  readonly next: Next | undefined;
}

/** A bug or an invalid rule: to Express' error handler when there is one, else a bare 500. */
function failed(e: ProxyExchange, error: unknown): void {
  if (e.next) e.next(error);
  else if (!e.res.headersSent) e.res.writeHead(500).end();
  else e.res.destroy();
}

export function guardedProxy(options: GuardedProxyOptions): GuardedProxy {
  const { guard } = options;
  if (guard === undefined || typeof guard.check !== "function") fail("guard", "is required (createGuard(...))");
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
  let access: Access;
  try {
    access = {
      rule: compileRule(options.rule ?? {}),
      forward: compileForwarding(options.forward ?? {}, PROXY_FORWARDING),
    };
  } catch (error) {
    if (error instanceof GuardError) throw error;
    fail("forward", (error as Error).message);
  }

  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agent = target.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    changeOrigin: true,
    ...proxyOptions,
    target: target.href,
    agent,
  });
  const proxyOn = (e: ProxyExchange) => void proxy(e.req, e.res, e.next);

  const handler = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
    const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    const request = nodeRequest(req, () => absoluteUrl(encrypted ? "https" : "http", req.headers.host, path));
    const e: ProxyExchange = { req, res, next, requestId: requestIdOf(req) };
    try {
      enforce(guard, e, request, access, proxyOn)?.catch((error: unknown) => failed(e, error));
    } catch (error) {
      failed(e, error);
    }
  };
  return Object.assign(handler, {
    close() {
      agent.destroy();
    },
  });
}

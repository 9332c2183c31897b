// Websocket upgrades on routes that allow them: guarded at the upgrade like any
// request (the same route rule, the same header rewrite), then re-checked every
// WEBSOCKET_RECHECK_SECONDS; a connection whose session was revoked or expired is
// closed. The splice itself is splice.ts.

import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "@gatehouse/contracts";
import type { CompiledRule, Guard, GuardRequest } from "@gatehouse/guard";
import { answerOf, errorAnswer, forwardHeaders, requestIdOf } from "@gatehouse/guard/node";
import type { Logger } from "pino";
import type { ClientAddress } from "../client/address.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { forwardableRequestHeaders } from "../proxy/forward.ts";
import { matchRoute } from "../routes/match.ts";
import { matchKey, normalizePath } from "../routes/normalize.ts";
import type { RouteTable } from "../routes/schema.ts";
import { answerSocket, forwardUpgrade } from "./splice.ts";

export interface Websockets {
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void>;
  /** Closes every open websocket and stops the re-checks. */
  close(): void;
}

// The re-checks read the headers as they were at the upgrade, and ask for JSON answers,
// not redirects.
function snapshotHeaders(req: IncomingMessage): GuardRequest["headers"] {
  const h: IncomingMessage["headers"] = { ...req.headers, accept: "application/json" };
  return {
    get(name: string) {
      const v = h[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
    },
  };
}

export function websockets(deps: {
  guard: Guard;
  client: ClientAddress;
  log: Logger;
  metrics: GatewayMetrics;
  table: () => RouteTable;
  recheckSeconds: number;
  /** True once the gateway drains: an upgrade asked for on an old connection is refused. */
  draining: () => boolean;
}): Websockets {
  const { guard, client, log } = deps;
  const sockets = new Set<{ socket: Socket; req: GuardRequest; rule: CompiledRule }>();
  const recheck = setInterval(() => {
    for (const s of sockets) {
      void guard.check(s.req, s.rule).then((d) => {
        // Revoked or expired: close. An outage (503) is not a logout: keep it open.
        if (d.kind === "deny" && (d.status === 401 || d.status === 403)) {
          deps.metrics.websocketClosed(d.status);
          s.socket.destroy();
        }
      });
    }
  }, deps.recheckSeconds * 1000);
  recheck.unref();

  async function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const id = requestIdOf(req);
    const refuse = (status: number, error: ErrorCode, message: string) =>
      answerSocket(socket, errorAnswer(status, error, message, id));
    // An upgrade on a connection opened before the drain: the client reconnects elsewhere.
    if (deps.draining()) return refuse(503, "unavailable", "this instance is shutting down; connect again");
    const n = normalizePath(req.url ?? "/");
    if (!n.ok) return refuse(400, "bad_request", `refused path: ${n.reason}`);
    if (req.method !== "GET" || String(req.headers.upgrade ?? "").toLowerCase() !== "websocket")
      return refuse(400, "bad_request", "only websocket upgrades of a GET are proxied");
    const route = matchRoute(deps.table(), req.headers.host, matchKey(n.path), "GET");
    if (!route?.websocket) return refuse(404, "not_found", "no websocket route for this request");
    const greq: GuardRequest = {
      method: "GET",
      url: `${client.proto(req)}://${req.headers.host ?? "localhost"}${n.path}${n.query}`,
      headers: snapshotHeaders(req),
      clientAddress: client.clientIp(req),
    };
    const rule = route.access.rule;
    const d = await guard.check(greq, rule);
    if (d.kind === "redirect") return refuse(401, "unauthenticated", "sign in first");
    if (d.kind === "deny") return answerSocket(socket, answerOf(d, id));
    if (socket.destroyed) return;
    const entry = { socket, req: greq, rule };
    sockets.add(entry);
    socket.on("close", () => sockets.delete(entry));
    // The same rewrite as a proxied request's (enforce/forward.ts).
    const rewritten = forwardHeaders(req.rawHeaders, route.access.forward, d, guard.cookieName, {
      requestId: id,
      stated: client.forwardedHeaders(req),
    });
    const headers = forwardableRequestHeaders(req, undefined, rewritten);
    forwardUpgrade(
      socket,
      head,
      { origin: route.origin, path: n.path + n.query, headers, timeoutMs: route.timeoutMs },
      id,
      (e) => log.warn({ err: e.message, upstream: route.upstream }, "websocket upstream error"),
    );
  }

  return {
    upgrade,
    close() {
      clearInterval(recheck);
      for (const s of sockets) s.socket.destroy();
    },
  };
}

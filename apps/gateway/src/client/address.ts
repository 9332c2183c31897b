// Who the client is: its address and scheme, taken from X-Forwarded-* only when the
// peer is a trusted proxy (TRUSTED_PROXIES), and what the gateway says about it to
// the next hop in turn.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { trustChecker } from "./trust.ts";

export interface ClientAddress {
  /** Whether the connection's peer is a trusted proxy. */
  fromTrustedProxy(req: IncomingMessage): boolean;
  /** The end client: the first address from the nearest hop outwards that is not a trusted proxy. */
  clientIp(req: IncomingMessage): string;
  /** "https" or "http", as a trusted proxy said it (else http). */
  proto(req: IncomingMessage): "http" | "https";
  /**
   * X-Forwarded-For / -Proto / -Host for the next hop, as a flat list: the chain a
   * trusted proxy sent plus the peer that sent it to us.
   */
  forwardedHeaders(req: IncomingMessage): string[];
}

export function clientAddress(trustedProxies: readonly string[]): ClientAddress {
  const trusted = trustChecker(trustedProxies);
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
    for (let i = xff.length - 1; i >= 0; i--) if (!trusted(xff[i])) return xff[i] as string;
    return xff[0] ?? peer;
  }

  function proto(req: IncomingMessage): "http" | "https" {
    if (!fromTrustedProxy(req)) return "http";
    const p = String(req.headers["x-forwarded-proto"] ?? "")
      .split(",")[0]
      ?.trim();
    return p === "https" ? "https" : "http";
  }

  function forwardedHeaders(req: IncomingMessage): string[] {
    const chain = fromTrustedProxy(req) ? String(req.headers["x-forwarded-for"] ?? "") : "";
    const peer = req.socket.remoteAddress ?? "";
    const out = ["x-forwarded-for", chain ? `${chain}, ${peer}` : peer, "x-forwarded-proto", proto(req)];
    if (req.headers.host) out.push("x-forwarded-host", req.headers.host);
    return out;
  }

  return { fromTrustedProxy, clientIp, proto, forwardedHeaders };
}

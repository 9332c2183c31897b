// A per-caller fixed-window limit for the credential-checking endpoints, so a
// single client cannot turn the auth-service into a session oracle or exhaust
// Kratos. "Caller" means what identifies one: its credential, and the end client's
// address — the socket's peer, or what a trusted proxy (a guard, the gateway) says in
// X-Forwarded-For; never the guard's own address, which every user behind it shares.
// Per instance (in memory): the limit a deployment sees is this times the replica
// count, which is documented.

import type { IncomingMessage } from "node:http";
import { LruCache } from "@gatehouse/tokens";
import proxyAddr from "proxy-addr";
import { ApiError } from "./errors.ts";

export class RateLimiter {
  readonly #windows = new LruCache<string, { start: number; count: number }>(50_000);
  readonly #windowMs: number;
  readonly #max: number;
  readonly #name: string;

  constructor(opts: { windowMs: number; max: number; name: string }) {
    this.#windowMs = opts.windowMs;
    this.#max = opts.max;
    this.#name = opts.name;
  }

  /** Counts one request from `client`; throws ApiError 429 (with Retry-After) past the limit. */
  take(client: string): void {
    const now = Date.now();
    let w = this.#windows.get(client);
    if (!w || now - w.start >= this.#windowMs) {
      w = { start: now, count: 0 };
      this.#windows.set(client, w);
    }
    w.count++;
    if (w.count > this.#max) {
      const retry = Math.ceil((w.start + this.#windowMs - now) / 1000);
      throw new ApiError("rate_limited", `too many ${this.#name} requests; retry later`, {
        retryAfterSec: Math.max(1, retry),
      });
    }
  }
}

/**
 * Counts one request against each key that identifies its caller: the credential's
 * digest (when it sends one) and the end client's address (when known: undefined
 * means a trusted proxy that did not say for whom it asks).
 */
export function takeForCaller(
  limiter: RateLimiter,
  caller: { credentialDigest: string | undefined; clientAddress: string | undefined },
): void {
  if (caller.credentialDigest !== undefined) limiter.take(`c:${caller.credentialDigest}`);
  if (caller.clientAddress !== undefined) limiter.take(`a:${caller.clientAddress}`);
}

/**
 * The end client's address: the peer, or for a peer that `trusted` trusts, the first
 * untrusted address of X-Forwarded-For (proxy-addr); undefined when a trusted peer
 * names no client, so its own address never becomes everybody's bucket.
 */
export function endClient(req: IncomingMessage, trusted: (addr: string, hop: number) => boolean): string | undefined {
  const peer = req.socket.remoteAddress ?? "";
  if (req.headers["x-forwarded-for"] === undefined) return trusted(peer, 0) ? undefined : peer;
  return proxyAddr(req, trusted);
}

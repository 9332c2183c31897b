// A per-client fixed-window limit for the credential-checking endpoints, so a
// single client cannot turn the auth-service into a password/session oracle or
// exhaust Kratos. Per instance (in memory): the limit a deployment sees is this
// times the replica count, which is documented.
import { LruCache } from "@gatehouse/tokens";
import type { RequestHandler } from "express";
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
      throw new ApiError(429, "rate_limited", `too many ${this.#name} requests; retry later`, {
        retryAfterSec: Math.max(1, retry),
      });
    }
  }
}

/** Express middleware counting against `limiter` by the client address Express derives (trust proxy). */
export function rateLimit(limiter: RateLimiter): RequestHandler {
  return (req, _res, next) => {
    try {
      limiter.take(req.ip ?? "unknown");
    } catch (e) {
      next(e);
      return;
    }
    next();
  };
}

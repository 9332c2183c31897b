// A per-client fixed-window limit for the credential-checking endpoints, so a
// single client cannot turn the auth-service into a password/session oracle or
// exhaust Kratos. Per instance (in memory): the limit a deployment sees is this
// times the replica count, which is documented.
import { LruCache } from "@gatehouse/tokens";
import type { RequestHandler } from "express";
import { ApiError } from "./errors.ts";

export function rateLimit(opts: { windowMs: number; max: number; name: string }): RequestHandler {
  const windows = new LruCache<string, { start: number; count: number }>(50_000);
  return (req, _res, next) => {
    const key = req.ip ?? "unknown";
    const now = Date.now();
    let w = windows.get(key);
    if (!w || now - w.start >= opts.windowMs) {
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    w.count++;
    if (w.count > opts.max) {
      const retry = Math.ceil((w.start + opts.windowMs - now) / 1000);
      next(
        new ApiError(429, "rate_limited", `too many ${opts.name} requests; retry later`, {
          retryAfterSec: Math.max(1, retry),
        }),
      );
      return;
    }
    next();
  };
}

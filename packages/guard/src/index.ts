// @gatehouse/guard for Node servers: the core, with what only Node has passed in: the
// auth-service reached over a keep-alive undici Pool, and node:crypto's SHA-256 for the
// session cache's keys. Next.js middleware imports "@gatehouse/guard/next" instead,
// which never loads this file.
import { hash } from "node:crypto";
import { createGuard as createCoreGuard, type Guard } from "./core/guard.ts";
import type { GuardOptions } from "./core/options.ts";
import { undiciTransport } from "./transport/undici.ts";

export * from "./core/index.ts";
export { type SubscribeOptions, subscribeInvalidations } from "./invalidation-redis.ts";

// ~0.5 µs where Web Crypto's digest costs ~35–40 µs and a promise (bench/gateway.ts).
const sha256 = (input: string): string => hash("sha256", input, "binary");

/** createGuard on Node: an undici Pool transport unless `options.transport` is given, and node:crypto's SHA-256. */
export function createGuard(options: GuardOptions): Guard {
  const withHash = { sha256, ...options };
  if (options.transport !== undefined) return createCoreGuard(withHash);
  const transport = undiciTransport();
  let guard: Guard;
  try {
    guard = createCoreGuard({ ...withHash, transport });
  } catch (error) {
    void transport.close();
    throw error;
  }
  return {
    cookieName: guard.cookieName,
    check: guard.check,
    decide: guard.decide,
    async close() {
      await guard.close();
      await transport.close();
    },
  };
}

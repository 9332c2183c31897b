// @gatehouse/guard for Node servers: the core, with the auth-service reached over a
// keep-alive undici Pool by default. Next.js middleware imports "@gatehouse/guard/next"
// instead, which never loads this file (undici is Node-only).
import { createGuard as createCoreGuard, type Guard } from "./core/guard.ts";
import type { GuardOptions } from "./core/options.ts";
import { undiciTransport } from "./transport/undici.ts";

export * from "./core/index.ts";
export {
  type RedisReader,
  type RedisSubscriber,
  type SubscribeOptions,
  subscribeInvalidations,
} from "./invalidation-redis.ts";
export { type UndiciTransportOptions, undiciTransport } from "./transport/undici.ts";

/** createGuard with an undici Pool transport unless `options.transport` is given. */
export function createGuard(options: GuardOptions): Guard {
  if (options.transport !== undefined) return createCoreGuard(options);
  const transport = undiciTransport();
  let guard: Guard;
  try {
    guard = createCoreGuard({ ...options, transport });
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

// Optional revocation check for the JWT path. A token stays valid until it expires
// (minutes); a guard that must honour a revocation sooner asks this list, which the
// auth-service fills on POST /admin/sessions/revoke (Redis keys "gh:rv:<sid>").
import { settleWithin } from "@gatehouse/tokens";
import type { RedisLike } from "./authenticate/cache.ts";

export interface RevocationCheck {
  /** True when the session was revoked. Rejecting makes the guard answer 503 (fail closed). */
  isRevoked(sessionId: string): Promise<boolean>;
}

/** The auth-service's revocation list in Redis. Any ioredis-compatible client works. */
export function redisRevocationList(
  redis: RedisLike,
  options: { prefix?: string; timeoutMs?: number } = {},
): RevocationCheck {
  const prefix = options.prefix ?? "gh:rv:";
  const timeoutMs = options.timeoutMs ?? 250;
  return {
    async isRevoked(sessionId) {
      if (redis.exists === undefined) throw new Error("the Redis client has no exists()");
      const exists = redis.exists.bind(redis);
      const n = await settleWithin(exists(prefix + sessionId), timeoutMs, () => new Error("Redis EXISTS timed out"));
      return n > 0;
    },
  };
}

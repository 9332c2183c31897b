// Optional strict revocation check for the JWT path: asks Redis ("gh:rv:<sid>", filled
// by the auth-service on every logout and revocation) on every request. The pushed
// InvalidationLog (options.invalidations) already refuses revoked tokens in memory;
// this check is for a guard that must not rely on pub/sub delivery at all.
import { REVOKED_KEY_PREFIX } from "@gatehouse/contracts";
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
  const prefix = options.prefix ?? REVOKED_KEY_PREFIX;
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

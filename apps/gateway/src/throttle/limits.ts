// The brute-force limits of the Kratos passthrough, built from the configuration:
// counters in Redis (shared by every instance) while it answers, in this instance's
// memory while it does not, never "no limit".
import type { RedisClient } from "@gatehouse/redis";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config.ts";
import { BruteForce } from "./brute-force.ts";
import { FallbackCounters, RedisCounters } from "./counters.ts";
import { FailureFloor } from "./failure-floor.ts";

export interface SubmissionLimits {
  /** Failed logins per account and per address. */
  login: BruteForce;
  /** Registration, recovery and verification submissions. */
  attempts: BruteForce;
  /** How soon a failed login may be answered. */
  floor: FailureFloor;
}

export function submissionLimits(cfg: GatewayConfig, redis: RedisClient | undefined, log: Logger): SubmissionLimits {
  const counters = new FallbackCounters({
    redis: redis ? new RedisCounters(redis) : undefined,
    onChange: (degraded, e) =>
      degraded
        ? log.warn({ err: e?.message }, "brute-force counters: Redis unavailable, counting in this instance's memory")
        : log.info("brute-force counters: back on Redis"),
  });
  return {
    login: new BruteForce(counters, {
      ...(cfg.AUTH_ADMIN_URL && cfg.LOCKOUT_REPORT_TOKEN
        ? {
            onAccountLocked: reportLock(
              cfg.AUTH_ADMIN_URL,
              cfg.LOCKOUT_REPORT_TOKEN,
              cfg.BRUTE_FORCE_LOCKOUT_SECONDS,
              log,
            ),
          }
        : {}),
      maxFailures: cfg.BRUTE_FORCE_MAX_FAILURES,
      lockoutSec: cfg.BRUTE_FORCE_LOCKOUT_SECONDS,
      maxIpFailures: cfg.BRUTE_FORCE_MAX_IP_FAILURES,
      delaysMs: cfg.BRUTE_FORCE_DELAYS_MS,
    }),
    attempts: new BruteForce(counters, {
      maxFailures: cfg.BRUTE_FORCE_MAX_ATTEMPTS,
      lockoutSec: cfg.BRUTE_FORCE_LOCKOUT_SECONDS,
      maxIpFailures: cfg.BRUTE_FORCE_MAX_IP_FAILURES * 2,
      delaysMs: [0],
    }),
    floor: new FailureFloor({ minMs: cfg.LOGIN_FAILURE_FLOOR_MS }),
  };
}

/**
 * Reports an account lock to the auth-service, which emits user.account_locked when
 * the identifier belongs to an account (the gateway cannot tell, and its answer to the
 * client never depends on this). Fire and forget: a failed report is logged (never the
 * identifier) and the lock holds regardless.
 */
function reportLock(adminUrl: string, token: string, lockoutSec: number, log: Logger) {
  const url = new URL("/admin/lockouts", adminUrl).href;
  return (scope: string, identifier: string) => {
    fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ scope, identifier, retry_after_seconds: lockoutSec }),
      signal: AbortSignal.timeout(3_000),
    })
      .then(async (r) => {
        await r.arrayBuffer();
        if (!r.ok) log.warn({ status: r.status }, "account lock not reported: the auth-service refused");
      })
      .catch((e: Error) => log.warn({ err: e.message }, "account lock not reported"));
  };
}

// GET /health/alive and /health/ready. Ready when the auth-service and Kratos answer.
// Redis is optional: without it the brute-force counters fall back to this
// instance's memory, the shared session cache is skipped and role changes reach
// cached sessions after their TTL, so the gateway is "degraded", not unready (an
// unready gateway serves nobody).
import type { ServerResponse } from "node:http";
import type { RedisClient } from "@gatehouse/redis";
import type { GatewayConfig } from "./config.ts";

export interface Readiness {
  ok: boolean;
  status: "ok" | "degraded" | "unavailable" | "draining";
  checks: Record<string, boolean>;
  missing: string[];
}

const within = <T>(p: Promise<T>, ms = 2_000) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), ms))]);

const answers = (url: string) =>
  within(fetch(url)).then(
    (r) => r.ok,
    () => false,
  );

export async function readiness(
  cfg: Pick<GatewayConfig, "AUTH_SERVICE_URL" | "KRATOS_PUBLIC_URL">,
  redis: RedisClient | undefined,
  invalidations: { readonly listening: boolean } | undefined,
): Promise<Readiness> {
  const [auth, kratos, rd] = await Promise.all([
    answers(`${cfg.AUTH_SERVICE_URL}/health/alive`),
    answers(`${cfg.KRATOS_PUBLIC_URL}/health/alive`),
    redis
      ? within(redis.ping()).then(
          (r) => r === "PONG",
          () => false,
        )
      : Promise.resolve(true),
  ]);
  const checks: Record<string, boolean> = { auth_service: auth, kratos, redis: rd };
  if (invalidations) checks.invalidations = invalidations.listening;
  const missing = Object.entries(checks)
    .filter(([, up]) => !up)
    .map(([name]) => name);
  const ok = auth && kratos;
  return { ok, status: !ok ? "unavailable" : missing.length > 0 ? "degraded" : "ok", checks, missing };
}

export const DRAINING: Readiness = { ok: false, status: "draining", checks: {}, missing: [] };

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

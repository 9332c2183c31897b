// The gateway's configuration: parsed once at start-up; a bad variable stops it
// with a message naming the variable.
import { type TracingConfig, tracingConfig, tracingEnv } from "@gatehouse/observability/tracing-config";
// The ioredis-free part: config.ts is loaded before tracing starts, ioredis only after (main.ts).
import { type RedisTarget, readRedisConfig } from "@gatehouse/redis/config";
import { z } from "zod";
import { parseCidr } from "./client/trust.ts";
import { FORWARD_AUTH_PROXIES } from "./forward-auth/original-request.ts";

const url = z.string().url();
const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const cidr = z
  .string()
  .refine((c) => parseCidr(c) !== undefined, "must be an IPv4/IPv6 address or CIDR, e.g. 10.0.0.0/8");

const schema = z
  .object({
    GATEWAY_HOST: z.string().min(1).default("127.0.0.1"),
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(7400),
    // Prometheus metrics on their own port (same host), so the public port never shows
    // them; unset, GET /metrics is answered on the public port.
    METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
    ROUTES_FILE: z.string().min(1),
    AUTH_SERVICE_URL: url,
    // Where account locks are reported (auth-service admin listener, POST /admin/lockouts),
    // with the auth-service's LOCKOUT_REPORT_TOKEN, which that endpoint alone accepts (never
    // the operator's ADMIN_API_TOKEN); both or neither. Without them locks emit no event.
    AUTH_ADMIN_URL: url.optional(),
    LOCKOUT_REPORT_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
    KRATOS_PUBLIC_URL: url,
    // Redis (REDIS_URL, or Sentinel, or Cluster; optional) is read by @gatehouse/redis: see loadConfig.
    TOKEN_AUDIENCE: list.pipe(z.array(z.string().min(1)).min(1)).default(["gatehouse"]),
    TOKEN_ISSUER: url.optional(),
    KRATOS_COOKIE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default("ory_kratos_session"),
    LOGIN_URL: url.optional(),
    ALLOWED_RETURN_HOSTS: list.default([]),
    TRUSTED_PROXIES: list.pipe(z.array(cidr)).default([]),
    // The proxy that calls /decisions: which one set of headers describes the original
    // request (forward-auth/original-request.ts). Unset, /decisions answers 404.
    FORWARD_AUTH_PROXY: z.enum(FORWARD_AUTH_PROXIES).optional(),
    SESSION_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3_600).default(60),
    BRUTE_FORCE_MAX_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
    BRUTE_FORCE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10_000).default(10),
    BRUTE_FORCE_MAX_IP_FAILURES: z.coerce.number().int().min(1).max(100_000).default(50),
    BRUTE_FORCE_LOCKOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    // Failure n of an account waits the n-th of these (the last one after that) before it
    // reaches Kratos; BRUTE_FORCE_MAX_FAILURES locks it. Seed: 1 s, 5 s, 30 s, then 15 min.
    BRUTE_FORCE_DELAYS_MS: list
      .pipe(
        z
          .array(z.string().regex(/^[0-9]{1,5}$/, "milliseconds, comma-separated: 1000,5000,30000"))
          .min(1)
          .max(20),
      )
      .transform((ms) => ms.map(Number))
      .default([1_000, 5_000, 30_000]),
    // A failed login is answered no sooner than this after it reached Kratos (and later
    // when Kratos' recent refusals were slower), so its timing does not tell whether
    // the account exists. 0 turns it off.
    LOGIN_FAILURE_FLOOR_MS: z.coerce.number().int().min(0).max(10_000).default(750),
    // Base URL of the self-service UI pages (<base>login, <base>registration…): a browser
    // form that is throttled is sent back to its page with ?retry_after=. Default: the
    // directory of LOGIN_URL.
    SELF_SERVICE_UI_URL: url.optional(),
    WEBSOCKET_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // One line per request (method, path, route, status, duration, client, request id;
    // never headers, cookies or query strings), at info level. Off by default, as in
    // Traefik and Envoy: the ingress in front usually logs requests already, and a line
    // costs ~5 µs of CPU per request (bench/README.md).
    ACCESS_LOG: bool.default(false),
    // A write per log line instead of buffered 4 KB chunks (see @gatehouse/observability/logger).
    LOG_SYNC: bool.default(false),
    // On SIGTERM: readiness 503, stop accepting, finish what is in flight, move keep-alive
    // clients off with Connection: close; exit within this many seconds, closing what is
    // left (websockets included) just before. Below Kubernetes' default
    // terminationGracePeriodSeconds (30) with the chart's preStop sleep (deploy/README.md).
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(20),
  })
  .extend(tracingEnv.shape);

export type GatewayConfig = z.infer<typeof schema> & {
  /** Unset: no Redis (per-instance caches and counters, no invalidation channel). */
  redis: RedisTarget | undefined;
  /** OpenTelemetry tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set (@gatehouse/observability/tracing-config). */
  tracing?: TracingConfig;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const r = schema.safeParse(env);
  const redis = readRedisConfig(env, { required: false });
  if (!r.success || !("target" in redis)) {
    const lines = [
      ...(r.error?.issues ?? []).map((i) => `  ${String(i.path[0])}: ${i.message}`),
      ...redis.issues.map((i) => `  ${i.variable}: ${i.message}`),
    ];
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  if (r.data.METRICS_PORT !== undefined && r.data.METRICS_PORT !== 0 && r.data.METRICS_PORT === r.data.GATEWAY_PORT) {
    throw new ConfigError("invalid configuration:\n  METRICS_PORT: must differ from GATEWAY_PORT");
  }
  if ((r.data.AUTH_ADMIN_URL === undefined) !== (r.data.LOCKOUT_REPORT_TOKEN === undefined)) {
    throw new ConfigError(
      "invalid configuration:\n  AUTH_ADMIN_URL: set it and LOCKOUT_REPORT_TOKEN together, or neither",
    );
  }
  if (r.data.FORWARD_AUTH_PROXY && r.data.TRUSTED_PROXIES.length === 0) {
    throw new ConfigError(
      "invalid configuration:\n  TRUSTED_PROXIES: required with FORWARD_AUTH_PROXY (the addresses of the proxy that calls /decisions)",
    );
  }
  if (r.data.LOGIN_URL && r.data.ALLOWED_RETURN_HOSTS.length === 0) {
    throw new ConfigError(
      "invalid configuration:\n  ALLOWED_RETURN_HOSTS: required with LOGIN_URL (the hosts return_to may point at)",
    );
  }
  const tracing = tracingConfig(r.data, "gateway");
  return { ...r.data, redis: redis.target, ...(tracing ? { tracing } : {}) };
}

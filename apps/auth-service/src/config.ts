// The auth-service's configuration: parsed and validated once, at start-up, into
// one typed object. A missing or bad variable stops the process with a message
// that names it; nothing downstream re-reads process.env.
import { type TracingConfig, tracingConfig, tracingEnv } from "@gatehouse/observability/tracing-config";
// The ioredis-free part: config.ts is loaded before tracing starts, ioredis only after (main.ts).
import { type RedisTarget, readRedisConfig } from "@gatehouse/redis/config";
import { parseKek, parseKekList, type SigningAlg } from "@gatehouse/tokens";
import { z } from "zod";

export type Role = "owner" | "admin" | "member";

/** Role → permissions. Roles inherit nothing implicitly: the map is the whole truth. */
export const DEFAULT_PERMISSIONS: Record<Role, string[]> = {
  owner: [
    "org:read",
    "org:write",
    "org:delete",
    "members:read",
    "members:write",
    "teams:read",
    "teams:write",
    "api_keys:write",
    "billing:write",
  ],
  admin: ["org:read", "org:write", "members:read", "members:write", "teams:read", "teams:write", "api_keys:write"],
  member: ["org:read", "members:read", "teams:read"],
};

// 0 = any free port (tests).
const port = z.coerce.number().int().min(0).max(65_535);
const url = z.string().url();
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
);

const origin = z.string().refine((o) => {
  try {
    const u = new URL(o);
    return (u.protocol === "http:" || u.protocol === "https:") && u.origin === o;
  } catch {
    return false;
  }
}, "must be an origin like https://app.example.com (scheme, host and port only; no '*', no 'null', no path)");

const schema = z
  .object({
    AUTH_HOST: z.string().min(1).default("127.0.0.1"),
    AUTH_PUBLIC_PORT: port.default(7410),
    AUTH_ADMIN_PORT: port.default(7411),
    DATABASE_URL: url.refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgres:// URL"),
    // Redis (REDIS_URL, or Sentinel, or Cluster) is read by @gatehouse/redis: readRedisConfig below.
    KRATOS_PUBLIC_URL: url,
    KRATOS_ADMIN_URL: url,
    KRATOS_COOKIE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default("ory_kratos_session"),
    TOKEN_ISSUER: url,
    TOKEN_AUDIENCE: list.pipe(z.array(z.string().min(1)).min(1)).default(["gatehouse"]),
    TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3_600).default(300),
    TOKEN_ALG: z.enum(["RS256", "ES256", "EdDSA"]).default("RS256"),
    // At most the 30 s leeway: a key read this recently is sure to stay published for a whole token lifetime.
    SIGNING_KEYS_RELOAD_SECONDS: z.coerce.number().int().min(1).max(30).default(30),
    SIGNING_KEY_KEK: z.string().min(1),
    SIGNING_KEY_KEK_PREVIOUS: z.string().default(""),
    WEBHOOK_SECRET: z.string().min(32, "must be at least 32 characters"),
    ADMIN_API_TOKEN: z.string().min(32, "must be at least 32 characters"),
    // The gateway's credential: accepted by POST /admin/lockouts only, so the gateway
    // never holds the operator's token. Unset: only the operator's token reports locks.
    LOCKOUT_REPORT_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
    CORS_ALLOWED_ORIGINS: list.pipe(z.array(origin)).default([]),
    PERMISSIONS_JSON: z.string().optional(),
    SESSION_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3_600).default(60),
    SESSION_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
    MIGRATE_ON_START: bool.default(false),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    LOG_SYNC: bool.default(false),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1_024).max(10_485_760).default(65_536),
    TRUST_PROXY: z.string().default("loopback"),
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
    // On SIGTERM: readiness 503, stop accepting, finish what is in flight, move keep-alive
    // clients off with Connection: close; exit within this many seconds. Below Kubernetes'
    // default terminationGracePeriodSeconds (30) with the chart's preStop sleep (deploy/README.md).
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(20),
    // Outgoing webhooks (events/delivery.ts): attempt n waits min(BASE * 2^(n-1), MAX),
    // jittered to 50-100%, and a delivery still failing RETRY_FOR after its event is
    // dead-lettered. Defaults: 10 s doubling to an hour, for 26 hours (over a day).
    EVENT_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(10_000),
    EVENT_WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(3_600_000),
    EVENT_WEBHOOK_RETRY_FOR_MS: z.coerce
      .number()
      .int()
      .min(1)
      .max(30 * 86_400_000)
      .default(26 * 3_600_000),
    EVENT_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    EVENT_WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    // The Redis Stream of events (@gatehouse/contracts' EVENT_STREAM): about this many
    // entries are kept (XADD MAXLEN ~); 0 turns the stream off.
    EVENT_STREAM_MAXLEN: z.coerce.number().int().min(0).max(100_000_000).default(100_000),
    // true: organization owners may subscribe loopback/private addresses (tests, one-host setups).
    EVENT_WEBHOOK_ALLOW_INTERNAL_URLS: bool.default(false),
  })
  .extend(tracingEnv.shape);

export interface AuthConfig {
  host: string;
  publicPort: number;
  adminPort: number;
  databaseUrl: string;
  /** One server, a Sentinel-watched primary or a Cluster (@gatehouse/redis). */
  redis: RedisTarget;
  kratos: { publicUrl: string; adminUrl: string; cookieName: string };
  token: { issuer: string; audience: string[]; ttlSec: number; alg: SigningAlg };
  /** How often each instance rereads the signing keys (other instances may have rotated). */
  keysReloadSec: number;
  kek: Uint8Array;
  /** Older KEKs, only for decrypting keys not yet re-encrypted under `kek` (KEK rotation). */
  previousKeks: Uint8Array[];
  webhookSecret: string;
  adminApiToken: string;
  /** Accepted by POST /admin/lockouts only (the gateway's credential); undefined: the operator's token only. */
  lockoutReportToken: string | undefined;
  corsOrigins: string[];
  permissions: Record<Role, string[]>;
  sessionCache: { ttlSec: number; size: number };
  migrateOnStart: boolean;
  logLevel: string;
  /** Write every log line as it is logged instead of in chunks (see createLogger). */
  logSync: boolean;
  bodyLimitBytes: number;
  trustProxy: string;
  rateLimitPerMinute: number;
  /** SIGTERM to exit, at most (see @gatehouse/observability/shutdown). */
  shutdownGraceMs: number;
  /** Outgoing webhooks' retry schedule and timeouts, ms (events/delivery.ts). */
  webhookDelivery: {
    baseMs: number;
    maxMs: number;
    retryForMs: number;
    timeoutMs: number;
    pollMs: number;
    /** XADD MAXLEN ~ of the event stream; 0: no stream. */
    streamMaxLen: number;
    /** Organization owners may subscribe loopback/private addresses. */
    allowInternalUrls: boolean;
  };
  /** OpenTelemetry tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set (@gatehouse/observability/tracing-config). */
  tracing?: TracingConfig;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function parsePermissions(raw: string | undefined): Record<Role, string[]> {
  if (raw === undefined || raw === "") return DEFAULT_PERMISSIONS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError("PERMISSIONS_JSON: not valid JSON");
  }
  const r = z
    .object({
      owner: z.array(z.string().regex(/^[a-z_]+:[a-z_*]+$/)),
      admin: z.array(z.string().regex(/^[a-z_]+:[a-z_*]+$/)),
      member: z.array(z.string().regex(/^[a-z_]+:[a-z_*]+$/)),
    })
    .strict()
    .safeParse(parsed);
  if (!r.success) {
    throw new ConfigError(
      `PERMISSIONS_JSON: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`,
    );
  }
  return r.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  const r = schema.safeParse(env);
  const redis = readRedisConfig(env, { required: true });
  if (!r.success || !("target" in redis)) {
    const lines = [
      ...(r.error?.issues ?? []).map((i) => `  ${String(i.path[0])}: ${i.message}`),
      ...redis.issues.map((i) => `  ${i.variable}: ${i.message}`),
    ];
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const c = r.data;
  if (!redis.target) throw new ConfigError("invalid configuration:\n  REDIS_URL: required");
  let kek: Uint8Array;
  try {
    kek = parseKek(c.SIGNING_KEY_KEK);
  } catch (e) {
    throw new ConfigError(`invalid configuration:\n  SIGNING_KEY_KEK: ${(e as Error).message}`);
  }
  let previousKeks: Uint8Array[];
  try {
    previousKeks = parseKekList(c.SIGNING_KEY_KEK_PREVIOUS);
  } catch (e) {
    throw new ConfigError(`invalid configuration:\n  SIGNING_KEY_KEK_PREVIOUS: ${(e as Error).message}`);
  }
  if (c.LOCKOUT_REPORT_TOKEN !== undefined && c.LOCKOUT_REPORT_TOKEN === c.ADMIN_API_TOKEN) {
    throw new ConfigError("invalid configuration:\n  LOCKOUT_REPORT_TOKEN: must differ from ADMIN_API_TOKEN");
  }
  if (c.AUTH_PUBLIC_PORT === c.AUTH_ADMIN_PORT && c.AUTH_PUBLIC_PORT !== 0) {
    throw new ConfigError("invalid configuration:\n  AUTH_ADMIN_PORT: must differ from AUTH_PUBLIC_PORT");
  }
  const tracing = tracingConfig(c, "auth-service");
  return {
    host: c.AUTH_HOST,
    publicPort: c.AUTH_PUBLIC_PORT,
    adminPort: c.AUTH_ADMIN_PORT,
    databaseUrl: c.DATABASE_URL,
    redis: redis.target,
    kratos: { publicUrl: c.KRATOS_PUBLIC_URL, adminUrl: c.KRATOS_ADMIN_URL, cookieName: c.KRATOS_COOKIE_NAME },
    token: { issuer: c.TOKEN_ISSUER, audience: c.TOKEN_AUDIENCE, ttlSec: c.TOKEN_TTL_SECONDS, alg: c.TOKEN_ALG },
    keysReloadSec: c.SIGNING_KEYS_RELOAD_SECONDS,
    kek,
    previousKeks,
    webhookSecret: c.WEBHOOK_SECRET,
    adminApiToken: c.ADMIN_API_TOKEN,
    lockoutReportToken: c.LOCKOUT_REPORT_TOKEN,
    corsOrigins: c.CORS_ALLOWED_ORIGINS,
    permissions: parsePermissions(c.PERMISSIONS_JSON),
    sessionCache: { ttlSec: c.SESSION_CACHE_TTL_SECONDS, size: c.SESSION_CACHE_SIZE },
    migrateOnStart: c.MIGRATE_ON_START,
    logLevel: c.LOG_LEVEL,
    logSync: c.LOG_SYNC,
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    trustProxy: c.TRUST_PROXY,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    shutdownGraceMs: c.SHUTDOWN_GRACE_SECONDS * 1000,
    webhookDelivery: {
      baseMs: c.EVENT_WEBHOOK_RETRY_BASE_MS,
      maxMs: c.EVENT_WEBHOOK_RETRY_MAX_MS,
      retryForMs: c.EVENT_WEBHOOK_RETRY_FOR_MS,
      timeoutMs: c.EVENT_WEBHOOK_TIMEOUT_MS,
      pollMs: c.EVENT_WEBHOOK_POLL_MS,
      streamMaxLen: c.EVENT_STREAM_MAXLEN,
      allowInternalUrls: c.EVENT_WEBHOOK_ALLOW_INTERNAL_URLS,
    },
    ...(tracing ? { tracing } : {}),
  };
}

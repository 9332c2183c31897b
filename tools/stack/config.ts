// One typed description of a stack: where each service listens, under which
// hostname a browser reaches it, and where its files live. Everything else
// (service env, `status -o env`, the test harness) is derived from this.
import { resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** Offsets from the stack's base port. Documented in the README. */
export const PORT_OFFSETS = {
  gateway: 0,
  web: 1,
  marketing: 2,
  api: 3,
  gin: 4, // the Gin example backend (sdk/go/gin/examples/companies), dev stack only
  fastapi: 5, // the FastAPI example service (sdk/python/examples/companies.py), dev stack only
  authPublic: 10,
  authAdmin: 11,
  otlpHttp: 18, // the trace collector's OTLP/HTTP receiver (as 4318)
  mailSmtp: 25,
  postgres: 32,
  kratosPublic: 33,
  kratosAdmin: 34,
  idp: 44, // the local OpenID Provider for social sign-in (tools/oidc-provider)
  redis: 79,
  mailHttp: 80,
  jaegerGrpc: 85, // the trace UI's query API over gRPC (as 16685)
  jaegerUi: 86, // the trace UI and its HTTP query API (as 16686)
} as const;

export type PortName = keyof typeof PORT_OFFSETS;

export interface StackConfig {
  /** "dev" for `pnpm stack`, "test" for the test suite. */
  name: string;
  basePort: number;
  ports: Record<PortName, number>;
  /** Parent domain for cookies and hostnames; "localhost" means host-only cookies. */
  domain: string;
  /** Where data, logs and the state file of this stack live. */
  dir: string;
  logDir: string;
  dataDir: string;
  stateFile: string;
  /** Wipe data at start (tests) or keep it across restarts (dev). */
  ephemeral: boolean;
  /**
   * Start a trace collector (Jaeger) and point every service and Kratos at it. On in
   * the dev stack, off in the others (tests, benches); GATEHOUSE_TRACING=on|off decides.
   */
  tracing: boolean;
  secrets: {
    kratosCookie: string;
    kratosCipher: string;
    kratosDefault: string;
    webhook: string;
    kek: string;
    adminApiToken: string;
    /** The gateway's credential for reporting account locks (POST /admin/lockouts only). */
    lockoutReportToken: string;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function intFromEnv(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1024 || n > 65_000) {
    throw new ConfigError(`${key} must be an integer port between 1024 and 65000, got "${raw}"`);
  }
  return n;
}

const DOMAIN_RE = /^(localhost|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62})$/;

export function stackConfig(
  name: string,
  opts: { env?: NodeJS.ProcessEnv; basePort?: number; domain?: string; ephemeral?: boolean; tracing?: boolean } = {},
): StackConfig {
  const env = opts.env ?? process.env;
  const defaultBase = name === "test" ? 17_400 : 7_400;
  const basePort = opts.basePort ?? intFromEnv(env, "GATEHOUSE_PORT_BASE", defaultBase);
  const domain = (
    opts.domain ??
    env.GATEHOUSE_DOMAIN ??
    (name === "test" ? "gatehouse.test" : "localhost")
  ).toLowerCase();
  if (!DOMAIN_RE.test(domain)) {
    throw new ConfigError(
      `GATEHOUSE_DOMAIN must be a hostname such as "localhost" or "gatehouse.localhost", got "${domain}"`,
    );
  }
  const ports = Object.fromEntries(Object.entries(PORT_OFFSETS).map(([k, off]) => [k, basePort + off])) as Record<
    PortName,
    number
  >;
  const dir = resolve(REPO_ROOT, ".stack", name === "dev" ? "dev" : `${name}-${basePort}`);
  const tracingVar = env.GATEHOUSE_TRACING;
  if (tracingVar !== undefined && tracingVar !== "" && tracingVar !== "on" && tracingVar !== "off") {
    throw new ConfigError(`GATEHOUSE_TRACING must be "on" or "off", got "${tracingVar}"`);
  }
  return {
    name,
    basePort,
    ports,
    domain,
    dir,
    logDir: resolve(dir, "logs"),
    dataDir: resolve(dir, "data"),
    stateFile: resolve(dir, "state.json"),
    ephemeral: opts.ephemeral ?? name === "test",
    tracing: opts.tracing ?? (tracingVar ? tracingVar === "on" : name === "dev"),
    secrets: {
      // Local stacks only. Deployments bring their own (README "Secrets").
      kratosCookie: env.KRATOS_SECRETS_COOKIE ?? "gatehouse-local-cookie-secret-0000000001",
      kratosCipher: env.KRATOS_SECRETS_CIPHER ?? "gatehouse-local-cipher-secret-32",
      kratosDefault: env.KRATOS_SECRETS_DEFAULT ?? "gatehouse-local-default-secret-00000001",
      webhook: env.GATEHOUSE_WEBHOOK_SECRET ?? "gatehouse-local-webhook-secret-0000000001",
      // 32 bytes, hex. Encrypts signing keys at rest in the local database only.
      kek: env.GATEHOUSE_KEK ?? "67617465686f7573652d6c6f63616c2d6b656b2d6e6f742d666f722d70726f64",
      adminApiToken: env.GATEHOUSE_ADMIN_API_TOKEN ?? "gatehouse-local-admin-api-token-000000000001",
      lockoutReportToken: env.GATEHOUSE_LOCKOUT_REPORT_TOKEN ?? "gatehouse-local-lockout-report-token-000001",
    },
  };
}

/** Hostname a browser uses for one part of the product. */
export function hostFor(cfg: StackConfig, sub: "www" | "app" | "api" | "gateway"): string {
  return cfg.domain === "localhost" ? "localhost" : `${sub}.${cfg.domain}`;
}

/** Browser-facing URLs (what a person clicks; cookies are scoped to these hosts). */
export function browserUrls(cfg: StackConfig) {
  const p = cfg.ports;
  return {
    web: `http://${hostFor(cfg, "app")}:${p.web}`,
    marketing: `http://${hostFor(cfg, "www")}:${p.marketing}`,
    api: `http://${hostFor(cfg, "api")}:${p.api}`,
    gateway: `http://${hostFor(cfg, "gateway")}:${p.gateway}`,
    // Browsers reach Kratos' public API only through the gateway (its brute-force
    // limits, return_to checks and header hygiene); Kratos' own port is for services.
    kratos: `http://${hostFor(cfg, "gateway")}:${p.gateway}`,
    mail: `http://localhost:${p.mailHttp}`,
    // The local IdP's issuer: one URL that both the browser and Kratos (discovery, token
    // exchange) reach, so "localhost" rather than a hostname of the stack's domain.
    idp: `http://localhost:${p.idp}`,
    traces: `http://localhost:${p.jaegerUi}`,
  };
}

/**
 * Kratos' Postgres pool (ory/x sqlcon DSN parameters; its defaults on 2 cores are 4
 * open and 2 idle). Kept equal, recycled every 30 min; the same in compose and the docs.
 */
export const KRATOS_POOL = "max_conns=16&max_idle_conns=16&max_conn_idle_time=5m&max_conn_lifetime=30m";

/** Server-to-server URLs: loopback addresses, so no DNS is needed for the domain. */
export function internalUrls(cfg: StackConfig) {
  const p = cfg.ports;
  return {
    databaseAdmin: `postgres://postgres@127.0.0.1:${p.postgres}/postgres?sslmode=disable`,
    database: `postgres://postgres@127.0.0.1:${p.postgres}/gatehouse?sslmode=disable`,
    // As many idle connections as open ones: with fewer, Go's pool closes a connection
    // after each burst and Kratos pays a new Postgres connection on the next whoami.
    kratosDsn: `postgres://postgres@127.0.0.1:${p.postgres}/kratos?sslmode=disable&${KRATOS_POOL}`,
    redis: `redis://127.0.0.1:${p.redis}`,
    kratosPublic: `http://127.0.0.1:${p.kratosPublic}`,
    kratosAdmin: `http://127.0.0.1:${p.kratosAdmin}`,
    mail: `http://127.0.0.1:${p.mailHttp}`,
    smtp: `smtp://127.0.0.1:${p.mailSmtp}/?disable_starttls=true`,
    authPublic: `http://127.0.0.1:${p.authPublic}`,
    authAdmin: `http://127.0.0.1:${p.authAdmin}`,
    otlp: `http://127.0.0.1:${p.otlpHttp}`,
    jaegerQuery: `http://127.0.0.1:${p.jaegerUi}`,
  };
}

// The services of a stack, in start order. Each knows how to start itself, how
// to tell it is ready, and what it contributes to `status -o env`. Apps join
// this list as they are written.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import pg from "pg";
import { browserUrls, internalUrls, REPO_ROOT, type StackConfig } from "./config.ts";
import { httpOk, portFree, type RunningService, runToCompletion, startProcess, waitReady } from "./supervisor.ts";

export interface ServiceDef {
  name: string;
  /** Env var that, when set, means "already running elsewhere: do not start it". */
  overrideVar?: string;
  start(cfg: StackConfig): Promise<RunningService>;
}

const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");

function which(bin: string, hint: string): string {
  for (const dir of [join(CACHE, "bin"), ...(process.env.PATH ?? "").split(":")]) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  throw new Error(`${bin} not found: ${hint}`);
}

async function ensurePortFree(name: string, port: number): Promise<void> {
  if (!(await portFree(port))) {
    throw new Error(
      `${name}: port ${port} is already in use. Stop whatever holds it, or move this stack with GATEHOUSE_PORT_BASE.`,
    );
  }
}

// --- Postgres -----------------------------------------------------------------

function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) throw new Error("PostgreSQL not installed: run scripts/bootstrap.sh");
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error("PostgreSQL not installed: run scripts/bootstrap.sh");
  return join(root, versions[0], "bin");
}

/** Postgres refuses to run as root: as root, run it as the packaged `postgres` user. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const out = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
  const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
  return { uid: Number(out), gid: Number(gid) };
}

/**
 * Where Postgres keeps its data. As root, Postgres runs as the `postgres` user, who
 * may not be able to reach the checkout at all (a clone in a 0700 directory such as
 * `mktemp -d` makes): its data then lives under /var/lib/gatehouse, named after the
 * stack's directory so two checkouts never share it.
 */
export function postgresDataDir(cfg: StackConfig): string {
  if (process.getuid?.() !== 0) return join(cfg.dataDir, "postgres");
  const tag = createHash("sha256").update(cfg.dir).digest("hex").slice(0, 12);
  return join("/var/lib/gatehouse/postgres", `${basename(cfg.dir)}-${tag}`);
}

export const postgres: ServiceDef = {
  name: "postgres",
  overrideVar: "DATABASE_URL",
  async start(cfg) {
    await ensurePortFree("postgres", cfg.ports.postgres);
    const bin = postgresBinDir();
    const data = postgresDataDir(cfg);
    const log = join(cfg.logDir, "postgres.log");
    const user = postgresUser();
    // Postgres' processes start in a directory their user can enter (not the checkout).
    const cwd = dirname(data);
    if (!existsSync(join(data, "PG_VERSION"))) {
      mkdirSync(data, { recursive: true, mode: 0o755 });
      if (user.uid !== undefined) chownSync(data, user.uid, user.gid ?? user.uid);
      await runToCompletion({
        name: "initdb",
        command: join(bin, "initdb"),
        args: ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
        cwd,
        log,
        ...user,
      });
    }
    const pid = startProcess({
      name: "postgres",
      command: join(bin, "postgres"),
      cwd,
      args: [
        "-D",
        data,
        "-p",
        String(cfg.ports.postgres),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        `fsync=${cfg.ephemeral ? "off" : "on"}`,
      ],
      log,
      ...user,
    });
    const urls = internalUrls(cfg);
    await waitReady("postgres", pid, log, async () => {
      const c = new pg.Client({ connectionString: urls.databaseAdmin, connectionTimeoutMillis: 1_000 });
      try {
        await c.connect();
        await c.query("select 1");
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    });
    await ensureDatabases(urls.databaseAdmin, ["kratos", "gatehouse"]);
    return {
      name: "postgres",
      pid,
      url: `postgres://127.0.0.1:${cfg.ports.postgres} (databases: kratos, gatehouse)`,
      log,
      env: { DATABASE_URL: urls.database, KRATOS_DATABASE_URL: urls.kratosDsn },
    };
  },
};

export async function ensureDatabases(adminUrl: string, names: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    for (const db of names) {
      const r = await c.query("select 1 from pg_database where datname = $1", [db]);
      if (r.rowCount === 0) await c.query(`create database "${db.replace(/"/g, "")}"`);
    }
  } finally {
    await c.end();
  }
}

// --- Redis --------------------------------------------------------------------

export const redis: ServiceDef = {
  name: "redis",
  overrideVar: "REDIS_URL",
  async start(cfg) {
    await ensurePortFree("redis", cfg.ports.redis);
    const data = join(cfg.dataDir, "redis");
    mkdirSync(data, { recursive: true });
    const log = join(cfg.logDir, "redis.log");
    const pid = startProcess({
      name: "redis",
      command: which("redis-server", "run scripts/bootstrap.sh"),
      args: [
        "--port",
        String(cfg.ports.redis),
        "--bind",
        "127.0.0.1",
        "--dir",
        data,
        "--save",
        cfg.ephemeral ? "" : "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ],
      log,
    });
    await waitReady("redis", pid, log, () => redisPing(cfg.ports.redis));
    const url = internalUrls(cfg).redis;
    return { name: "redis", pid, url, log, env: { REDIS_URL: url } };
  },
};

export async function redisPing(port: number, host = "127.0.0.1"): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((res) => {
    const s = connect({ port, host });
    s.setTimeout(1_000, () => {
      s.destroy();
      res(false);
    });
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (d) => {
      s.destroy();
      res(d.toString().startsWith("+PONG"));
    });
    s.once("error", () => res(false));
  });
}

// --- Node services of this repository ---------------------------------------------

/**
 * The life every Node service of this repository shares: its ports must be free,
 * it logs to <logDir>/<name>.log, an optional preparation step runs first (a build),
 * then the script starts and every health URL must answer before the stack goes on.
 */
async function startNodeService(
  cfg: StackConfig,
  o: {
    name: string;
    label: string;
    ports: readonly number[];
    script: string;
    cwd?: string;
    env: Record<string, string>;
    health: readonly string[];
    timeoutMs?: number;
    prepare?: (log: string) => Promise<void>;
  },
): Promise<{ pid: number; log: string }> {
  for (const port of o.ports) await ensurePortFree(o.label, port);
  const log = join(cfg.logDir, `${o.name}.log`);
  await o.prepare?.(log);
  const pid = startProcess({
    name: o.name,
    command: process.execPath,
    args: [resolve(REPO_ROOT, o.script)],
    ...(o.cwd ? { cwd: o.cwd } : {}),
    env: o.env,
    log,
  });
  await waitReady(o.label, pid, log, async () => (await Promise.all(o.health.map(httpOk))).every(Boolean), o.timeoutMs);
  return { pid, log };
}

// --- Mail catcher -------------------------------------------------------------

export const mail: ServiceDef = {
  name: "mail",
  overrideVar: "MAIL_URL",
  async start(cfg) {
    const url = internalUrls(cfg).mail;
    const { pid, log } = await startNodeService(cfg, {
      name: "mail",
      label: "mail",
      ports: [cfg.ports.mailSmtp, cfg.ports.mailHttp],
      script: "tools/mailcatcher/server.ts",
      env: { MAIL_SMTP_PORT: String(cfg.ports.mailSmtp), MAIL_HTTP_PORT: String(cfg.ports.mailHttp) },
      health: [`${url}/api/health`],
    });
    return { name: "mail", pid, url: browserUrls(cfg).mail, log, env: { MAIL_URL: url } };
  },
};

// --- Kratos -------------------------------------------------------------------

/**
 * This stack's URL and secret for kratos.yml's webhook behind revoke_active_sessions
 * (entry 1 of the list). Entry 0 is named again: Kratos' env override of an entry past
 * the first turns the entries before it into null unless they are set too.
 */
function revokeThenTell(cfg: StackConfig, prefix: string, reason: "password_changed" | "recovered") {
  return {
    [`${prefix}_HOOKS_0_HOOK`]: "revoke_active_sessions",
    [`${prefix}_HOOKS_1_CONFIG_URL`]: `${internalUrls(cfg).authAdmin}/v1/webhooks/kratos/sessions-revoked?reason=${reason}`,
    [`${prefix}_HOOKS_1_CONFIG_AUTH_CONFIG_VALUE`]: cfg.secrets.webhook,
  };
}

/** Env that turns kratos-config/kratos.yml into this stack's Kratos. */
export function kratosEnv(cfg: StackConfig, smtpUri: string, dsn: string): Record<string, string> {
  const b = browserUrls(cfg);
  const i = internalUrls(cfg);
  const cookieDomain = cfg.domain === "localhost" ? "" : cfg.domain;
  const origins = [b.web, b.marketing, b.gateway, b.api];
  return {
    DSN: dsn,
    // Form actions and flow URLs point at the gateway: browsers never post to Kratos directly.
    SERVE_PUBLIC_BASE_URL: `${b.kratos}/`,
    SERVE_ADMIN_BASE_URL: `${i.kratosAdmin}/`,
    SERVE_PUBLIC_PORT: String(cfg.ports.kratosPublic),
    SERVE_PUBLIC_HOST: "127.0.0.1",
    SERVE_ADMIN_PORT: String(cfg.ports.kratosAdmin),
    SERVE_ADMIN_HOST: "127.0.0.1",
    SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: origins.join(","),
    SECRETS_COOKIE: cfg.secrets.kratosCookie,
    SECRETS_CIPHER: cfg.secrets.kratosCipher,
    SECRETS_DEFAULT: cfg.secrets.kratosDefault,
    COOKIES_DOMAIN: cookieDomain,
    SESSION_COOKIE_DOMAIN: cookieDomain,
    SELFSERVICE_DEFAULT_BROWSER_RETURN_URL: `${b.web}/dashboard`,
    SELFSERVICE_ALLOWED_RETURN_URLS: [b.web, b.marketing, b.gateway, b.api].join(","),
    SELFSERVICE_FLOWS_ERROR_UI_URL: `${b.web}/auth/error`,
    SELFSERVICE_FLOWS_LOGIN_UI_URL: `${b.web}/auth/login`,
    SELFSERVICE_FLOWS_REGISTRATION_UI_URL: `${b.web}/auth/registration`,
    SELFSERVICE_FLOWS_VERIFICATION_UI_URL: `${b.web}/auth/verification`,
    SELFSERVICE_FLOWS_VERIFICATION_AFTER_DEFAULT_BROWSER_RETURN_URL: `${b.web}/dashboard`,
    SELFSERVICE_FLOWS_RECOVERY_UI_URL: `${b.web}/auth/recovery`,
    SELFSERVICE_FLOWS_SETTINGS_UI_URL: `${b.web}/auth/settings`,
    SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL: `${b.web}/auth/login`,
    SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_URL: `${i.authAdmin}/v1/webhooks/kratos/registration`,
    SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE: cfg.secrets.webhook,
    ...revokeThenTell(cfg, "SELFSERVICE_FLOWS_SETTINGS_AFTER_PASSWORD", "password_changed"),
    ...revokeThenTell(cfg, "SELFSERVICE_FLOWS_RECOVERY_AFTER", "recovered"),
    COURIER_SMTP_CONNECTION_URI: smtpUri,
    COURIER_SMTP_FROM_ADDRESS: `no-reply@${cfg.domain === "localhost" ? "gatehouse.localhost" : cfg.domain}`,
    LOG_LEVEL: process.env.KRATOS_LOG_LEVEL ?? "info",
    SQA_OPT_OUT: "true",
  };
}

export const kratos: ServiceDef = {
  name: "kratos",
  overrideVar: "KRATOS_PUBLIC_URL",
  async start(cfg) {
    await ensurePortFree("kratos (public)", cfg.ports.kratosPublic);
    await ensurePortFree("kratos (admin)", cfg.ports.kratosAdmin);
    const bin = which("kratos", "run scripts/bootstrap.sh (it builds Kratos v1.3.1 from the Go module proxy)");
    const i = internalUrls(cfg);
    const dsn = process.env.KRATOS_DATABASE_URL ?? i.kratosDsn;
    const smtp = process.env.MAIL_URL ? (process.env.KRATOS_SMTP_URI ?? i.smtp) : i.smtp;
    const env = kratosEnv(cfg, smtp, dsn);
    const log = join(cfg.logDir, "kratos.log");
    const cwd = resolve(REPO_ROOT, "kratos-config");
    await runToCompletion({
      name: "kratos migrate",
      command: bin,
      args: ["migrate", "sql", "-e", "--yes"],
      env,
      cwd,
      log,
    });
    const pid = startProcess({
      name: "kratos",
      command: bin,
      args: ["serve", "-c", "kratos.yml", "--dev", "--watch-courier", "--sqa-opt-out"],
      env,
      cwd,
      log,
    });
    await waitReady("kratos", pid, log, () => httpOk(`${i.kratosAdmin}/health/ready`), 90_000);
    return {
      name: "kratos",
      pid,
      url: `${i.kratosPublic} (browsers: through the gateway)`,
      log,
      env: {
        KRATOS_PUBLIC_URL: i.kratosPublic,
        KRATOS_BROWSER_URL: browserUrls(cfg).kratos,
        KRATOS_ADMIN_URL: i.kratosAdmin,
      },
    };
  },
};

// --- auth-service -------------------------------------------------------------

/** Local-only secrets for the auth-service; deployments set their own (README "Secrets"). */
export function authServiceEnv(cfg: StackConfig, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const i = internalUrls(cfg);
  const b = browserUrls(cfg);
  return {
    AUTH_HOST: "127.0.0.1",
    AUTH_PUBLIC_PORT: String(cfg.ports.authPublic),
    AUTH_ADMIN_PORT: String(cfg.ports.authAdmin),
    DATABASE_URL: env.DATABASE_URL || i.database,
    REDIS_URL: env.REDIS_URL || i.redis,
    KRATOS_PUBLIC_URL: env.KRATOS_PUBLIC_URL || i.kratosPublic,
    KRATOS_ADMIN_URL: env.KRATOS_ADMIN_URL || i.kratosAdmin,
    TOKEN_ISSUER: i.authPublic,
    TOKEN_AUDIENCE: "gatehouse",
    SIGNING_KEY_KEK: cfg.secrets.kek,
    WEBHOOK_SECRET: cfg.secrets.webhook,
    ADMIN_API_TOKEN: cfg.secrets.adminApiToken,
    CORS_ALLOWED_ORIGINS: [b.web, b.marketing, b.gateway, b.api].join(","),
    MIGRATE_ON_START: "true",
    LOG_LEVEL: env.AUTH_LOG_LEVEL ?? "info",
    // Well inside the 10 s `down` gives a service before SIGKILL (stopProcess).
    SHUTDOWN_GRACE_SECONDS: "5",
  };
}

export const authService: ServiceDef = {
  name: "auth",
  overrideVar: "AUTH_SERVICE_URL",
  async start(cfg) {
    const i = internalUrls(cfg);
    const { pid, log } = await startNodeService(cfg, {
      name: "auth",
      label: "auth-service",
      ports: [cfg.ports.authPublic, cfg.ports.authAdmin],
      script: "apps/auth-service/src/main.ts",
      env: authServiceEnv(cfg),
      health: [`${i.authAdmin}/health/ready`],
      timeoutMs: 60_000,
    });
    return {
      name: "auth",
      pid,
      url: `${i.authPublic} (admin ${i.authAdmin})`,
      log,
      env: { AUTH_SERVICE_URL: i.authPublic, AUTH_ADMIN_URL: i.authAdmin, ADMIN_API_TOKEN: cfg.secrets.adminApiToken },
    };
  },
};

// --- example API -----------------------------------------------------------------

export const exampleApi: ServiceDef = {
  name: "api",
  overrideVar: "API_URL",
  async start(cfg) {
    const i = internalUrls(cfg);
    const b = browserUrls(cfg);
    const { pid, log } = await startNodeService(cfg, {
      name: "api",
      label: "example-api",
      ports: [cfg.ports.api],
      script: "apps/example-api/src/main.ts",
      env: {
        API_HOST: "127.0.0.1",
        API_PORT: String(cfg.ports.api),
        DATABASE_URL: process.env.DATABASE_URL || i.database,
        AUTH_SERVICE_URL: i.authPublic,
        REDIS_URL: process.env.REDIS_URL || i.redis,
        CORS_ALLOWED_ORIGINS: [b.web, b.marketing].join(","),
      },
      health: [`http://127.0.0.1:${cfg.ports.api}/health/alive`],
    });
    return { name: "api", pid, url: b.api, log, env: { API_URL: b.api } };
  },
};

// --- gateway ---------------------------------------------------------------------

export const gateway: ServiceDef = {
  name: "gateway",
  overrideVar: "GATEWAY_URL",
  async start(cfg) {
    const i = internalUrls(cfg);
    const b = browserUrls(cfg);
    // The routes file names the example API by URL; render it for this stack's ports.
    const routes = join(cfg.dir, "routes.yaml");
    mkdirSync(cfg.dir, { recursive: true });
    writeFileSync(
      routes,
      readFileSync(resolve(REPO_ROOT, "apps/gateway/routes.local.yaml"), "utf8").replaceAll(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder in the routes file, not a template
        "${API_URL}",
        `http://127.0.0.1:${cfg.ports.api}`,
      ),
    );
    const hostOf = (u: string) => new URL(u).hostname;
    const internal = `http://127.0.0.1:${cfg.ports.gateway}`;
    const { pid, log } = await startNodeService(cfg, {
      name: "gateway",
      label: "gateway",
      ports: [cfg.ports.gateway],
      script: "apps/gateway/src/main.ts",
      env: {
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_PORT: String(cfg.ports.gateway),
        ROUTES_FILE: routes,
        AUTH_SERVICE_URL: i.authPublic,
        KRATOS_PUBLIC_URL: process.env.KRATOS_PUBLIC_URL || i.kratosPublic,
        REDIS_URL: process.env.REDIS_URL || i.redis,
        LOGIN_URL: `${b.web}/auth/login`,
        ALLOWED_RETURN_HOSTS: [...new Set([b.web, b.api, b.gateway, b.marketing].map(hostOf))].join(","),
        TRUSTED_PROXIES: "127.0.0.1/32,::1",
        // /decisions answers in the local stack as Envoy asks (GET /decisions/<path>, no
        // headers to set by hand); GATEWAY_FORWARD_AUTH_PROXY=nginx|traefik|caddy for another.
        FORWARD_AUTH_PROXY: process.env.GATEWAY_FORWARD_AUTH_PROXY ?? "envoy",
        LOG_LEVEL: process.env.GATEWAY_LOG_LEVEL ?? "info",
        // Every test client is 127.0.0.1: the per-address lock would lock the whole
        // suite out. Per-account limits stay as configured; tests of the per-address
        // lock send their own X-Forwarded-For (127.0.0.1 is a trusted proxy here).
        ...(cfg.name === "test" ? { BRUTE_FORCE_MAX_IP_FAILURES: "100000" } : {}),
        ACCESS_LOG: "true", // a laptop stack shows its traffic
        SHUTDOWN_GRACE_SECONDS: "5", // as the auth-service's
      },
      health: [`${internal}/health/alive`],
    });
    return {
      name: "gateway",
      pid,
      url: b.gateway,
      log,
      env: { GATEWAY_URL: b.gateway, GATEWAY_INTERNAL_URL: internal },
    };
  },
};

// --- example web app (Next.js: the product on the app host, the marketing site) ------

/**
 * One `next build` per source version (cached under apps/example-web/.next/b-<hash>/,
 * so later starts skip it), then one Next.js server listening on two ports: the app
 * (web) and the marketing site, told apart by Host.
 */
export const exampleWeb: ServiceDef = {
  name: "web",
  overrideVar: "WEB_URL",
  async start(cfg) {
    const i = internalUrls(cfg);
    const b = browserUrls(cfg);
    const appDir = resolve(REPO_ROOT, "apps/example-web");
    const { pid, log } = await startNodeService(cfg, {
      name: "web",
      label: "example-web",
      ports: [cfg.ports.web, cfg.ports.marketing],
      script: "apps/example-web/server.ts",
      cwd: appDir,
      // Builds once per source hash (scripts/build.ts); later starts reuse it.
      prepare: (log) =>
        runToCompletion(
          { name: "web build", command: process.execPath, args: [join(appDir, "scripts/build.ts")], cwd: appDir, log },
          20 * 60_000,
        ),
      env: {
        NODE_ENV: "production",
        WEB_HOST: "127.0.0.1",
        WEB_PORT: String(cfg.ports.web),
        MARKETING_PORT: String(cfg.ports.marketing),
        WEB_URL: b.web,
        MARKETING_URL: b.marketing,
        // Server-side self-service calls (the registration form's JSON submission among
        // them) go through the gateway too, so its limits count them.
        KRATOS_PUBLIC_URL: `http://127.0.0.1:${cfg.ports.gateway}`,
        KRATOS_BROWSER_URL: process.env.KRATOS_BROWSER_URL || b.kratos,
        AUTH_SERVICE_URL: i.authPublic,
        TOKEN_ISSUER: i.authPublic,
        GATEWAY_URL: b.gateway,
        GATEWAY_INTERNAL_URL: `http://127.0.0.1:${cfg.ports.gateway}`,
        COOKIE_DOMAIN: cfg.domain === "localhost" ? "" : cfg.domain,
      },
      health: [`http://127.0.0.1:${cfg.ports.web}/healthz`, `http://127.0.0.1:${cfg.ports.marketing}/healthz`],
      timeoutMs: 120_000,
    });
    return {
      name: "web",
      pid,
      url: `${b.web} (marketing ${b.marketing})`,
      log,
      env: { WEB_URL: b.web, MARKETING_URL: b.marketing },
    };
  },
};

export const SERVICES: ServiceDef[] = [postgres, redis, mail, kratos, authService, exampleApi, gateway, exampleWeb];

export function wipeData(cfg: StackConfig): void {
  rmSync(postgresDataDir(cfg), { recursive: true, force: true });
  rmSync(cfg.dataDir, { recursive: true, force: true });
  rmSync(cfg.logDir, { recursive: true, force: true });
}

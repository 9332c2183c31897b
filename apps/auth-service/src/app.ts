// Builds the auth-service from its configuration: one place where the parts are
// wired, so tests can build the same thing in-process.
import { createKratosClient, type KratosClient } from "@gatehouse/kratos";
import { createServiceLogger } from "@gatehouse/observability/logger";
import { openRedis, openSubscriber, type RedisClient } from "@gatehouse/redis";
import type { Kysely } from "kysely";
import type { DestinationStream, Logger } from "pino";
import { InvalidationBus } from "./cache/bus.ts";
import type { AuthConfig } from "./config.ts";
import { createDb, migrateToLatest } from "./db/index.ts";
import type { Database } from "./db/schema.ts";
import { DomainError } from "./domain/errors.ts";
import { onCommit } from "./domain/support.ts";
import { getUser, upsertUserFromKratos } from "./domain/users.ts";
import { WebhookDelivery } from "./events/delivery.ts";
import { SecretBox } from "./events/secret-box.ts";
import { ApiKeyExchange } from "./exchange/api-keys.ts";
import { TokenExchange } from "./exchange/exchange.ts";
import { SessionResolver } from "./exchange/sessions.ts";
import { KeyStore } from "./keys/store.ts";
import { Metrics } from "./ops/metrics.ts";
import { OutboxRelay } from "./outbox/relay.ts";
import { Revocation } from "./revocation/revocation.ts";

export const LEEWAY_SEC = 30;

export interface App {
  cfg: AuthConfig;
  log: Logger;
  db: Kysely<Database>;
  redis: RedisClient;
  bus: InvalidationBus;
  kratos: KratosClient;
  keys: KeyStore;
  exchange: TokenExchange;
  apiKeys: ApiKeyExchange;
  revocation: Revocation;
  metrics: Metrics;
  /** Seals and opens webhook subscriptions' secrets (events/secret-box.ts). */
  secretBox: SecretBox;
  users: { get(identityId: string): Promise<{ signupTier: string | null } | undefined> };
  ensureUser(identityId: string): Promise<void>;
  /**
   * What this instance can reach. Postgres and Kratos are required (without them no
   * new session can be exchanged); Redis is not (caches, revocation markers, the
   * invalidation channel): without it the service is degraded, not unready.
   */
  readiness(): Promise<Record<"postgres" | "redis" | "kratos" | "invalidations", boolean>>;
  /** Set when the instance begins to shut down (SIGTERM): readiness answers 503 from then on. */
  draining: boolean;
  close(): Promise<void>;
}

/**
 * The service's pino logger: JSON lines on standard output (or `destination`, in tests).
 *
 * Standard output is written in batches (@gatehouse/observability/logger: 64 lines or
 * 16 KB, at least once a second, and at exit, also after an uncaught error): a write
 * per line cost ~15 µs of CPU per request, most of a warm token exchange's gap to a
 * hello-world (bench/README.md). What that gives up: a SIGKILL or a power cut loses at
 * most the last second of lines. LOG_SYNC=true writes each line as it is logged.
 */
export function createLogger(cfg: Pick<AuthConfig, "logLevel" | "logSync">, destination?: DestinationStream): Logger {
  return createServiceLogger(
    {
      service: "auth-service",
      level: cfg.logLevel,
      sync: cfg.logSync,
      // Defence in depth: request logging never includes headers, but if anything
      // ever logs one of these paths, it is censored.
      redact: [
        "req.headers.cookie",
        "req.headers.authorization",
        'req.headers["x-session-token"]',
        "cookie",
        "authorization",
        "token",
        "access_token",
        "session_token",
        "rawKey",
        "*.cookie",
        "*.token",
      ],
    },
    destination,
  );
}

/**
 * A logger for a burst of the same failure (every pooled connection breaks at once
 * when Postgres dies): the first at once, then one line per `intervalMs` with a count.
 */
export function everyFewSeconds(log: Logger, msg: string, intervalMs = 10_000): (err: Error) => void {
  let last = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code }, suppressed }, msg);
    suppressed = 0;
  };
}

export async function createApp(cfg: AuthConfig, log: Logger = createLogger(cfg)): Promise<App> {
  const db = createDb(cfg.databaseUrl, { onConnectionError: everyFewSeconds(log, "postgres connection lost") });
  if (cfg.migrateOnStart) {
    const { applied } = await migrateToLatest(db);
    if (applied.length) log.info({ applied }, "migrations applied");
  }
  // Redis holds caches, revocation markers and the invalidation channel; nothing at
  // start-up waits for it. With Redis down the service starts and serves (degraded,
  // see /health/ready), and both connections keep reconnecting on their own (through a
  // Sentinel failover, or to another node of a cluster: @gatehouse/redis).
  const redis = openRedis(cfg.redis);
  // The bus subscribes on every 'ready' itself, so it knows when it is subscribed.
  const redisSub = openSubscriber(cfg.redis);
  const redisDown = everyFewSeconds(log, "redis unreachable; serving without it until it is back");
  redis.on("error", redisDown);
  redisSub.on("error", redisDown);
  const metrics = new Metrics();
  const bus = new InvalidationBus(log);
  bus.attach(redis, redisSub);
  await Promise.all([
    redis
      .connect()
      .catch((e: Error) =>
        log.warn({ err: e.message }, "redis not reachable at start; running without it until it is"),
      ),
    redisSub.connect().catch(() => {}),
  ]);
  const kratos = createKratosClient({
    publicUrl: cfg.kratos.publicUrl,
    adminUrl: cfg.kratos.adminUrl,
    cookieName: cfg.kratos.cookieName,
  });
  const keys = new KeyStore({
    db,
    kek: cfg.kek,
    previousKeks: cfg.previousKeks,
    policy: { alg: cfg.token.alg, tokenTtlSec: cfg.token.ttlSec, publishLeadSec: 300, leewaySec: LEEWAY_SEC },
    reloadEveryMs: cfg.keysReloadSec * 1000,
    bus,
    log,
  });
  await keys.ensureActiveKey({ actor: "system" });
  const sessions = new SessionResolver({
    kratos,
    redis,
    bus,
    ttlSec: cfg.sessionCache.ttlSec,
    size: cfg.sessionCache.size,
    metrics,
    log,
  });
  const exchange = new TokenExchange({ sessions, db, keys, bus, cfg, metrics });
  const apiKeys = new ApiKeyExchange({ db, keys, bus, cfg, metrics });
  const revocation = new Revocation({
    kratos,
    sessions,
    redis,
    db,
    tokenTtlSec: cfg.token.ttlSec,
    leewaySec: LEEWAY_SEC,
  });
  const secretBox = new SecretBox(cfg.kek, cfg.previousKeks);
  const webhooks = new WebhookDelivery({ db, schedule: cfg.webhookDelivery, log, box: secretBox });
  const outbox = new OutboxRelay({
    db,
    bus,
    revoke: (sid, until) => sessions.forgetSession(sid, until),
    rememberMs: (cfg.token.ttlSec + LEEWAY_SEC) * 1000,
    log,
    onDeliveries: () => void webhooks.poke(),
    ...(cfg.webhookDelivery.streamMaxLen > 0 ? { stream: { redis, maxLen: cfg.webhookDelivery.streamMaxLen } } : {}),
  });
  onCommit(db, () => outbox.flush());
  outbox.start();
  webhooks.start();

  return {
    secretBox,
    cfg,
    draining: false,
    log,
    db,
    redis,
    bus,
    kratos,
    keys,
    exchange,
    apiKeys,
    revocation,
    metrics,
    users: {
      async get(identityId) {
        const u = await getUser(db, identityId);
        return u ? { signupTier: u.signupTier ?? null } : undefined;
      },
    },
    async ensureUser(identityId) {
      if (await getUser(db, identityId)) return;
      const identity = await kratos.getIdentity(identityId);
      if (!identity) throw new DomainError("not_found", "no such Kratos identity");
      const traits = identity.traits as { email?: string; name?: { first?: string; last?: string } };
      if (!traits.email) throw new DomainError("invalid_input", "that identity has no email");
      await upsertUserFromKratos(
        db,
        {
          identityId,
          email: traits.email,
          ...(traits.name?.first ? { nameFirst: traits.name.first } : {}),
          ...(traits.name?.last ? { nameLast: traits.name.last } : {}),
        },
        { actor: "system" },
      );
    },
    async readiness() {
      const timeout = <T>(p: Promise<T>) =>
        Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2_000))]);
      const [postgres, redisOk, kratosOk] = await Promise.all([
        timeout(db.selectNoFrom((eb) => eb.val(1).as("one")).execute()).then(
          () => true,
          () => false,
        ),
        timeout(redis.ping()).then(
          (r) => r === "PONG",
          () => false,
        ),
        timeout(kratos.ready()).catch(() => false),
      ]);
      return { postgres, redis: redisOk, kratos: kratosOk, invalidations: bus.subscribed };
    },
    async close() {
      outbox.stop();
      webhooks.stop();
      await Promise.allSettled([db.destroy(), redis.quit(), redisSub.quit(), kratos.close()]);
    },
  };
}

// The gateway's listeners, guard and Redis clients, from a parsed configuration
// (main.ts is the entry). SIGHUP (or a change of the routes file) reloads the routes;
// a bad new file is refused with a message and the old routes stay in force.
import { watch } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createGuard, type InvalidationLog, subscribeInvalidations } from "@gatehouse/guard";
import { createServiceLogger } from "@gatehouse/observability/logger";
import type { Tracing } from "@gatehouse/observability/tracing";
import { describeRedis, openRedis, openSubscriber, type RedisClient, type RedisSubscriber } from "@gatehouse/redis";
import type { DestinationStream } from "pino";
import type { GatewayConfig } from "./config.ts";
import { loadRoutesFile } from "./routes/schema.ts";
import { createGateway } from "./server.ts";

export async function run(cfg: GatewayConfig, opts: { logDestination?: DestinationStream; tracing?: Tracing } = {}) {
  const log = createServiceLogger(
    {
      service: "gateway",
      level: cfg.LOG_LEVEL,
      sync: cfg.LOG_SYNC,
      // Defence in depth: nothing here logs headers, but if anything ever does, these are censored.
      redact: [
        "cookie",
        "authorization",
        "token",
        "*.cookie",
        "*.authorization",
        "*.token",
        'headers["x-session-token"]',
      ],
    },
    opts.logDestination,
  );
  const table = loadRoutesFile(cfg.ROUTES_FILE);
  let redis: RedisClient | undefined;
  let subscriber: RedisSubscriber | undefined;
  let invalidations: InvalidationLog | undefined;
  if (cfg.redis) {
    // Fails fast while Redis is away (no offline queue) and reconnects by itself, through
    // a Sentinel failover or to another cluster node (@gatehouse/redis).
    redis = openRedis(cfg.redis);
    const redisDown = everyFewSeconds((err) =>
      log.warn({ err: err.message }, "redis unreachable; serving without it until it is back (degraded)"),
    );
    redis.on("error", redisDown);
    await redis
      .connect()
      .catch((e: Error) =>
        log.warn(
          { err: e.message },
          "redis not reachable at start; brute-force protection and the shared cache wait for it",
        ),
      );
    // Role changes and revocations announced by the auth-service reach the guard at once;
    // after a reconnect it catches up on the revocations it missed (through `redis`).
    // It subscribes on every 'ready' itself (and so knows when it listens).
    subscriber = openSubscriber(cfg.redis);
    subscriber.on("error", redisDown);
    invalidations = subscribeInvalidations(subscriber, {
      reader: redis,
      onError: (e) =>
        log.warn(
          { err: e.message },
          "invalidation channel not subscribed; revocations and role changes apply from the reconnect on",
        ),
    });
    subscriber.connect().catch(() => {});
  }

  const guard = createGuard({
    authServiceUrl: cfg.AUTH_SERVICE_URL,
    audience: cfg.TOKEN_AUDIENCE,
    ...(cfg.TOKEN_ISSUER ? { issuer: cfg.TOKEN_ISSUER } : {}),
    cookieName: cfg.KRATOS_COOKIE_NAME,
    ...(cfg.LOGIN_URL ? { login: { url: cfg.LOGIN_URL, allowedReturnHosts: cfg.ALLOWED_RETURN_HOSTS } } : {}),
    sessionCache: {
      maxTtlSec: cfg.SESSION_CACHE_TTL_SECONDS,
      ...(redis ? { redis } : {}),
    },
    ...(invalidations ? { invalidations } : {}),
    onEvent: (e) => log.warn({ event: e }, "guard event"),
  });
  const gw = createGateway({
    cfg,
    log,
    guard,
    table,
    ...(redis ? { redis } : {}),
    ...(invalidations ? { invalidations } : {}),
  });
  await new Promise<void>((res, rej) => gw.server.listen(cfg.GATEWAY_PORT, cfg.GATEWAY_HOST, res).once("error", rej));
  const port = (gw.server.address() as AddressInfo).port;
  let metricsServer: Server | undefined;
  if (cfg.METRICS_PORT !== undefined) {
    const m = createServer(gw.metricsHandler);
    gw.drain.add(m);
    metricsServer = m;
    try {
      await new Promise<void>((res, rej) => m.listen(cfg.METRICS_PORT, cfg.GATEWAY_HOST, res).once("error", rej));
    } catch (e) {
      await gw.close();
      await guard.close();
      throw e;
    }
  }
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  log.info(
    { port, metricsPort, routes: table.routes.length, redis: cfg.redis ? describeRedis(cfg.redis) : "none" },
    "gateway listening",
  );

  const reload = (why: string) => {
    try {
      const next = loadRoutesFile(cfg.ROUTES_FILE);
      gw.reload(next);
      log.info({ why, routes: next.routes.length }, "routes reloaded");
      return true;
    } catch (e) {
      log.error({ why, err: (e as Error).message }, "routes file refused; keeping the previous routes");
      return false;
    }
  };
  const onHup = () => reload("SIGHUP");
  process.on("SIGHUP", onHup);
  let debounce: NodeJS.Timeout | undefined;
  const watcher = watch(cfg.ROUTES_FILE, () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => reload("file changed"), 200);
  });
  watcher.on("error", () => {});

  let stopped: Promise<void> | undefined;
  return {
    port,
    /** The metrics listener's port, when METRICS_PORT is set. */
    metricsPort,
    gateway: gw,
    reload,
    log,
    graceMs: cfg.SHUTDOWN_GRACE_SECONDS * 1000,
    /** Drains both listeners (see Gateway.close), then closes the guard and Redis, and flushes traces. */
    stop(): Promise<void> {
      stopped ??= (async () => {
        process.off("SIGHUP", onHup);
        watcher.close();
        clearTimeout(debounce);
        await gw.close();
        await guard.close();
        await redis?.quit().catch(() => {});
        subscriber?.disconnect();
        // The spans of the last requests, exported before the process goes.
        await opts.tracing?.shutdown();
        log.info("stopped");
      })();
      return stopped;
    },
  };
}

/** Calls `fn` for the first of a burst (every reconnect attempt fails alike), then at most once per `intervalMs`. */
function everyFewSeconds(fn: (err: Error) => void, intervalMs = 10_000): (err: Error) => void {
  let last = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    fn(err);
  };
}

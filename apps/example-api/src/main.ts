// The example API's entry. Tracing, when configured (OTEL_EXPORTER_OTLP_ENDPOINT),
// starts before the modules it instruments (node:http, pg, ioredis) are loaded: they
// are imported only after it.
import { tracingConfig, tracingEnv } from "@gatehouse/observability/tracing-config";
import { type RedisTarget, readRedisConfig } from "@gatehouse/redis/config";
import { z } from "zod";

const schema = z
  .object({
    API_HOST: z.string().default("127.0.0.1"),
    API_PORT: z.coerce.number().int().min(0).max(65_535).default(7403),
    DATABASE_URL: z.string().url(),
    AUTH_SERVICE_URL: z.string().url(),
    TOKEN_AUDIENCE: z.string().default("gatehouse"),
    CORS_ALLOWED_ORIGINS: z.string().default(""),
    KRATOS_COOKIE_NAME: z.string().default("ory_kratos_session"),
    // The auth-service's Redis (REDIS_URL, or Sentinel, or Cluster: @gatehouse/redis, read
    // below): logouts and role changes reach this API at once. Without it a JWT stays
    // valid until it expires (at most the token lifetime, 5 minutes by default).
  })
  .extend(tracingEnv.shape);

export async function start(env: NodeJS.ProcessEnv = process.env) {
  const r = schema.safeParse(env);
  const redisConfig = readRedisConfig(env, { required: false });
  if (!r.success || !("target" in redisConfig))
    throw new Error(
      `invalid configuration:\n${[
        ...(r.error?.issues ?? []).map((i) => `  ${String(i.path[0])}: ${i.message}`),
        ...redisConfig.issues.map((i) => `  ${i.variable}: ${i.message}`),
      ].join("\n")}`,
    );
  const c = r.data;
  const tracingCfg = tracingConfig(c, "example-api");
  const tracing = tracingCfg && (await import("@gatehouse/observability/tracing")).startTracing(tracingCfg);
  const pg = (await import("pg")).default;
  const { createApi, MIGRATION } = await import("./app.ts");
  const db = new pg.Pool({ connectionString: c.DATABASE_URL, max: 10, connectionTimeoutMillis: 3_000 });
  // A broken connection emits 'error' on its client, and on the pool when the client
  // was idle; unheard, either kills the process. The query in flight (if any) fails on
  // its own, and the pool drops the client.
  db.on("error", () => {});
  db.on("connect", (client) => client.on("error", () => {}));
  await db.query(MIGRATION);
  const redis = redisConfig.target ? await redisPair(redisConfig.target) : undefined;
  const { app, guard } = createApi(
    {
      authServiceUrl: c.AUTH_SERVICE_URL,
      audience: c.TOKEN_AUDIENCE,
      corsOrigins: c.CORS_ALLOWED_ORIGINS.split(",").filter(Boolean),
      cookieName: c.KRATOS_COOKIE_NAME,
      ...(redis ? { invalidations: redis.invalidations } : {}),
    },
    db,
  );
  const server = app.listen(c.API_PORT, c.API_HOST);
  await new Promise<void>((res, rej) => server.once("listening", res).once("error", rej));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : c.API_PORT,
    async stop() {
      await new Promise<void>((res) => server.close(() => res()));
      await guard.close();
      await db.end();
      redis?.close();
      await tracing?.shutdown();
    },
  };
}

/** A subscriber and a reader for the invalidation channel; both reconnect by themselves. */
async function redisPair(target: RedisTarget) {
  const { openRedis, openSubscriber } = await import("@gatehouse/redis");
  const { subscribeInvalidations } = await import("@gatehouse/guard");
  const subscriber = openSubscriber(target);
  const reader = openRedis(target);
  subscriber.on("error", () => {});
  reader.on("error", () => {});
  const invalidations = subscribeInvalidations(subscriber, {
    reader,
    onError: (e) => console.error(JSON.stringify({ msg: "invalidation channel not subscribed", err: e.message })),
  });
  // Lazy connections: the reader first, so the catch-up after subscribing finds it ready.
  void reader
    .connect()
    .catch(() => {})
    .then(() => subscriber.connect())
    .catch(() => {});
  return {
    invalidations,
    close() {
      subscriber.disconnect();
      reader.disconnect();
    },
  };
}

if (import.meta.main) {
  try {
    const s = await start();
    console.log(JSON.stringify({ msg: "example-api listening", port: s.port }));
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => void s.stop().then(() => process.exit(0)));
  } catch (e) {
    console.error(`example-api: ${(e as Error).message}`);
    process.exit((e as Error).message.startsWith("invalid configuration") ? 2 : 1);
  }
}

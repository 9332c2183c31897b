// Redis down at start-up, and killed while serving (a private redis-server, kill -9).
// The auth-service used to wait forever on its subscription before opening its ports
// (in Kubernetes: a restart loop until Redis returned). It must start, serve degraded
// (readiness 200, status "degraded", naming what is missing), and pick the
// invalidation channel up by itself when Redis comes back. The gateway alike.

import { INVALIDATION_CHANNEL } from "@gatehouse/contracts";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../../test/support/private-services.ts";
import { type PrivateRedis, privateRedis } from "../../../test/support/redis.ts";
import { routesFile, startGateway } from "../../gateway/test/harness.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser } from "./support.ts";

let redis: PrivateRedis;
let svc: Running;
let gw: Awaited<ReturnType<typeof startGateway>>;
const lines: string[] = [];

const within = <T>(ms: number, what: string, p: Promise<T>) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what} did not start within ${ms} ms`)), ms)),
  ]);

beforeAll(async () => {
  redis = await privateRedis();
  await redis.kill(); // down before anything starts
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await svc?.stop();
  await redis?.stop();
});

const ready = (base: string) => call("/health/ready", { base, contract: base !== gw?.url });

/** Publishes as another auth-service instance would. */
async function announce(msg: unknown): Promise<number> {
  const c = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await c.connect();
    return await c.publish(INVALIDATION_CHANNEL, JSON.stringify(msg));
  } finally {
    c.disconnect();
  }
}

describe("Redis down: start and serve degraded; the channel comes back by itself", () => {
  it("the auth-service and the gateway start without Redis, serve, and say what is missing", async () => {
    const t0 = Date.now();
    svc = await within(
      15_000,
      "the auth-service",
      startAuthService({ REDIS_URL: redis.url, LOG_LEVEL: "info" }, { logLines: lines }),
    );
    gw = await within(
      15_000,
      "the gateway",
      startGateway(
        routesFile(`
routes:
  - name: api
    match: { path: /v1/** }
    upstream: http://127.0.0.1:9
    auth: { accept: [session] }
`),
        { AUTH_SERVICE_URL: svc.url, TOKEN_ISSUER: "http://auth.in-process.test", REDIS_URL: redis.url },
      ),
    );
    console.log(`started without Redis in ${Date.now() - t0} ms`);

    const auth = await ready(svc.admin);
    expect(auth.status).toBe(200);
    expect(auth.body).toMatchObject({
      status: "degraded",
      checks: { postgres: true, kratos: true, redis: false, invalidations: false },
      missing: ["redis", "invalidations"],
    });
    const edge = await ready(gw.url);
    expect(edge.status).toBe(200);
    expect(edge.body).toMatchObject({
      status: "degraded",
      checks: { auth_service: true, kratos: true, redis: false, invalidations: false },
    });

    // Serving: a token from a live Kratos check, and the JWKS.
    const user = await newUser("redis-down");
    const t = await call("/v1/token", { base: svc.url, token: user.sessionToken, json: {} });
    expect(t.status).toBe(200);
    expect((await call("/.well-known/jwks.json", { base: svc.url })).status).toBe(200);
  });

  it("when Redis comes back, both subscribe by themselves and hear announcements; again after a kill -9", async () => {
    for (let round = 0; round < 2; round++) {
      if (round === 1) {
        await redis.kill();
        const degraded = await eventually(
          () => ready(svc.admin),
          (r) => r.body.status === "degraded",
          10_000,
        );
        expect(degraded.status).toBe(200);
        expect(degraded.body.checks).toMatchObject({ redis: false, invalidations: false });
      }
      const before = svc.app.bus.generation("someone");
      await redis.restart();
      const auth = await eventually(
        () => ready(svc.admin),
        (r) => r.body.status === "ok",
        20_000,
      );
      expect(auth.body).toMatchObject({ status: "ok", checks: { redis: true, invalidations: true }, missing: [] });
      const edge = await eventually(
        () => ready(gw.url),
        (r) => r.body.status === "ok",
        20_000,
      );
      expect(edge.body.checks).toMatchObject({ redis: true, invalidations: true });
      // Messages may have been missed while away: nothing cached before is trusted.
      expect(svc.app.bus.generation("someone")).not.toBe(before);

      // Another instance's announcement reaches this one (and the gateway: 2 subscribers).
      const id = crypto.randomUUID();
      const g0 = svc.app.bus.generation(id);
      expect(await announce({ t: "identity", id })).toBeGreaterThanOrEqual(2);
      await eventually(
        async () => svc.app.bus.generation(id),
        (g) => g !== g0,
        5_000,
      );
      expect(svc.app.bus.generation(id)).not.toBe(g0);
    }
    expect(lines.join("\n")).toContain("invalidation channel subscribed");
  }, 90_000);
});

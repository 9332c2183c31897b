// Redis Cluster (issue 13, item 8): three nodes from Debian's redis-server, an
// auth-service and two gateways configured with REDIS_CLUSTER_NODES. What a cluster
// refuses and a single server allows (a MULTI over keys in different slots, a SCAN that
// sees all keys) must not quietly degrade anything: the shared session cache is written,
// logouts reach the gateways and a gateway started later catches up on every revocation
// (spread over the primaries), the login lockout counts across gateway instances, and the
// invalidation subscriber moves to another node when its node dies, saying so.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startAuthService } from "../../apps/auth-service/test/in-process.ts";
import { call, newUser, type TestUser } from "../../apps/auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "../../apps/gateway/test/harness.ts";
import { subscribeInvalidations } from "../../packages/guard/src/index.ts";
import { openSubscriber, readRedisConfig } from "../../packages/redis/src/index.ts";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";
import { eventually } from "../support/private-services.ts";
import { ask, type RedisClusterNodes, redisCluster } from "../support/redis-ha.ts";

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let cluster: RedisClusterNodes;
let svc: Running;
const gateways: Gateway[] = [];
let upstream: Awaited<ReturnType<typeof echoUpstream>>;
let routes: string;
let redisEnv: Record<string, string>;

const gatewayEnv = () => ({
  ...redisEnv,
  AUTH_SERVICE_URL: svc.url,
  TOKEN_ISSUER: "http://auth.in-process.test",
  // No waiting between guesses: the lockout itself is what is tested.
  BRUTE_FORCE_DELAYS_MS: "0",
  LOGIN_FAILURE_FLOOR_MS: "0",
});

beforeAll(async () => {
  cluster = await redisCluster();
  redisEnv = { REDIS_URL: "", ...cluster.env };
  upstream = await echoUpstream();
  routes = routesFile(`
routes:
  - name: jwt
    match: { path: /api/** }
    upstream: ${upstream.url}
    auth: { accept: [jwt] }
`);
  svc = await startAuthService({ ...redisEnv, LOG_LEVEL: "warn" });
  gateways.push(await startGateway(routes, gatewayEnv()), await startGateway(routes, gatewayEnv()));
}, 120_000);

afterAll(async () => {
  for (const g of gateways) await g.stop();
  await svc?.stop();
  await upstream?.close();
  await cluster?.stop();
});

async function token(user: TestUser): Promise<string> {
  const r = await call("/v1/token", { base: svc.url, token: user.sessionToken, json: {} });
  if (r.status !== 200) throw new Error(`token exchange failed: ${r.status} ${r.text}`);
  return r.body.access_token as string;
}
const viaGateway = (g: Gateway, jwt: string) =>
  fetch(`${g.url}/api/x`, { headers: { authorization: `Bearer ${jwt}` } });
/** How many keys matching `pattern` each node holds. */
const keysPerNode = (pattern: string) =>
  Promise.all(cluster.ports.map(async (p) => (await ask<string[]>(p, "KEYS", pattern)).length));

describe("Redis Cluster: every Redis use works across slots and nodes", () => {
  it("both services are ready on the cluster, and the shared session cache is written", async () => {
    for (const base of [svc.admin, ...gateways.map((g) => g.url)]) {
      const ready = await eventually(
        async () => (await call("/health/ready", { base, contract: base === svc.admin })).body,
        (b) => b.status === "ok",
        30_000,
      );
      expect(ready.checks).toMatchObject({ redis: true, invalidations: true });
    }
    const user = await newUser("cluster-cache");
    await token(user);
    // The entry and its session's index: two keys in different slots, both written.
    const entries = await eventually(
      async () => [
        (await keysPerNode("gh:s:*")).reduce((a, b) => a + b),
        (await keysPerNode("gh:sk:*")).reduce((a, b) => a + b),
      ],
      ([s, sk]) => (s ?? 0) > 0 && (sk ?? 0) > 0,
      10_000,
    );
    expect(entries).toEqual([1, 1]);
  });

  it("logouts reach both gateways, and a gateway started later catches up on all of them from every primary", async () => {
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => newUser(`cluster-logout-${i}`)));
    const jwts = await Promise.all(users.map(token));
    for (const [i, u] of users.entries()) {
      expect((await call("/v1/logout", { base: svc.url, token: u.sessionToken, method: "POST" })).status).toBe(204);
      for (const g of gateways) {
        const r = await eventually(
          () => viaGateway(g, jwts[i] ?? ""),
          (a) => a.status === 401,
          10_000,
        );
        expect(((await r.json()) as { error: string }).error).toBe("session_revoked");
      }
    }
    // The markers are spread over the nodes (a SCAN of one node would miss some).
    const spread = await keysPerNode("gh:rv:*");
    expect(spread.reduce((a, b) => a + b)).toBe(users.length);
    console.log(`revocation markers per node: ${spread.join(", ")}`);
    expect(spread.filter((n) => n > 0).length, `markers per node: ${spread}`).toBeGreaterThan(1);

    const late = await startGateway(routes, gatewayEnv());
    try {
      for (const jwt of jwts) {
        const r = await eventually(
          () => viaGateway(late, jwt),
          (a) => a.status === 401,
          10_000,
        );
        expect(r.status).toBe(401);
      }
    } finally {
      await late.stop();
    }
  });

  it("the login lockout counts the guesses made through either gateway (one count in the cluster)", async () => {
    const email = uniqueEmail("cluster-bf");
    expect((await registerApi(stack(), { email })).status).toBe(200);
    const login = async (g: Gateway, password: string) => {
      const headers = { "x-forwarded-for": "10.13.0.1", accept: "application/json" };
      const flow = (await (await fetch(`${g.url}/self-service/login/api`, { headers })).json()) as { id: string };
      const r = await fetch(`${g.url}/self-service/login?flow=${flow.id}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ method: "password", identifier: email, password }),
      });
      await r.arrayBuffer();
      return r.status;
    };
    const [a, b] = gateways as [Gateway, Gateway];
    // Five wrong guesses (the default limit), three through one gateway and two through the other.
    for (const g of [a, b, a, b, a]) expect(await login(g, "wrong-password-000")).toBe(400);
    // Counted per instance, neither would have reached five: the right password would pass.
    expect(await login(b, PASSWORD)).toBe(429);
    expect(await login(a, PASSWORD)).toBe(429);
  });

  it("when the subscriber's node dies, it says so, moves to another node and hears announcements there", async () => {
    const r = readRedisConfig(redisEnv, { required: true });
    if (!("target" in r) || !r.target) throw new Error("no cluster target");
    const subscriber = openSubscriber(r.target);
    subscriber.on("error", () => {});
    const log = subscribeInvalidations(subscriber);
    try {
      await subscriber.connect();
      await eventually(async () => log.listening, Boolean, 10_000);
      // A token issued after the first subscription (which counts all earlier ones stale)…
      const issuedAtSec = Math.floor(Date.now() / 1000) + 1;
      await new Promise((r) => setTimeout(r, issuedAtSec * 1000 - Date.now() + 50));
      expect(log.isStale("someone", "some-session", issuedAtSec)).toBe(false);
      // It starts on the first node listed.
      await cluster.kill(0);
      await eventually(async () => !log.listening, Boolean, 10_000);
      await eventually(async () => log.listening, Boolean, 20_000);
      // …counts as stale once it has moved: messages may have been missed meanwhile.
      expect(log.isStale("someone", "some-session", issuedAtSec)).toBe(true);
      // An announcement published on another node reaches it.
      const sid = crypto.randomUUID();
      await ask(
        cluster.ports[2] as number,
        "PUBLISH",
        "gatehouse:invalidate",
        JSON.stringify({ t: "session", sid, until: Date.now() + 60_000 }),
      );
      expect(await eventually(async () => log.isRevoked(sid), Boolean, 10_000)).toBe(true);
    } finally {
      subscriber.disconnect();
    }
  });
});

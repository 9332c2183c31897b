// Redis behind Sentinel, failed over under load (issue 13, item 8): a primary, a replica
// and three sentinels from Debian's binaries, an auth-service and a gateway configured
// with REDIS_SENTINELS. While signed-in users keep exchanging tokens and calling through
// the gateway, the primary is failed over twice: by `SENTINEL FAILOVER`, then by kill -9.
// Nobody is signed out (no 401, at most a 503 that says when to retry); both services find
// the new primary and subscribe again by themselves within the documented bound
// (deploy/README.md "Redis: Sentinel and Cluster"); a logout after the failover reaches the
// gateway, and a revocation written before it survives it (a gateway started afterwards
// catches up on it from the new primary); the killed server rejoins as a replica.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startAuthService } from "../../apps/auth-service/test/in-process.ts";
import { call, newUser, type TestUser } from "../../apps/auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "../../apps/gateway/test/harness.ts";
import { readRedisConfig } from "../../packages/redis/src/config.ts";
import { openRedis } from "../../packages/redis/src/index.ts";
import { eventually } from "../support/private-services.ts";
import { ask, type SentinelGroup, sentinelGroup } from "../support/redis-ha.ts";

/** deploy/README.md: every instance hears invalidations again this soon after the sentinels name a new primary. */
const RESUBSCRIBED_WITHIN_MS = 10_000;

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let group: SentinelGroup;
let svc: Running;
let gw: Gateway;
let late: Gateway | undefined;
let upstream: Awaited<ReturnType<typeof echoUpstream>>;
let routes: string;
let redisEnv: Record<string, string>;

beforeAll(async () => {
  group = await sentinelGroup();
  redisEnv = { REDIS_URL: "", ...group.env };
  upstream = await echoUpstream();
  routes = routesFile(`
routes:
  - name: session
    match: { path: /v1/** }
    upstream: ${upstream.url}
    auth: { accept: [session] }
  - name: jwt
    match: { path: /api/** }
    upstream: ${upstream.url}
    auth: { accept: [jwt] }
`);
  // Every test client is 127.0.0.1: the per-client limit would turn the load into 429s.
  svc = await startAuthService({ ...redisEnv, LOG_LEVEL: "warn", RATE_LIMIT_PER_MINUTE: "1000000" });
  gw = await startGateway(routes, {
    ...redisEnv,
    AUTH_SERVICE_URL: svc.url,
    TOKEN_ISSUER: "http://auth.in-process.test",
  });
}, 120_000);

afterAll(async () => {
  await late?.stop();
  await gw?.stop();
  await svc?.stop();
  await upstream?.close();
  await group?.stop();
});

const readiness = async (base: string) => (await call("/health/ready", { base, contract: base !== gw.url })).body;
/** Both services use Redis and hear the invalidation channel again. */
async function bothListening(): Promise<void> {
  for (const base of [svc.admin, gw.url]) {
    await eventually(
      () => readiness(base),
      (b) => b.status === "ok",
      60_000,
    );
  }
}

/** Signed-in users calling both services until stopped; every answer is counted. */
function steadyLoad(users: TestUser[]) {
  const counts = new Map<string, number>();
  const wrong: string[] = [];
  let running = true;
  const note = async (what: string, ask: () => Promise<Response>) => {
    try {
      const r = await ask();
      await r.arrayBuffer();
      counts.set(`${what} ${r.status}`, (counts.get(`${what} ${r.status}`) ?? 0) + 1);
      // A dependency outage may be a 503 that says when to retry; anything else is wrong.
      if (r.status !== 200 && !(r.status === 503 && r.headers.get("retry-after")))
        wrong.push(`${what}: ${r.status} ${r.headers.get("retry-after") ?? ""}`);
    } catch (e) {
      wrong.push(`${what}: ${(e as Error).message}`);
    }
  };
  const loop = (async () => {
    while (running) {
      await Promise.all(
        users.flatMap((u) => [
          note("exchange", () =>
            fetch(`${svc.url}/v1/token`, {
              method: "POST",
              headers: { "x-session-token": u.sessionToken, "content-type": "application/json" },
              body: "{}",
            }),
          ),
          note("gateway", () => fetch(`${gw.url}/v1/x`, { headers: { "x-session-token": u.sessionToken } })),
        ]),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { counts: Object.fromEntries(counts), wrong };
    },
  };
}

/** A JWT from this file's auth-service. */
async function token(user: TestUser): Promise<string> {
  const r = await call("/v1/token", { base: svc.url, token: user.sessionToken, json: {} });
  if (r.status !== 200) throw new Error(`token exchange failed: ${r.status} ${r.text}`);
  return r.body.access_token as string;
}

const sidOf = (jwt: string): string =>
  (JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as { sid: string }).sid;
const viaGateway = (g: Gateway, jwt: string) =>
  fetch(`${g.url}/api/x`, { headers: { authorization: `Bearer ${jwt}` } });

describe("Redis through Sentinel: failovers under load sign nobody out, and the system heals by itself", () => {
  it("starts on the primary the sentinels name, and is fully ready", async () => {
    await bothListening();
    const user = await newUser("sentinel-start");
    expect((await call("/v1/token", { base: svc.url, token: user.sessionToken, json: {} })).status).toBe(200);
    // The shared session cache is written on the primary (and so reaches the replica).
    const primary = await group.primaryPort();
    const keys = await eventually(
      () => ask<string[]>(primary, "KEYS", "gh:s:*"),
      (k) => k.length > 0,
      10_000,
    );
    expect(keys.length).toBeGreaterThan(0);
  });

  it("SENTINEL FAILOVER, then kill -9 of the primary: no 401, resubscribed within the bound, invalidations delivered", async () => {
    const users = await Promise.all([1, 2, 3].map((i) => newUser(`sentinel-load-${i}`)));
    const load = steadyLoad(users);
    try {
      for (const how of ["SENTINEL FAILOVER", "kill -9"] as const) {
        const tag = how === "kill -9" ? "kill" : "failover";
        // A revocation made before the failover: its marker must survive it.
        const before = await newUser(`sentinel-before-${tag}`);
        const beforeJwt = await token(before);
        expect((await call("/v1/logout", { base: svc.url, token: before.sessionToken, method: "POST" })).status).toBe(
          204,
        );
        const victim = await newUser(`sentinel-victim-${tag}`);
        const jwt = await token(victim);
        expect((await viaGateway(gw, jwt)).status).toBe(200);

        // A user who logs out while it happens: a 503 that says when to retry is fair, and
        // the retry must work (the session must not be gone at Kratos while unannounced).
        const leaving = await newUser(`sentinel-leaving-${tag}`);
        const leavingJwt = await token(leaving);
        await new Promise((r) => setTimeout(r, 500)); // load before the failover, too
        const t0 = Date.now();
        const failingOver = how === "kill -9" ? group.killPrimary() : group.failover();
        const logoutAnswers: string[] = [];
        for (let i = 0; i < 100; i++) {
          const r = await call("/v1/logout", { base: svc.url, token: leaving.sessionToken, method: "POST" });
          logoutAnswers.push(`${r.status}${r.headers.get("retry-after") ? " retry-after" : ""}`);
          if (r.status !== 503) break;
          await new Promise((res) => setTimeout(res, 200));
        }
        const { from, to } = await failingOver;
        const promoted = Date.now();
        console.log(`${how}: a logout during the failover was answered ${logoutAnswers.join(", ")}`);
        expect(logoutAnswers.at(-1)).toBe("204");
        expect(logoutAnswers.slice(0, -1).every((a) => a === "503 retry-after")).toBe(true);
        expect(to).not.toBe(from);
        await bothListening();
        const resubscribedMs = Date.now() - promoted;
        console.log(
          `${how}: sentinels named ${to} (was ${from}) ${promoted - t0} ms after the start; both services subscribed again ${resubscribedMs} ms later`,
        );
        expect(resubscribedMs).toBeLessThan(RESUBSCRIBED_WITHIN_MS);

        // A logout now reaches the gateway over the new primary's channel.
        const t1 = Date.now();
        expect((await call("/v1/logout", { base: svc.url, token: victim.sessionToken, method: "POST" })).status).toBe(
          204,
        );
        const refused = await eventually(
          () => viaGateway(gw, jwt),
          (r) => r.status === 401,
          RESUBSCRIBED_WITHIN_MS,
        );
        expect(((await refused.json()) as { error: string }).error).toBe("session_revoked");
        console.log(`${how}: a logout after the failover reached the gateway in ${Date.now() - t1} ms`);
        // So did the one made during it.
        const leftRefused = await eventually(
          () => viaGateway(gw, leavingJwt),
          (r) => r.status === 401,
          RESUBSCRIBED_WITHIN_MS,
        );
        expect(leftRefused.status).toBe(401);

        // The revocation made before the failover is on the new primary: a gateway that
        // starts only now (or was away) catches up on it.
        await late?.stop();
        late = await startGateway(routes, {
          ...redisEnv,
          AUTH_SERVICE_URL: svc.url,
          TOKEN_ISSUER: "http://auth.in-process.test",
        });
        const lateGw = late;
        const caughtUp = await eventually(
          () => viaGateway(lateGw, beforeJwt),
          (r) => r.status === 401,
          RESUBSCRIBED_WITHIN_MS,
        );
        expect(caughtUp.status, `the revocation of ${sidOf(beforeJwt)} survived the failover`).toBe(401);

        // Recovery unaided: the former primary replicates the new one (the killed one once
        // it is started again), so the group can take the next failover.
        if (how === "kill -9") await group.restart(from);
        await group.settled();
        expect(await ask<unknown[]>(from, "ROLE").then((r) => `${r[0]}:${r[2]}`)).toBe(`slave:${to}`);
      }
    } finally {
      const { counts, wrong } = await load.stop();
      console.log(`answers under load during both failovers: ${JSON.stringify(counts)}`);
      expect([...new Set(wrong)], "no 401, no 5xx other than a 503 with Retry-After").toEqual([]);
      expect(Object.keys(counts).some((k) => k.endsWith(" 401"))).toBe(false);
    }
  }, 240_000);

  it("a connection ioredis gives up mid-failover connects again by itself; one the app closed stays closed", async () => {
    const read = readRedisConfig(group.env, { required: true });
    if (!("target" in read) || !read.target) throw new Error("the group's env names no Redis");
    const client = openRedis(read.target) as Redis;
    client.on("error", () => {}); // the failures below are the point
    await client.connect();
    expect(await client.ping()).toBe("PONG");
    // What ioredis' failover detector does on +switch-master: stop the connector. When
    // that lands while a reconnect is resolving the primary, ioredis ends the connection
    // for good ("Connection is closed."). Reproduced here on the real group: reconnect,
    // and stop the connector the moment the new connect starts (ioredis internals).
    const connector = (client as unknown as { connector: { disconnect(): void } }).connector;
    const ended = new Promise((r) => client.once("end", r));
    client.once("connecting", () => connector.disconnect());
    client.disconnect(true);
    await ended;
    const back = await eventually(
      () => client.ping().catch((e: Error) => e.message),
      (r) => r === "PONG",
      10_000,
    );
    expect(back).toBe("PONG");
    await client.quit();
    await new Promise((r) => setTimeout(r, 2_500)); // longer than the longest reconnect delay
    expect(client.status).toBe("end");
  });
});

// Postgres killed (kill -9, postmaster and backends) five times under concurrent write
// load. The auth-service runs as a child process on a private Postgres, so a crash is
// an exit this test sees: during each outage it answers 503 + Retry-After in the usual
// error shape, after it 2xx again, without a restart.
import { randomBytes } from "node:crypto";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerApi, stack, uniqueEmail } from "../../../test/support/kratos.ts";
import {
  type ChildService,
  childService,
  eventually,
  type PrivatePostgres,
  privatePostgres,
  privateStackConfig,
} from "../../../test/support/private-services.ts";
import { InvalidationBus } from "../src/cache/bus.ts";
import { createDb } from "../src/db/index.ts";
import { DependencyUnavailableError } from "../src/domain/errors.ts";
import { KeyStore } from "../src/keys/store.ts";

let pg: PrivatePostgres;
let svc: ChildService;
let base: string;
const kekHex = randomBytes(32).toString("hex");

beforeAll(async () => {
  const cfg = await privateStackConfig("pgkill");
  pg = await privatePostgres(cfg);
  const s = stack();
  base = `http://127.0.0.1:${cfg.ports.authPublic}`;
  const admin = `http://127.0.0.1:${cfg.ports.authAdmin}`;
  svc = await childService(
    "apps/auth-service/src/main.ts",
    {
      AUTH_HOST: "127.0.0.1",
      AUTH_PUBLIC_PORT: String(cfg.ports.authPublic),
      AUTH_ADMIN_PORT: String(cfg.ports.authAdmin),
      DATABASE_URL: pg.url,
      REDIS_URL: s.env.REDIS_URL ?? "",
      KRATOS_PUBLIC_URL: s.kratosPublic,
      KRATOS_ADMIN_URL: s.kratosAdmin,
      TOKEN_ISSUER: "http://auth.pgkill.test",
      SIGNING_KEY_KEK: kekHex,
      WEBHOOK_SECRET: "pgkill-webhook-secret-000000000000000000",
      ADMIN_API_TOKEN: "pgkill-admin-token-00000000000000000000",
      MIGRATE_ON_START: "true",
      RATE_LIMIT_PER_MINUTE: "1000000",
      // Short, so an outage outlasts a cached token's reuse (3/4 of 30 s) and the key reload interval.
      TOKEN_TTL_SECONDS: "30",
      SIGNING_KEYS_RELOAD_SECONDS: "1",
      LOG_LEVEL: "info",
    },
    async () => (await fetch(`${admin}/health/alive`)).ok,
  );
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  await pg?.stop();
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function post(path: string, token: string, json: unknown): Promise<Answer> {
  try {
    const r = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-session-token": token },
      body: JSON.stringify(json),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await r.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { status: r.status, retryAfter: r.headers.get("retry-after"), body };
  } catch (e) {
    // No answer at all: the process died or hung. Recorded as status 0.
    return { status: 0, retryAfter: null, body: { error: (e as Error).message } };
  }
}

describe("auth-service under write load while Postgres is killed five times", () => {
  it("answers 503 + Retry-After during each outage, 2xx after, and never exits", async () => {
    // Owners of an organization each, created while Postgres is up.
    const owners = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const r = await registerApi(stack(), { email: uniqueEmail("pgkill") });
        const token = r.body.session_token ?? "";
        const org = await post("/v1/onboarding", token, { name: "Kill test" });
        expect(org.status).toBe(201);
        return { token, orgId: (org.body.organization as { id: string }).id };
      }),
    );

    const seen = new Map<number, number>();
    const during: Answer[] = [];
    let phase: "up" | "down" = "up";
    let running = true;
    let n = 0;
    const worker = async (w: number) => {
      const o = owners[w % owners.length] as (typeof owners)[number];
      while (running) {
        const startedDown = phase === "down";
        const a =
          w % 4 === 3
            ? await post("/v1/token", o.token, {})
            : await post(`/v1/organizations/${o.orgId}/teams`, o.token, { name: `team ${n++}` });
        seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
        // Only requests sent after the kill and answered before the restart began.
        if (startedDown && phase === "down") during.push(a);
        if (a.status !== 201 && a.status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
    };
    const workers = Array.from({ length: 12 }, (_, i) => worker(i));

    const recoveries: number[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        // Load runs against a healthy database for a moment, then Postgres dies mid-transaction.
        await new Promise((r) => setTimeout(r, 700));
        during.length = 0;
        phase = "down";
        await pg.kill();
        const o = owners[0] as (typeof owners)[number];
        const outage = await eventually(
          () => post(`/v1/organizations/${o.orgId}/teams`, o.token, { name: `during outage ${n++}` }),
          (a) => a.status === 503,
          15_000,
        );
        expect(svc.exited(), svc.output().slice(-3000)).toBeUndefined();
        expect(outage.status).toBe(503);
        expect(outage.retryAfter).toMatch(/^\d+$/);
        expect(outage.body).toMatchObject({ error: "dependency_unavailable" });
        expect(typeof outage.body.message).toBe("string");
        expect(typeof outage.body.request_id).toBe("string");
        await new Promise((r) => setTimeout(r, 500));
        // Everything answered while the database was gone is a 503 with Retry-After
        // (or, for a token exchange served from memory, a 200).
        for (const a of during) {
          expect([200, 503], JSON.stringify(a)).toContain(a.status);
          if (a.status === 503) expect(a.retryAfter).toMatch(/^\d+$/);
        }
        expect(svc.exited()).toBeUndefined();

        const t0 = Date.now();
        phase = "up";
        await pg.restart();
        const back = await eventually(
          () => post(`/v1/organizations/${o.orgId}/teams`, o.token, { name: `after outage ${n++}` }),
          (a) => a.status === 201,
          30_000,
        );
        expect(back.status).toBe(201);
        recoveries.push(Date.now() - t0);
      }
    } finally {
      running = false;
      await Promise.all(workers);
    }

    console.log(
      `postgres kill x5: answers by status ${JSON.stringify(Object.fromEntries(seen))}; ` +
        `restart-to-201 ${recoveries.map((ms) => `${ms} ms`).join(", ")}`,
    );
    expect(svc.exited()).toBeUndefined();
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining([201, 503]));
    for (const status of seen.keys()) expect([200, 201, 503]).toContain(status);
    const out = svc.output();
    expect(out).not.toMatch(/Unhandled 'error' event|uncaughtException|unhandledRejection/);
    // The broken connections were seen (and handled), not missed.
    expect(out).toContain("postgres connection lost");
    // No session token reaches a log line, on any error path.
    for (const o of owners) expect(out).not.toContain(o.token);
  }, 240_000);
});

describe("signing keys during a Postgres outage", () => {
  it("the JWKS is served from memory, and tokens are still signed with the key in memory, capped to when it is sure to be published", async () => {
    const r = await registerApi(stack(), { email: uniqueEmail("pgkill-keys") });
    const token = r.body.session_token ?? "";
    const first = await post("/v1/token", token, {});
    expect(first.status).toBe(200);
    const jwks = async () => {
      const res = await fetch(`${base}/.well-known/jwks.json`);
      return { status: res.status, cache: res.headers.get("cache-control"), body: await res.text() };
    };
    const before = await jwks();
    expect(before.status).toBe(200);

    const killedAt = Date.now();
    await pg.kill();
    try {
      // Past the reload interval (1 s): the reload fails, the set in memory is served.
      await new Promise((r) => setTimeout(r, 1_500));
      for (let i = 0; i < 3; i++) {
        const during = await jwks();
        expect(during.status).toBe(200);
        expect(during.body).toBe(before.body);
        expect(during.cache).toBe(before.cache);
      }
      // Once the first token may no longer be reused (3/4 of its 30 s), a new one is
      // signed: session and roles are cached, the key is in memory.
      const firstJwt = first.body.access_token as string;
      const reuseEnds = (decodeJwt(firstJwt).iat ?? 0) * 1000 + 23_000;
      await new Promise((r) => setTimeout(r, Math.max(0, reuseEnds - Date.now())));
      const again = await post("/v1/token", token, {});
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      const jwt = again.body.access_token as string;
      expect(jwt).not.toBe(firstJwt);
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(JSON.parse(before.body)), {
        issuer: "http://auth.pgkill.test",
        audience: "gatehouse",
      });
      // Its key was read before the kill; it stays published at least 30 + 30 s after that.
      expect(payload.exp).toBeLessThanOrEqual(Math.floor(killedAt / 1000) + 60);
      expect(svc.exited()).toBeUndefined();
    } finally {
      await pg.restart();
    }
    expect(
      (
        await eventually(
          () => post("/v1/token", token, {}),
          (a) => a.status === 200,
        )
      ).status,
    ).toBe(200);
    expect(svc.output()).toContain("signing keys could not be reloaded; serving the ones in memory");
  }, 120_000);

  it("the key in memory stops signing (503) once its tokens could outlive its publication", async () => {
    const db = createDb(pg.url, { max: 2 });
    const log = pino({ level: "silent" });
    const keys = new KeyStore({
      db,
      kek: Buffer.from(kekHex, "hex"), // the service's: the keys in the database are its

      policy: { alg: "ES256", tokenTtlSec: 60, publishLeadSec: 300, leewaySec: 30 },
      reloadEveryMs: 1_000,
      bus: new InvalidationBus(log),
      log,
    });
    let killed = false;
    try {
      await keys.ensureActiveKey({ actor: "test" });
      const loaded = Date.now();
      await pg.kill();
      killed = true;
      await new Promise((r) => setTimeout(r, 1_200));
      // Still signing, with the key read before the kill.
      const signer = await keys.signer();
      expect(signer.kid).toBe(keys.activeKid);
      expect(keys.verifiableUntilSec).toBeLessThanOrEqual(Math.floor(loaded / 1000 + 90));
      expect((await keys.jwks()).keys.map((k) => k.kid)).toContain(signer.kid);
      // 61 s later (the clock moved; the database is still gone): tokens would have under 30 s left.
      const realNow = Date.now;
      Date.now = () => realNow() + 61_000;
      try {
        await expect(keys.signer()).rejects.toBeInstanceOf(DependencyUnavailableError);
        // The key set itself is still served.
        expect((await keys.jwks()).keys.map((k) => k.kid)).toContain(signer.kid);
      } finally {
        Date.now = realNow;
      }
    } finally {
      if (killed) await pg.restart();
      await db.destroy();
    }
  }, 60_000);
});

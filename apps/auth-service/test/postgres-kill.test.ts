// Postgres killed (kill -9, postmaster and backends) five times under concurrent write
// load. The auth-service runs as a child process on a private Postgres, so a crash is
// an exit this test sees: during each outage it answers 503 + Retry-After in the usual
// error shape, after it 2xx again, without a restart.
import { randomBytes } from "node:crypto";
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

let pg: PrivatePostgres;
let svc: ChildService;
let base: string;

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
      SIGNING_KEY_KEK: randomBytes(32).toString("hex"),
      WEBHOOK_SECRET: "pgkill-webhook-secret-000000000000000000",
      ADMIN_API_TOKEN: "pgkill-admin-token-00000000000000000000",
      MIGRATE_ON_START: "true",
      RATE_LIMIT_PER_MINUTE: "1000000",
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

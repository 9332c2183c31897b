// Real outages: this file starts its own Postgres, Redis and Kratos processes
// (the same code as `pnpm stack`), kills them, and brings them back.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { registerApi, uniqueEmail } from "../../../test/support/kratos.ts";
import { PORT_OFFSETS, type StackConfig, stackConfig } from "../../../tools/stack/config.ts";
import { kratos, postgres, redis, wipeData } from "../../../tools/stack/services.ts";
import { portFree, stopProcess } from "../../../tools/stack/supervisor.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { call } from "./support.ts";

async function freeConfig(): Promise<StackConfig> {
  // Below the ephemeral range (32768+), so no outgoing connection can take a port between the check and the bind.
  for (let base = 28_000 + (process.pid % 19) * 100; base < 29_900; base += 100) {
    if ((await Promise.all(Object.values(PORT_OFFSETS).map((o) => portFree(base + o)))).every(Boolean)) {
      return stackConfig("fault", { basePort: base, ephemeral: false, domain: "gatehouse.test" });
    }
  }
  throw new Error("no free ports");
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > end) return last;
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

let cfg: StackConfig;
const pids: Record<string, number> = {};
let svc: Running;

beforeAll(async () => {
  cfg = await freeConfig();
  pids.postgres = (await postgres.start(cfg)).pid;
  pids.redis = (await redis.start(cfg)).pid;
  // A second Kratos on the shared Kratos database: sessions from the test stack's
  // Kratos are valid here, and this one can be killed without disturbing other tests.
  process.env.KRATOS_DATABASE_URL = inject("stack").KRATOS_DATABASE_URL;
  pids.kratos = (await kratos.start(cfg)).pid;
  svc = await startAuthService({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${cfg.ports.postgres}/gatehouse?sslmode=disable`,
    REDIS_URL: `redis://127.0.0.1:${cfg.ports.redis}`,
    KRATOS_PUBLIC_URL: `http://127.0.0.1:${cfg.ports.kratosPublic}`,
    KRATOS_ADMIN_URL: `http://127.0.0.1:${cfg.ports.kratosAdmin}`,
    SESSION_CACHE_TTL_SECONDS: "0",
  });
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  for (const pid of Object.values(pids)) await stopProcess(pid);
  wipeData(cfg);
});

const newSession = async () => {
  const r = await registerApi(
    {
      kratosPublic: `http://127.0.0.1:${cfg.ports.kratosPublic}`,
    } as never,
    { email: uniqueEmail("fault") },
  );
  return r.body.session_token ?? "";
};
const exchange = (t: string) => call("/v1/token", { base: svc.url, token: t, json: {} });

function expectUnavailable(r: Awaited<ReturnType<typeof exchange>>) {
  expect(r.status).toBe(503);
  expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
  expect(r.body).toMatchObject({ error: "dependency_unavailable" });
  expect(r.body.access_token).toBeUndefined();
}

describe("dependency outages: 503 + Retry-After, never a 401 or a token with empty roles; recovery by itself", () => {
  it("Kratos down", async () => {
    const t = await newSession();
    expect((await exchange(t)).status).toBe(200);
    await stopProcess(pids.kratos ?? 0);
    expectUnavailable(await exchange(t));
    const ready = await call("/health/ready", { base: svc.url });
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ kratos: false, postgres: true, redis: true });
    pids.kratos = (await kratos.start(cfg)).pid;
    expect(
      (
        await eventually(
          () => exchange(t),
          (r) => r.status === 200,
        )
      ).status,
    ).toBe(200);
  });

  it("Postgres down", async () => {
    const t = await newSession();
    await stopProcess(pids.postgres ?? 0);
    // A user never seen before needs the database for roles: no token without them.
    expectUnavailable(await exchange(t));
    const hook = await call("/v1/webhooks/kratos/registration", {
      base: svc.admin,
      json: { identity_id: crypto.randomUUID(), email: uniqueEmail() },
      headers: { "x-gatehouse-webhook-secret": "in-process-webhook-secret-00000000000000" },
    });
    expect(hook.status).toBe(503); // so Kratos retries
    pids.postgres = (await postgres.start(cfg)).pid;
    expect(
      (
        await eventually(
          () => exchange(t),
          (r) => r.status === 200,
        )
      ).status,
    ).toBe(200);
  });

  it("Redis down: tokens still minted from a live Kratos check; revocation checks fail closed", async () => {
    const t = await newSession();
    const jwt = (await exchange(t)).body.access_token as string;
    const introspect = () =>
      call("/admin/introspect", {
        base: svc.admin,
        json: { token: jwt },
        headers: { authorization: `Bearer ${svc.adminToken}` },
      });
    expect((await introspect()).body.active).toBe(true);
    await stopProcess(pids.redis ?? 0);
    const t2 = await newSession();
    expect((await exchange(t2)).status).toBe(200);
    const closed = await introspect();
    expect(closed.status).toBe(503);
    expect(closed.headers.get("retry-after")).toBeTruthy();
    pids.redis = (await redis.start(cfg)).pid;
    expect((await eventually(introspect, (r) => r.status === 200)).body.active).toBe(true);
  });
});

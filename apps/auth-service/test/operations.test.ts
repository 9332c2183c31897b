import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { expectCleanDrain } from "../../../test/support/keepalive-load.ts";
import { childService } from "../../../test/support/private-services.ts";
import { freePort } from "../../../test/support/redis.ts";
import { freshDatabase, type Running, startAuthService } from "./in-process.ts";
import { call, newUser } from "./support.ts";

let svc: Running;
beforeAll(async () => {
  svc = await startAuthService({ RATE_LIMIT_PER_MINUTE: "5" });
});
afterAll(() => svc.stop().catch(() => {}));

describe("users the webhook never reached", () => {
  it("get their record on the first token exchange, once, however often they exchange", async () => {
    // This instance has its own database: Kratos' webhook goes to the stack's auth-service, never here.
    const own = await startAuthService();
    const u = await newUser("no-webhook");
    const db = new pg.Client({ connectionString: own.databaseUrl });
    await db.connect();
    try {
      expect((await db.query("select 1 from users where identity_id = $1", [u.identityId])).rowCount).toBe(0);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => call("/v1/token", { base: own.url, token: u.sessionToken, json: {} })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      const rows = await db.query("select email from users where identity_id = $1", [u.identityId]);
      expect(rows.rows).toEqual([{ email: u.email }]);
      const audit = await db.query(
        "select count(*)::int as n from audit_log where target_id = $1 and action = 'user.created'",
        [u.identityId],
      );
      expect(audit.rows[0].n).toBe(1);
    } finally {
      await db.end();
      await own.stop();
    }
  });
});

describe("operations", () => {
  it("rate-limits the token endpoint per client with 429 + Retry-After", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 7; i++) {
      last = await call("/v1/token", { base: svc.url, headers: { "x-session-token": "ory_st_nope" }, json: {} });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect(last?.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last?.body).toMatchObject({ error: "rate_limited" });
  });

  it("counts each caller, not the guard in front of them: one user's flood leaves another's exchanges alone", async () => {
    // Both come from this process (loopback, trusted as a proxy by default) without
    // X-Forwarded-For: what tells them apart is their credential.
    const a = await newUser("limit-a");
    const b = await newUser("limit-b");
    const ask = (u: typeof a, headers: Record<string, string> = {}) =>
      call("/v1/token", { base: svc.url, token: u.sessionToken, json: {}, headers });
    const flood: number[] = [];
    for (let i = 0; i < 6; i++) flood.push((await ask(a)).status);
    expect(flood).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await ask(b)).status).toBe(200);
  });

  it("counts the end client a trusted guard names, whatever credentials it tries", async () => {
    const from = (ip: string, i: number) =>
      call("/v1/token", {
        base: svc.url,
        headers: { "x-session-token": `ory_st_guess${ip.replace(/\./g, "")}n${i}`, "x-forwarded-for": ip },
        json: {},
      });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await from("203.0.113.7", i)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await from("203.0.113.8", 0)).status).toBe(401);
  });

  it("an untrusted caller's X-Forwarded-For counts for nothing: it is limited by its own address", async () => {
    const strict = await startAuthService({ RATE_LIMIT_PER_MINUTE: "5", TRUST_PROXY: "10.9.9.9" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await call("/v1/token", {
          base: strict.url,
          headers: { "x-session-token": `ory_st_spoof${i}`, "x-forwarded-for": `198.51.100.${i}` },
          json: {},
        });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    } finally {
      await strict.stop();
    }
  });

  it("remembers Kratos' 'not a session' for a moment, so the same bad cookie does not reach Kratos again", async () => {
    const denied = async () => {
      const text = await (await fetch(`${svc.admin}/metrics`)).text();
      const m = /gatehouse_session_cache_total\{result="denied",tier="memory"\} (\d+)/.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await denied();
    const bad = {
      "x-session-token": `ory_st_negative${crypto.randomUUID().replace(/-/g, "")}`,
      "x-forwarded-for": "203.0.113.50",
    };
    for (let i = 0; i < 3; i++)
      expect((await call("/v1/token", { base: svc.url, headers: bad, json: {} })).status).toBe(401);
    expect((await denied()) - before).toBe(2);
  });

  it("serves its OpenAPI document at /openapi.json without credentials, cacheable, the same as the committed copy", async () => {
    const r = await call("/openapi.json", { base: svc.url });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("public, max-age=300");
    const committed: unknown = JSON.parse(readFileSync(resolve(import.meta.dirname, "../openapi.json"), "utf8"));
    expect(r.body).toEqual(committed);
  });

  it("exposes Prometheus metrics on the admin listener only", async () => {
    const m = await fetch(`${svc.admin}/metrics`);
    expect(m.status).toBe(200);
    const text = await m.text();
    for (const series of [
      "gatehouse_http_request_duration_seconds_bucket",
      "gatehouse_session_cache_total",
      "gatehouse_tokens_minted_total",
      "gatehouse_webhook_total",
    ]) {
      expect(text).toContain(series);
    }
    expect(text).toMatch(
      /gatehouse_http_request_duration_seconds_count\{listener="public",method="POST",route="\/v1\/token",status="401"\} \d+/,
    );
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(404);
  });

  it("logs never contain a session token, cookie or JWT", async () => {
    const lines: string[] = [];
    const logged = await startAuthService({ LOG_LEVEL: "debug" }, { logLines: lines });
    try {
      const u = await newUser("logs");
      const r = await call("/v1/token", {
        base: logged.url,
        token: u.sessionToken,
        json: {},
        headers: { cookie: "ory_kratos_session=secretcookievalue123" },
      });
      expect([200, 400, 401]).toContain(r.status);
      const t = await call("/v1/token", { base: logged.url, token: u.sessionToken, json: {} });
      await call("/v1/nope", { base: logged.url, headers: { authorization: `Bearer ${t.body.access_token}` } });
      const all = lines.join("");
      expect(all).not.toContain(u.sessionToken);
      expect(all).not.toContain("secretcookievalue123");
      expect(all).not.toContain(String(t.body.access_token).slice(20, 60));
      // The capture works: the requests were logged.
      expect(lines.filter((l) => l.includes('"route":"/v1/token"')).length).toBeGreaterThanOrEqual(2);
    } finally {
      await logged.stop();
    }
  });

  it("graceful shutdown finishes the request in flight and refuses new connections", async () => {
    const own = await startAuthService();
    const u = await newUser("drain");
    const port = Number(new URL(own.url).port);
    // Start a request and hold back the end of its body, so it is in flight during stop().
    const body = JSON.stringify({});
    const sock = connect(port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    let answer = "";
    sock.on("data", (d) => {
      answer += d.toString();
    });
    const ended = new Promise<void>((r) => sock.once("close", () => r()));
    sock.write(
      `POST /v1/token HTTP/1.1\r\nHost: x\r\nX-Session-Token: ${u.sessionToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopping = own.stop();
    await new Promise((r) => setTimeout(r, 100));
    // A real client keeps its side open until it has the answer (no early FIN).
    sock.write(body);
    await stopping;
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain("access_token");
    await expect(fetch(`${own.url}/health/alive`)).rejects.toThrow();
  });

  it("graceful shutdown under keep-alive load (the real process, SIGTERM): readiness 503 at once, no reset, no lost request, exits by itself within the grace period", async () => {
    const u = await newUser("drain-load");
    const [publicPort, adminPort] = [await freePort(), await freePort()];
    const stack = inject("stack");
    const graceSec = 10;
    const svc = await childService(
      "apps/auth-service/src/main.ts",
      {
        AUTH_HOST: "127.0.0.1",
        AUTH_PUBLIC_PORT: String(publicPort),
        AUTH_ADMIN_PORT: String(adminPort),
        DATABASE_URL: await freshDatabase(),
        REDIS_URL: stack.REDIS_URL ?? "",
        KRATOS_PUBLIC_URL: stack.KRATOS_PUBLIC_URL ?? "",
        KRATOS_ADMIN_URL: stack.KRATOS_ADMIN_URL ?? "",
        TOKEN_ISSUER: "http://auth.drain.test",
        SIGNING_KEY_KEK: "cd".repeat(32),
        WEBHOOK_SECRET: "drain-webhook-secret-0000000000000000000",
        ADMIN_API_TOKEN: "drain-admin-token-0000000000000000000000",
        MIGRATE_ON_START: "true",
        RATE_LIMIT_PER_MINUTE: "1000000",
        SHUTDOWN_GRACE_SECONDS: String(graceSec),
        LOG_SYNC: "true",
      },
      async () => (await fetch(`http://127.0.0.1:${adminPort}/health/ready`)).ok,
    );
    try {
      await expectCleanDrain(svc, {
        name: "auth-service",
        port: publicPort,
        readyPort: adminPort,
        host: "auth",
        graceSec,
        request: () =>
          `POST /v1/token HTTP/1.1\r\nHost: auth\r\nX-Session-Token: ${u.sessionToken}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      });
    } finally {
      await svc.stop();
    }
  });

  it("writes its log in chunks yet loses no line: the buffer is flushed within a second and on a graceful stop", async () => {
    const [publicPort, adminPort] = [await freePort(), await freePort()];
    const stack = inject("stack");
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../src/main.ts")], {
      env: {
        PATH: process.env.PATH ?? "",
        AUTH_HOST: "127.0.0.1",
        AUTH_PUBLIC_PORT: String(publicPort),
        AUTH_ADMIN_PORT: String(adminPort),
        DATABASE_URL: await freshDatabase(),
        REDIS_URL: stack.REDIS_URL,
        KRATOS_PUBLIC_URL: stack.KRATOS_PUBLIC_URL,
        KRATOS_ADMIN_URL: stack.KRATOS_ADMIN_URL,
        TOKEN_ISSUER: "http://auth.log-flush.test",
        SIGNING_KEY_KEK: "ab".repeat(32),
        WEBHOOK_SECRET: "log-flush-webhook-secret-000000000000000",
        ADMIN_API_TOKEN: "log-flush-admin-token-000000000000000000",
        MIGRATE_ON_START: "true",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      // The start-up line arrives by the periodic flush: nothing else is logged meanwhile.
      for (let i = 0; i < 150 && !out.includes("auth-service listening"); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain("auth-service listening");
      const alive = await fetch(`http://127.0.0.1:${publicPort}/health/alive`, {
        headers: { "X-Request-Id": "log-flush-check-1" },
      });
      expect(alive.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    const lines = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg?: string; request_id?: string });
    // Logged in the last moments before exit: only the flush on exit writes them.
    expect(lines.find((l) => l.request_id === "log-flush-check-1")).toMatchObject({ msg: "request" });
    expect(lines.at(-1)).toMatchObject({ msg: "stopped" });
  });
});

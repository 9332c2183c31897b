// No request, however malformed, ends a process of ours (security issue, item 1).
// A corpus of hostile raw requests goes to every listener of every service of the
// running test stack, and through a separately started gateway process to an
// upstream that misbehaves in every way it can; afterwards each process is the
// same process (same pid) and still answers. Answers that were given carry no
// stack trace.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { routesFile } from "../../apps/gateway/test/harness.ts";
import { REPO_ROOT } from "../../tools/stack/config.ts";
import { isAlive } from "../../tools/stack/supervisor.ts";
import { malformedRequests, upstreamMisbehaviour } from "./malformed-corpus.ts";
import { leaksInternals, misbehavingUpstream, rawExchanges } from "./raw.ts";

const stack = () => inject("stack");
const base = () => Number(stack().GATEHOUSE_PORT_BASE);
const domain = () => stack().GATEHOUSE_DOMAIN;

function pidOf(service: string): number {
  const state = JSON.parse(readFileSync(resolve(stack().STACK_DIR ?? "", "state.json"), "utf8")) as {
    services: { name: string; pid: number }[];
  };
  const pid = state.services.find((s) => s.name === service)?.pid;
  if (!pid) throw new Error(`the test stack runs no ${service}`);
  return pid;
}

async function answers(url: string): Promise<number> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await r.body?.cancel();
    return r.status;
  } catch {
    return 0;
  }
}

async function survives(opts: { pid: number; port: number; host: string; paths: string[]; health: string }) {
  const leaks: string[] = [];
  for (const path of opts.paths) {
    const results = await rawExchanges(opts.port, malformedRequests(opts.host, path));
    for (const [name, a] of results) if (leaksInternals(a.head)) leaks.push(`${path} ${name}: ${a.head.slice(0, 200)}`);
  }
  expect(leaks).toEqual([]);
  expect(isAlive(opts.pid)).toBe(true);
  expect(await answers(opts.health)).toBe(200);
}

describe("a corpus of malformed requests ends no process", () => {
  it("the gateway: proxied routes (anonymous and protected), the Kratos passthrough, forward-auth and the JWKS", async () => {
    const port = base();
    await survives({
      pid: pidOf("gateway"),
      port,
      host: `gateway.${domain()}:${port}`,
      paths: [
        "/api/health",
        "/v1/projects",
        "/self-service/login?flow=00000000-0000-0000-0000-000000000000",
        "/decisions/v1/projects",
        "/.well-known/jwks.json",
      ],
      health: `http://127.0.0.1:${port}/health/alive`,
    });
  });

  it("the auth-service's public listener", async () => {
    const port = Number(new URL(stack().AUTH_SERVICE_URL ?? "").port);
    await survives({
      pid: pidOf("auth"),
      port,
      host: `127.0.0.1:${port}`,
      paths: ["/v1/token", "/v1/organizations", "/.well-known/jwks.json"],
      health: `http://127.0.0.1:${port}/health/alive`,
    });
  });

  it("the auth-service's admin listener", async () => {
    const port = Number(new URL(stack().AUTH_ADMIN_URL ?? "").port);
    await survives({
      pid: pidOf("auth"),
      port,
      host: `127.0.0.1:${port}`,
      paths: [
        "/v1/webhooks/kratos/registration",
        "/v1/webhooks/kratos/mfa-changed",
        "/admin/sessions/revoke",
        "/admin/events",
        "/admin/lockouts",
      ],
      health: `http://127.0.0.1:${port}/health/alive`,
    });
  });

  it("the example API (Express with the guard)", async () => {
    const port = base() + 3;
    await survives({
      pid: pidOf("api"),
      port,
      host: `api.${domain()}:${port}`,
      paths: ["/v1/projects", "/health/alive"],
      health: `http://127.0.0.1:${port}/health/alive`,
    });
  });

  it("the example web app (Next.js with the guard's middleware)", async () => {
    const port = base() + 1;
    await survives({
      pid: pidOf("web"),
      port,
      host: `app.${domain()}:${port}`,
      paths: ["/dashboard", "/auth/login"],
      health: `http://127.0.0.1:${port}/healthz`,
    });
  });
});

describe("an upstream that misbehaves ends no gateway", () => {
  let upstream: Awaited<ReturnType<typeof misbehavingUpstream>>;
  let gateway: ReturnType<typeof spawn>;
  let port = 0;
  let output = "";

  beforeAll(async () => {
    upstream = await misbehavingUpstream();
    const routes = routesFile(`
routes:
  - name: bad
    match: { path: /bad/** }
    upstream: http://127.0.0.1:${upstream.port}
    auth: { anonymous: true, accept: [session] }
    timeout_ms: 500
    websocket: true
`);
    const s = stack();
    gateway = spawn(process.execPath, [resolve(REPO_ROOT, "apps/gateway/src/main.ts")], {
      env: {
        ...process.env,
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_PORT: "0",
        ROUTES_FILE: routes,
        AUTH_SERVICE_URL: s.AUTH_SERVICE_URL,
        KRATOS_PUBLIC_URL: s.KRATOS_PUBLIC_URL,
        REDIS_URL: s.REDIS_URL,
        LOG_LEVEL: "info",
        LOG_SYNC: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    gateway.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    gateway.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    for (let i = 0; i < 200 && port === 0; i++) {
      const m = /"port":(\d+)/.exec(output);
      if (m) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (port === 0) throw new Error(`the gateway did not start: ${output}`);
  });
  afterAll(async () => {
    gateway?.kill("SIGKILL");
    await upstream?.close();
  });

  it("every broken answer is this request's 502/504 or a closed socket; the process keeps serving", async () => {
    const host = `127.0.0.1:${port}`;
    const results = await rawExchanges(port, [
      ...upstreamMisbehaviour(host, "/bad"),
      ...malformedRequests(host, "/bad/ok"),
    ]);
    for (const [name, a] of results) {
      expect(leaksInternals(a.head), name).toBe(false);
      // Nothing an upstream does may reach the client as a 500 of ours.
      expect(a.status === 500, `${name}: ${a.head.slice(0, 120)}`).toBe(false);
    }
    // A trailer the upstream declared is not relayed as a header the client would wait for.
    expect(results.get("upstream trailer")?.status).toBe(200);
    expect(results.get("upstream trailer")?.head).not.toMatch(/^trailer:/im);
    // Headers the upstream's Connection header names are hop-by-hop: not relayed.
    expect(results.get("upstream connection-listed")?.head).not.toMatch(/^x-secret:/im);
    expect(results.get("upstream stall")?.status).toBe(200);
    expect(results.get("upstream reset")?.status).toBe(502);
    expect(gateway.exitCode).toBe(null);
    expect(output).not.toMatch(/uncaught|ERR_HTTP_TRAILER_INVALID|Unhandled/i);
    expect(await answers(`http://127.0.0.1:${port}/health/alive`)).toBe(200);
  });
});

// One trace of a first request after login, read back from a real collector. Jaeger
// (built by scripts/build-jaeger.sh, as bootstrap does) runs on a private block of
// ports, with a Kratos, an auth-service, the example API and the gateway that all export
// to it, the way `./gatehouse up` runs them (tools/stack: the same env functions). The
// test logs in through the gateway, sends the first request of that session with a
// traceparent of its own, and asks the collector's query API for that trace: one trace
// id across the gateway, the auth-service, Kratos, the example API, Postgres and Redis,
// each hop a child of the span that called it. Tracing is off in every other test.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackConfig } from "../../tools/stack/config.ts";
import { authServiceEnv, exampleApiEnv, gatewayEnv, jaeger } from "../../tools/stack/services.ts";
import { httpOk, type RunningService, stopProcess } from "../../tools/stack/supervisor.ts";
import { fetchTrace, type TraceSpan, waterfall } from "../../tools/stack/traces.ts";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";
import {
  type ChildService,
  childService,
  eventually,
  type PrivateKratos,
  privateKratos,
  privateStackConfig,
} from "../support/private-services.ts";

let cfg: StackConfig;
let collector: RunningService | undefined;
let kratos: PrivateKratos | undefined;
const children: ChildService[] = [];
let gateway: string;
let query: string;

beforeAll(async () => {
  const s = stack();
  cfg = { ...(await privateStackConfig("traces")), tracing: true };
  collector = await jaeger.start(cfg);
  query = collector.env.JAEGER_URL ?? "";
  kratos = await privateKratos(cfg, s.env.KRATOS_DATABASE_URL ?? "");
  const deps = {
    DATABASE_URL: s.env.DATABASE_URL,
    REDIS_URL: s.env.REDIS_URL,
    KRATOS_PUBLIC_URL: kratos.publicUrl,
    KRATOS_ADMIN_URL: kratos.adminUrl,
  };
  const p = cfg.ports;
  const start = async (script: string, env: Record<string, string>, health: string) =>
    children.push(await childService(script, env, () => httpOk(health)));
  await start(
    "apps/auth-service/src/main.ts",
    authServiceEnv(cfg, deps),
    `http://127.0.0.1:${p.authAdmin}/health/ready`,
  );
  await start("apps/example-api/src/main.ts", exampleApiEnv(cfg, deps), `http://127.0.0.1:${p.api}/health/alive`);
  await start("apps/gateway/src/main.ts", gatewayEnv(cfg, deps), `http://127.0.0.1:${p.gateway}/health/alive`);
  gateway = `http://127.0.0.1:${p.gateway}`;
}, 180_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  await kratos?.stop();
  if (collector) await stopProcess(collector.pid);
  if (cfg) rmSync(cfg.dir, { recursive: true, force: true });
});

/** A password login through the gateway's Kratos passthrough (API flow): the session token. */
async function login(email: string): Promise<string> {
  const flow = (await (await fetch(`${gateway}/self-service/login/api`)).json()) as { ui: { action: string } };
  const action = new URL(flow.ui.action);
  const r = await fetch(`${gateway}${action.pathname}${action.search}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  const body = (await r.json()) as { session_token?: string };
  if (r.status !== 200 || !body.session_token) throw new Error(`login: ${r.status} ${JSON.stringify(body)}`);
  return body.session_token;
}

const kind = (s: TraceSpan) => s.tags["span.kind"];
const dbSystem = (s: TraceSpan) => s.tags["db.system.name"] ?? s.tags["db.system"];

describe("a first request after login, traced", () => {
  it("is one trace from the gateway through the auth-service and Kratos down to Postgres and Redis", async () => {
    const email = uniqueEmail("traced");
    const reg = await registerApi({ ...stack(), kratosPublic: kratos?.publicUrl ?? "" }, { email });
    expect(reg.status).toBe(200);
    const token = await login(email);

    // The caller's own trace context: the gateway continues it, so the test knows the trace id.
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const r = await fetch(`${gateway}/v1/me?flow=secret-looking-query`, {
      headers: { "x-session-token": token, traceparent: `00-${traceId}-${callerSpan}-01` },
    });
    expect(r.status).toBe(200);
    await r.body?.cancel();

    // Each process exports on its own: wait for both ends of the request (the gateway's and
    // the API's server spans end last) and every part in between.
    const served = (spans: TraceSpan[], svc: string) =>
      spans.some((s) => s.service === svc && kind(s) === "server" && s.name === "GET /v1/me");
    const hasEveryPart = (spans: TraceSpan[]) =>
      served(spans, "gateway") &&
      served(spans, "example-api") &&
      ["auth-service", "kratos"].every((svc) => spans.some((s) => s.service === svc)) &&
      spans.some((s) => dbSystem(s) === "postgresql") &&
      spans.some((s) => dbSystem(s) === "redis");
    // The SDKs export in batches (every 5 s by default): wait for all of them.
    const spans = await eventually(() => fetchTrace(query, traceId), hasEveryPart, 45_000);
    console.log(`trace ${traceId}:\n${waterfall(spans).join("\n")}`);
    expect(hasEveryPart(spans), waterfall(spans).join("\n")).toBe(true);

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (s: TraceSpan | undefined) => (s?.parentId ? byId.get(s.parentId) : undefined);
    const server = (svc: string) => spans.filter((s) => s.service === svc && kind(s) === "server");

    // The gateway took up the caller's traceparent.
    const gw = server("gateway").find((s) => s.name === "GET /v1/me");
    expect(gw?.parentId).toBe(callerSpan);

    // gateway → auth-service: the guard's undici call carried the traceparent.
    const authCalls = server("auth-service").filter((s) => parentOf(s)?.service === "gateway");
    expect(authCalls.length).toBeGreaterThan(0);
    for (const a of authCalls) expect(kind(parentOf(a) as TraceSpan)).toBe("client");

    // auth-service → Kratos (whoami), and Kratos' own SQL under it.
    const kratosServer = server("kratos").find((s) => parentOf(s)?.service === "auth-service");
    expect(kratosServer, "a Kratos request made by the auth-service").toBeDefined();
    const underKratos = spans.filter((s) => kratosServer !== undefined && isUnder(s, kratosServer));
    expect(underKratos.some((s) => s.service === "kratos" && kind(s) === "client")).toBe(true);

    // Postgres and Redis under the auth-service's request.
    const authDb = spans.filter((s) => s.service === "auth-service" && dbSystem(s) !== undefined);
    expect(authDb.some((s) => dbSystem(s) === "postgresql" && authCalls.some((a) => isUnder(s, a)))).toBe(true);
    expect(spans.some((s) => dbSystem(s) === "redis" && parentOf(s) !== undefined)).toBe(true);

    // gateway → example API: the proxied request continues the gateway's span, not the caller's.
    const api = server("example-api").find((s) => s.name === "GET /v1/me");
    expect(parentOf(api)?.service).toBe("gateway");

    // Nothing secret in any span: not the session token, not the query string.
    const exported = JSON.stringify(spans);
    expect(exported).not.toContain(token);
    expect(exported).not.toContain("secret-looking-query");

    function isUnder(s: TraceSpan, ancestor: TraceSpan): boolean {
      for (let p = parentOf(s); p; p = parentOf(p)) if (p === ancestor) return true;
      return false;
    }
  });
});

// The gateway's and the guard's benchmarks, in one command that needs nothing running:
//   node bench/gateway.ts
// It starts its own ephemeral stack (Postgres, Redis, mail catcher, Kratos) on
// ports 25400+ (BENCH_PORT_BASE to move it), the auth-service and the gateway as
// child processes, the baselines (a raw http-proxy-middleware passthrough, Express
// apps with and without the guard, a node:http upstream that is also the
// hello-world) and the load generator, each in its own process; measures; prints
// a table; writes bench/results/gateway.json; stops everything. About 3 minutes.
//
//  1. gateway, warm session cache vs a raw http-proxy-middleware passthrough to the
//     same upstream: throughput ratio (closed loop), added p99 (fixed rate)
//  2. Express + gatehouse().requireAuth() + http-proxy-middleware vs Express +
//     http-proxy-middleware
//  3. Express + the guard accepting a Gatehouse JWT vs the same Express app without it
//  4. gateway forward-auth GET /decisions (nginx headers) vs a node:http hello-world
//  5. 1,000 concurrent requests through the gateway with one uncached session:
//     token exchanges reaching the auth-service, counted by a proxy in front of it
//  6. session-cache hit ratio: 200 sessions, Zipf popularity, 20 s at a fixed rate
// See bench/README.md for what each number means.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { countingProxy } from "../tools/stack/counting-proxy.ts";
import { internalUrls, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import { stopProcess } from "../tools/stack/supervisor.ts";
import { accessToken, startAuth } from "./lib/auth.ts";
import { startGateway } from "./lib/gateway.ts";
import { apiReq, decisionsReq, helloReq, ROUTES_YAML } from "./lib/gateway-requests.ts";
import {
  Child,
  cleanups,
  cpuSeconds,
  f,
  isolateBenchEnv,
  median,
  phase,
  pooled,
  profArgs,
  progress,
  reportBuilder,
  runBench,
  stopOnSignalsAndDeadline,
} from "./lib/harness.ts";
import { hpmVersion } from "./lib/hpm.ts";
import { register, type Session } from "./lib/kratos.ts";
import type { BurstResult, ClosedResult, PacedResult, Req, SequenceResult } from "./lib/loadgen.ts";

// --- knobs ------------------------------------------------------------------

const ROUNDS = 5; // interleaved baseline/subject rounds per comparison
const ROUND_MS = 2_000;
const WARMUP_MS = 1_000; // per server, before its first round
const CONNECTIONS = 16; // closed-loop keep-alive connections
const WARM_SESSIONS = 8; // distinct cached sessions (and JWTs), round-robin over the connections
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 500); // req/s of the latency rounds of 1.
const PACED_CONNECTIONS = 8;
const BURST = 1_000;
const MIX_SESSIONS = 200;
const MIX_RATE = Number(process.env.BENCH_MIX_RATE ?? 500); // req/s
const MIX_MS = 20_000;
const MIX_CONNECTIONS = MIX_SESSIONS; // one per user: real users do not queue behind each other's slow first request
const ZIPF_S = 1; // popularity of the session of rank r ∝ 1 / r^s
const DEADLINE_MS = 235_000; // the whole run, start to stop; a watchdog ends it past this

const GOALS = {
  gatewayRatio: 0.8,
  gatewayAddedP99Ms: 1,
  expressGuardRatio: 0.92,
  jwtRatio: 0.9,
  decisionsRatio: 0.8,
  exchangesInBurst: 1,
  hitRatio: 0.95,
};
const BENCH_DIR = import.meta.dirname;
const OUT = resolve(BENCH_DIR, "results/gateway.json");

/** Ports of the bench's own servers, as offsets from the stack's base port (unused by the stack). */
const PORTS = {
  upstream: 40,
  rawProxy: 41,
  expressProxy: 42,
  expressGuardProxy: 43,
  expressHello: 44,
  expressJwt: 45,
  tokenCounter: 46,
} as const;

// --- servers and rounds ---------------------------------------------------------------

interface Subject {
  name: string;
  requests: Req[];
  /** The server under test (its CPU per request is reported). */
  pid: number;
  /** The upstream behind it, for proxies. */
  upstreamPid?: number;
}

type Round = ClosedResult & { cpuUsPerReq: number; serverCpu: number; upstreamCpuUsPerReq: number };

function summarize<R extends ClosedResult & { cpuUsPerReq?: number; serverCpu?: number; upstreamCpuUsPerReq?: number }>(
  rs: R[],
) {
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq ?? Number.NaN)),
    upstreamCpuUsPerReq: median(rs.map((r) => r.upstreamCpuUsPerReq ?? Number.NaN)),
    serverCpu: median(rs.map((r) => r.serverCpu ?? Number.NaN)),
    clientCpu: median(rs.map((r) => r.clientCpu)),
    requests: rs.reduce((n, r) => n + r.requests, 0),
  };
}
type Summary = ReturnType<typeof summarize>;

interface Comparison {
  baseline: Summary & { name: string };
  subject: Summary & { name: string };
  /** Median over rounds of subject req/s ÷ baseline req/s (same round). */
  ratio: number;
  ratios: number[];
  /** Median over rounds of subject CPU µs/req ÷ baseline CPU µs/req. */
  cpuRatio: number;
  rounds: { baseline: Round[]; subject: Round[] };
}

/** Zipf(s) over ranks 1..n: `count` draws (0-based ranks) from a seeded generator, so runs are comparable. */
function zipfOrder(n: number, s: number, count: number, seed = 0x5eed): number[] {
  const cdf: number[] = [];
  let total = 0;
  for (let r = 1; r <= n; r++) {
    total += 1 / r ** s;
    cdf.push(total);
  }
  let a = seed >>> 0; // mulberry32
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return Array.from({ length: count }, () => {
    const x = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  });
}

// BENCH_CPU_PROF=<dir>: V8 CPU profiles of the gateway and of every bench server
// (so baseline and subject pay the same profiler overhead), written there on exit
// as <name>.cpuprofile (gateway, raw-proxy, upstream, express-proxy,
// express-guard-proxy, express-hello, express-jwt), with phases.json (see harness.ts).

// --- the run ------------------------------------------------------------------------

stopOnSignalsAndDeadline(DEADLINE_MS);

async function main() {
  isolateBenchEnv();

  const basePort = Number(process.env.BENCH_PORT_BASE ?? 25_400);
  // Listening ports stay below the ephemeral range (32768+), where the kernel picks
  // client ports: a listener there can collide with an outgoing connection.
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 99 >= 32_768)
    throw new Error(`BENCH_PORT_BASE must be an integer with 1024 ≤ base and base + 99 < 32768, got ${basePort}`);
  const cfg = stackConfig("bench", { basePort, ephemeral: true, domain: "localhost" });
  const port = (k: keyof typeof PORTS) => basePort + PORTS[k];
  const origin = (k: keyof typeof PORTS) => `http://127.0.0.1:${port(k)}`;
  cleanups.push(() => stopStack(cfg));

  // Servers that need no stack start with it.
  const child = (script: string, args: string[], env?: Record<string, string>, execArgv: string[] = []) => {
    const c = new Child(resolve(BENCH_DIR, script), execArgv, { args, ...(env ? { env } : {}) });
    cleanups.push(() => c.stop());
    return c;
  };
  const upstream = child("lib/upstream.ts", [String(port("upstream"))], undefined, profArgs("upstream"));
  const rawProxy = child(
    "lib/raw-proxy.ts",
    [String(port("rawProxy")), origin("upstream")],
    undefined,
    profArgs("raw-proxy"),
  );
  const expressProxy = child(
    "lib/express-app.ts",
    ["proxy", String(port("expressProxy"))],
    { BENCH_UPSTREAM: origin("upstream") },
    profArgs("express-proxy"),
  );
  const expressHello = child(
    "lib/express-app.ts",
    ["hello", String(port("expressHello"))],
    undefined,
    profArgs("express-hello"),
  );
  const loadgen = child("lib/loadgen.ts", []);
  const early = Promise.all([upstream.ready, rawProxy.ready, expressProxy.ready, expressHello.ready, loadgen.ready]);
  early.catch(() => {});

  progress(`starting stack "${cfg.name}" on ports ${basePort}+ (postgres, redis, mail, kratos)`);
  await startStack(cfg, { only: ["postgres", "redis", "mail", "kratos"], log: (l) => progress(`  ${l}`) });
  const urls = internalUrls(cfg);
  const kratos = urls.kratosPublic;
  const expressVersion = String(((await early)[2] as { version?: string }).version);

  const auth = await startAuth(cfg, {}, "auth.log", { cpuProf: false });
  cleanups.push(() => stopProcess(auth.pid));
  progress(`auth-service up (pid ${auth.pid})`);
  // Every token exchange the gateway makes goes through this proxy, which counts them.
  const tokenCounter = await countingProxy(auth.url, "/v1/token", port("tokenCounter"));
  cleanups.push(() => tokenCounter.close());

  const routes = join(cfg.dir, "gateway-routes.yaml");
  writeFileSync(routes, ROUTES_YAML(origin("upstream")));
  // The stack's gateway environment (tools/stack/services.ts), but: the auth-service
  // behind the counting proxy (tokens are still issued by, and verified against,
  // the auth-service's own URL), only 127.0.0.1 trusted, and no browser login.
  const gatewayP = startGateway(cfg, {
    name: "gateway",
    port: cfg.ports.gateway,
    routes,
    authUrl: auth.url,
    env: { AUTH_SERVICE_URL: tokenCounter.url },
  });
  const guardEnv = { BENCH_UPSTREAM: origin("upstream"), BENCH_AUTH_URL: auth.url };
  const expressGuardProxy = child(
    "lib/express-app.ts",
    ["guard-proxy", String(port("expressGuardProxy"))],
    guardEnv,
    profArgs("express-guard-proxy"),
  );
  const expressJwt = child(
    "lib/express-app.ts",
    ["jwt", String(port("expressJwt"))],
    guardEnv,
    profArgs("express-jwt"),
  );

  // --- sessions ---------------------------------------------------------------
  const ts = performance.now();
  const all = await pooled(Array.from({ length: WARM_SESSIONS + 1 + MIX_SESSIONS }), 4, () => register(kratos, "gw"));
  const warmSessions = all.slice(0, WARM_SESSIONS);
  const burstSession = all[WARM_SESSIONS] as Session;
  const mixSessions = all.slice(WARM_SESSIONS + 1);
  progress(`${all.length} Kratos sessions in ${Math.round(performance.now() - ts)} ms`);

  const gateway = await gatewayP;
  cleanups.push(() => stopProcess(gateway.pid));
  await Promise.all([expressGuardProxy.ready, expressJwt.ready]);
  progress(`gateway up (pid ${gateway.pid}); Express apps up`);

  // A real Gatehouse JWT per warm session, from the auth-service.
  const jwts = await Promise.all(warmSessions.map((s) => accessToken(auth.url, s.token)));

  // Prime: each warm session exchanged once by the gateway and by the Express guard
  // (their caches are then warm), each JWT verified once (keys fetched, token cached).
  const prime = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: [
      ...warmSessions.map((s) => apiReq(gateway.url, s.token)),
      ...warmSessions.map((s) => decisionsReq(gateway.url, s.token)),
      ...warmSessions.map((s) => apiReq(origin("expressGuardProxy"), s.token)),
      ...jwts.map((j) => helloReq(origin("expressJwt"), j)),
    ],
  });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming answered ${prime.status.join(",")}`);
  progress(`primed: ${tokenCounter.count} token exchanges by the gateway (expected ${WARM_SESSIONS})`);

  // --- rounds ------------------------------------------------------------------------
  const closedRound = async (s: Subject, ms: number): Promise<Round> => {
    const c0 = cpuSeconds(s.pid);
    const u0 = s.upstreamPid ? cpuSeconds(s.upstreamPid) : 0;
    const r = await phase(s.name, () =>
      loadgen.run<ClosedResult>({ kind: "closed", requests: s.requests, connections: CONNECTIONS, durationMs: ms }),
    );
    const cpu = cpuSeconds(s.pid) - c0;
    const up = s.upstreamPid ? cpuSeconds(s.upstreamPid) - u0 : Number.NaN;
    if (r.non2xx || r.errors) throw new Error(`${s.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return {
      ...r,
      cpuUsPerReq: (cpu * 1e6) / r.requests,
      serverCpu: cpu / (r.elapsedMs / 1000),
      upstreamCpuUsPerReq: (up * 1e6) / r.requests,
    };
  };
  const compare = async (label: string, baseline: Subject, subject: Subject): Promise<Comparison> => {
    progress(`${label}: warm-up, then ${ROUNDS} × (${baseline.name}, ${subject.name}) rounds of ${ROUND_MS} ms`);
    await closedRound(baseline, WARMUP_MS);
    await closedRound(subject, WARMUP_MS);
    const b: Round[] = [];
    const s: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      b.push(await closedRound(baseline, ROUND_MS));
      s.push(await closedRound(subject, ROUND_MS));
    }
    const ratios = s.map((x, i) => x.rps / (b[i] as Round).rps);
    return {
      baseline: { name: baseline.name, ...summarize(b) },
      subject: { name: subject.name, ...summarize(s) },
      ratio: median(ratios),
      ratios,
      cpuRatio: median(s.map((x, i) => x.cpuUsPerReq / (b[i] as Round).cpuUsPerReq)),
      rounds: { baseline: b, subject: s },
    };
  };

  // 1. gateway vs raw proxy
  const rawSubject: Subject = {
    name: "raw proxy",
    requests: warmSessions.map((s) => apiReq(origin("rawProxy"), s.token)),
    pid: rawProxy.pid,
    upstreamPid: upstream.pid,
  };
  const gwSubject: Subject = {
    name: "gateway",
    requests: warmSessions.map((s) => apiReq(gateway.url, s.token)),
    pid: gateway.pid,
    upstreamPid: upstream.pid,
  };
  const proxyCmp = await compare("1. gateway vs raw proxy", rawSubject, gwSubject);

  // 1b. the same two at a fixed rate well below saturation: added latency
  progress(`1b. latency: ${ROUNDS} × (raw proxy, gateway) rounds of ${ROUND_MS} ms at ${PACED_RATE} req/s`);
  const pacedRound = async (s: Subject) => {
    const r = await phase(`${s.name} (paced)`, () =>
      loadgen.run<PacedResult>({
        kind: "paced",
        requests: s.requests,
        ratePerSec: PACED_RATE,
        connections: PACED_CONNECTIONS,
        durationMs: ROUND_MS,
      }),
    );
    if (r.non2xx || r.errors) throw new Error(`${s.name} (paced): ${r.non2xx} non-2xx, ${r.errors} errors`);
    return r;
  };
  const pacedRaw: PacedResult[] = [];
  const pacedGw: PacedResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    pacedRaw.push(await pacedRound(rawSubject));
    pacedGw.push(await pacedRound(gwSubject));
  }
  const latency = {
    ratePerSec: PACED_RATE,
    connections: PACED_CONNECTIONS,
    raw: { ...summarize(pacedRaw), late: pacedRaw.reduce((n, r) => n + r.late, 0) },
    gateway: { ...summarize(pacedGw), late: pacedGw.reduce((n, r) => n + r.late, 0) },
    addedP50: median(pacedGw.map((g, i) => g.p50 - (pacedRaw[i] as PacedResult).p50)),
    addedP99: median(pacedGw.map((g, i) => g.p99 - (pacedRaw[i] as PacedResult).p99)),
    addedP99s: pacedGw.map((g, i) => g.p99 - (pacedRaw[i] as PacedResult).p99),
    rounds: {
      raw: pacedRaw.map(({ sentPerRequest: _, ...r }) => r),
      gateway: pacedGw.map(({ sentPerRequest: _, ...r }) => r),
    },
  };

  // 2. Express + guard + proxy vs Express + proxy
  const expressGuardCmp = await compare(
    "2. Express + guard + proxy vs Express + proxy",
    {
      name: "express proxy",
      requests: warmSessions.map((s) => apiReq(origin("expressProxy"), s.token)),
      pid: expressProxy.pid,
      upstreamPid: upstream.pid,
    },
    {
      name: "express guard proxy",
      requests: warmSessions.map((s) => apiReq(origin("expressGuardProxy"), s.token)),
      pid: expressGuardProxy.pid,
      upstreamPid: upstream.pid,
    },
  );

  // 3. Express + JWT guard vs Express
  const jwtCmp = await compare(
    "3. Express + JWT guard vs Express",
    { name: "express hello", requests: jwts.map((j) => helloReq(origin("expressHello"), j)), pid: expressHello.pid },
    { name: "express jwt", requests: jwts.map((j) => helloReq(origin("expressJwt"), j)), pid: expressJwt.pid },
  );

  // 4. /decisions vs a node:http hello-world (the upstream process, asked directly)
  const decisionsCmp = await compare(
    "4. /decisions vs node:http hello-world",
    {
      name: "node:http hello-world",
      requests: [
        { origin: origin("upstream"), path: "/hello", method: "GET", headers: { accept: "application/json" } },
      ],
      pid: upstream.pid,
    },
    { name: "decisions", requests: warmSessions.map((s) => decisionsReq(gateway.url, s.token)), pid: gateway.pid },
  );

  // --- 5. single-flight through the gateway ---------------------------------------------
  progress(`5. single-flight: ${BURST} concurrent requests through the gateway, one uncached session`);
  const before = tokenCounter.count;
  const b = await phase("burst", () =>
    loadgen.run<BurstResult>({
      kind: "burst",
      request: apiReq(gateway.url, burstSession.token),
      n: BURST,
      warmPath: "/health/alive",
    }),
  );
  const statuses: Record<string, number> = {};
  for (const st of b.status) statuses[st] = (statuses[st] ?? 0) + 1;
  const firstError = b.bodies.find((_, k) => b.status[k] !== 200);
  const burst = {
    requests: BURST,
    exchanges: tokenCounter.count - before,
    ok: b.status.filter((st) => st === 200).length,
    statuses,
    ...(firstError !== undefined ? { firstError: firstError.slice(0, 240) } : {}),
    elapsedMs: b.elapsedMs,
  };

  // --- 6. hit ratio under a realistic mix ---------------------------------------------------
  progress(
    `6. mix: ${MIX_SESSIONS} new sessions, Zipf(s=${ZIPF_S}), ${MIX_RATE} req/s for ${MIX_MS / 1000} s through the gateway`,
  );
  const order = zipfOrder(MIX_SESSIONS, ZIPF_S, Math.round((MIX_RATE * MIX_MS) / 1000));
  const mixBefore = tokenCounter.count;
  const m = await phase("mix", () =>
    loadgen.run<PacedResult>({
      kind: "paced",
      requests: mixSessions.map((s) => apiReq(gateway.url, s.token)),
      order,
      ratePerSec: MIX_RATE,
      connections: MIX_CONNECTIONS,
      durationMs: MIX_MS,
    }),
  );
  const exchanges = tokenCounter.count - mixBefore;
  const seen = m.sentPerRequest.filter((n) => n > 0).length;
  const sent = m.sentPerRequest.reduce((a, n) => a + n, 0);
  const { sentPerRequest: _, ...mixResult } = m;
  const mix = {
    sessions: MIX_SESSIONS,
    zipfS: ZIPF_S,
    ratePerSec: MIX_RATE,
    durationMs: MIX_MS,
    requests: sent,
    answered: m.requests,
    non2xx: m.non2xx,
    errors: m.errors,
    late: m.late,
    sessionsSeen: seen,
    /** Requests of the most popular session. */
    top: Math.max(...m.sentPerRequest),
    exchanges,
    missesBeyondFirstSight: exchanges - seen,
    hitRatio: 1 - exchanges / sent,
    p50: m.p50,
    p99: m.p99,
    firstSight: m.firstSight,
    repeats: m.repeats,
    result: mixResult,
  };

  return {
    cfg,
    versions: { express: expressVersion, hpm: hpmVersion() },
    proxy: proxyCmp,
    latency,
    expressGuard: expressGuardCmp,
    jwt: jwtCmp,
    decisions: decisionsCmp,
    burst,
    mix,
  };
}

function report(r: Awaited<ReturnType<typeof main>>, totalSec: number): string {
  const ok = (b: boolean) => (b ? "PASS" : "FAIL");
  const { lines, row, flush } = reportBuilder();
  const pct = (x: number) => `${f(x * 100, 0)}%`;
  const cmpTable = (c: Comparison, names: [string, string], upstream: boolean) => {
    row(
      "",
      "req/s",
      "p50 ms",
      "p99 ms",
      "server CPU µs/req",
      ...(upstream ? ["upstream CPU µs/req"] : []),
      "server CPU",
      "client CPU",
    );
    for (const [name, s] of [
      [names[0], c.baseline],
      [names[1], c.subject],
    ] as const) {
      row(
        name,
        f(s.rps, 0),
        f(s.p50),
        f(s.p99),
        f(s.cpuUsPerReq, 0),
        ...(upstream ? [f(s.upstreamCpuUsPerReq, 0)] : []),
        pct(s.serverCpu),
        pct(s.clientCpu),
      );
    }
    flush();
  };
  const ratioLine = (c: Comparison, what: string, goal: number) => {
    lines.push(
      `  throughput ratio ${what} (median of rounds): ${f(c.ratio)}×  [rounds ${c.ratios.map((x) => f(x)).join(" ")}]  goal ≥ ${goal}×  ${ok(c.ratio >= goal)}`,
    );
    lines.push(`  server CPU per request ratio (median of rounds): ${f(c.cpuRatio)}×`);
  };
  const closedHow = `${ROUNDS} interleaved rounds × ${ROUND_MS / 1000} s, closed loop, ${CONNECTIONS} keep-alive connections`;

  lines.push(
    `Gatehouse gateway bench: node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; total ${totalSec.toFixed(0)} s`,
  );
  lines.push("");
  lines.push(
    `1. Gateway, warm session cache (X-Session-Token) vs raw http-proxy-middleware ${r.versions.hpm} passthrough, same node:http upstream: ${closedHow}`,
  );
  cmpTable(r.proxy, ["raw proxy (node:http + hpm, keep-alive)", "gateway, session cached"], true);
  ratioLine(r.proxy, "gateway/raw", GOALS.gatewayRatio);
  const l = r.latency;
  lines.push(
    `  latency at a fixed ${l.ratePerSec} req/s (${l.connections} connections, ${ROUNDS} interleaved rounds × ${ROUND_MS / 1000} s):`,
  );
  row("", "p50 ms", "p99 ms", "late");
  row("raw proxy", f(l.raw.p50), f(l.raw.p99), String(l.raw.late));
  row("gateway", f(l.gateway.p50), f(l.gateway.p99), String(l.gateway.late));
  flush();
  lines.push(
    `  added p99 (median of per-round gateway p99 − raw p99): ${f(l.addedP99)} ms  [rounds ${l.addedP99s.map((x) => f(x)).join(" ")}]  added p50 ${f(l.addedP50)} ms  goal ≤ ${GOALS.gatewayAddedP99Ms} ms  ${ok(l.addedP99 <= GOALS.gatewayAddedP99Ms)}`,
  );
  lines.push("");
  lines.push(
    `2. Express ${r.versions.express} + gatehouse().requireAuth() + http-proxy-middleware (session cached) vs Express + http-proxy-middleware: ${closedHow}`,
  );
  cmpTable(r.expressGuard, ["express + proxy", "express + guard + proxy"], true);
  ratioLine(r.expressGuard, "guard/plain", GOALS.expressGuardRatio);
  lines.push("");
  lines.push(
    `3. Express ${r.versions.express} + guard accepting a Gatehouse JWT (Authorization: Bearer, verified-token cache on) vs the same app without it: ${closedHow}`,
  );
  cmpTable(r.jwt, ["express hello-world", "express + JWT guard"], false);
  ratioLine(r.jwt, "guard/plain", GOALS.jwtRatio);
  lines.push("");
  lines.push(
    `4. Gateway GET /decisions (nginx auth_request headers + X-Session-Token, cached) vs a node:http hello-world: ${closedHow}`,
  );
  cmpTable(r.decisions, ["node:http hello-world", "gateway /decisions"], false);
  ratioLine(r.decisions, "decisions/hello", GOALS.decisionsRatio);
  lines.push("");
  lines.push(
    `5. ${BURST} concurrent GET /api/items through the gateway with one session it has never seen (counting proxy in front of the auth-service)`,
  );
  row("", "exchanges at auth-service", "answers", "burst ms");
  row(
    "new user's first session",
    String(r.burst.exchanges),
    Object.entries(r.burst.statuses)
      .map(([st, c]) => `${c} × ${st}`)
      .join(", "),
    f(r.burst.elapsedMs, 0),
  );
  flush();
  lines.push(
    `  goal: exactly ${GOALS.exchangesInBurst} exchange (and ${BURST} × 200)  ${ok(r.burst.exchanges === GOALS.exchangesInBurst && r.burst.ok === BURST)}`,
  );
  if (r.burst.firstError) lines.push(`  first non-200 body: ${r.burst.firstError}`);
  lines.push("");
  const x = r.mix;
  lines.push(
    `6. Session cache under a mix: ${x.sessions} new sessions, Zipf(s=${x.zipfS}) popularity, ${x.ratePerSec} req/s for ${x.durationMs / 1000} s (${MIX_CONNECTIONS} connections) through the gateway`,
  );
  row("", "requests", "sessions seen", "exchanges", "misses after first sight", "hits/lookups");
  row(
    "gateway session cache",
    String(x.requests),
    String(x.sessionsSeen),
    String(x.exchanges),
    String(x.missesBeyondFirstSight),
    `${f(x.hitRatio * 100, 1)}%`,
  );
  flush();
  lines.push(
    `  latency p50/p99 ms: all ${f(x.p50)}/${f(x.p99)}; each session's first request (cache miss, a new user's first exchange) ${f(x.firstSight?.p50 ?? Number.NaN)}/${f(x.firstSight?.p99 ?? Number.NaN)}; later ones (hits, and requests that waited on a first one's exchange) ${f(x.repeats?.p50 ?? Number.NaN)}/${f(x.repeats?.p99 ?? Number.NaN)}; ${x.late} sent > 5 ms late`,
  );
  lines.push(
    `  hit ratio = 1 − exchanges/requests; goal ≥ ${GOALS.hitRatio * 100}%  ${ok(x.hitRatio >= GOALS.hitRatio && x.non2xx === 0 && x.errors === 0)}`,
  );
  lines.push("");
  const burstOk = r.burst.exchanges === GOALS.exchangesInBurst && r.burst.ok === BURST;
  lines.push(
    [
      `Goals: 1. ${f(r.proxy.ratio)}× (≥ ${GOALS.gatewayRatio}×) ${ok(r.proxy.ratio >= GOALS.gatewayRatio)}`,
      `${l.addedP99 >= 0 ? "+" : ""}${f(l.addedP99)} ms p99 (≤ ${GOALS.gatewayAddedP99Ms} ms) ${ok(l.addedP99 <= GOALS.gatewayAddedP99Ms)}`,
      `2. ${f(r.expressGuard.ratio)}× (≥ ${GOALS.expressGuardRatio}×) ${ok(r.expressGuard.ratio >= GOALS.expressGuardRatio)}`,
      `3. ${f(r.jwt.ratio)}× (≥ ${GOALS.jwtRatio}×) ${ok(r.jwt.ratio >= GOALS.jwtRatio)}`,
      `4. ${f(r.decisions.ratio)}× (≥ ${GOALS.decisionsRatio}×) ${ok(r.decisions.ratio >= GOALS.decisionsRatio)}`,
      `5. ${r.burst.exchanges} exchange (= ${GOALS.exchangesInBurst}) ${ok(burstOk)}`,
      `6. ${f(x.hitRatio * 100, 1)}% (≥ ${GOALS.hitRatio * 100}%) ${ok(x.hitRatio >= GOALS.hitRatio && x.non2xx === 0 && x.errors === 0)}`,
    ].join("; "),
  );
  return lines.join("\n");
}

await runBench({
  out: OUT,
  main,
  report,
  record: (r, table) => ({
    settings: {
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      connections: CONNECTIONS,
      warmSessions: WARM_SESSIONS,
      pacedRate: PACED_RATE,
      pacedConnections: PACED_CONNECTIONS,
      burst: BURST,
      mixSessions: MIX_SESSIONS,
      mixRate: MIX_RATE,
      mixMs: MIX_MS,
      mixConnections: MIX_CONNECTIONS,
      zipfS: ZIPF_S,
      gatewayLogLevel: "info",
      kratosBcryptCost: 4,
      stackPortBase: r.cfg.basePort,
      versions: r.versions,
    },
    goals: GOALS,
    proxy: r.proxy,
    latency: r.latency,
    expressGuard: r.expressGuard,
    jwt: r.jwt,
    decisions: r.decisions,
    burst: r.burst,
    mix: r.mix,
    table,
  }),
});

// Gatehouse against its peer, Ory Oathkeeper, in one command that needs nothing running:
//   node bench/peer.ts
// Same Kratos, same upstream, same load generator, interleaved rounds. Subjects:
//   gateway     the Gatehouse gateway (+ its auth-service), JWT and identity headers upstream
//   oathkeeper  Oathkeeper v0.40.9 (scripts/build-oathkeeper.sh): bearer_token authenticator
//               on X-Session-Token → Kratos whoami, allow authorizer, id_token mutator
//   whoami      Express asking Kratos' whoami for every request, then proxying: the floor
// and, in the first-request phase only, where a first request's time goes:
//   kratos      Kratos' GET /sessions/whoami asked directly: the step every subject waits for
//   token       the auth-service's POST /v1/token asked directly: the gateway's one call
// Measured:
//  1. a session's first request (new logins of known users, one at a time): p50/p99,
//     and CPU per request of each process, ratio gateway ÷ oathkeeper
//  2. warm sessions: throughput, closed loop, 8 sessions
//  3. 200 sessions, round-robin, closed loop
//  4. forward-auth: gateway GET /decisions vs Oathkeeper's GET /decisions/…
//  5. RSS of each server after the run
// See bench/README.md ("node bench/peer.ts").
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { internalUrls, REPO_ROOT, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import { httpOk, startProcess, stopProcess, waitReady } from "../tools/stack/supervisor.ts";
import { startAuth } from "./lib/auth.ts";
import { startGateway } from "./lib/gateway.ts";
import { apiReq, decisionsReq, ROUTES_YAML } from "./lib/gateway-requests.ts";
import {
  Child,
  cleanups,
  cpuSeconds,
  f,
  isolateBenchEnv,
  median,
  phase,
  pooled,
  progress,
  reportBuilder,
  rssMb,
  runBench,
  stopOnSignalsAndDeadline,
} from "./lib/harness.ts";
import { login, register, type Session } from "./lib/kratos.ts";
import { type ClosedResult, percentile, type Req, type SequenceResult } from "./lib/loadgen.ts";

const ROUNDS = 5;
const ROUND_MS = 2_000;
const WARMUP_MS = 1_000;
const CONNECTIONS = 16;
const WARM_SESSIONS = 8;
const MIX_SESSIONS = 200;
const FIRST_PER_SUBJECT = Number(process.env.BENCH_FIRST ?? 100); // first requests per subject
const DEADLINE_MS = 420_000;
const OUT = resolve(import.meta.dirname, "results/peer.json");
const GOAL_FIRST_RATIO = 1.0; // gateway first-request p50 ÷ Oathkeeper's

/** Offsets from the stack's base port (unused by the stack). */
const PORTS = { upstream: 40, whoami: 47, oathkeeperProxy: 60, oathkeeperApi: 61, baseline: 70 } as const;
/** The baseline auth-service's ports: the stack's auth ports + this (base + 72, base + 73). */
const BASELINE_AUTH_OFFSET = 62;

type Name = "gateway" | "oathkeeper" | "whoami" | "baseline" | "kratos" | "token";
/** BENCH_COMPARE_ROOT=<checkout>: that build's gateway and auth-service as a fourth subject of 1. (an A/B). */
const COMPARE_ROOT = process.env.BENCH_COMPARE_ROOT ? resolve(process.env.BENCH_COMPARE_ROOT) : undefined;
interface FirstStats {
  n: number;
  p50: number;
  p99: number;
  /** Median CPU ms the subject's processes used during one such request. */
  cpuMs: number;
  /** The same per process (gateway: gateway, then auth-service), medians each. */
  cpuMsEach: number[];
}

// --- Oathkeeper ------------------------------------------------------------------------

function oathkeeperBinary(): string {
  const out = execFileSync(resolve(REPO_ROOT, "scripts/build-oathkeeper.sh"), { encoding: "utf8" });
  return out.trim().split("\n").at(-1) as string;
}

/** Config and rules as Oathkeeper's docs put them, for the one route the gateway serves. */
function oathkeeperFiles(
  dir: string,
  bin: string,
  o: { kratos: string; upstream: string; proxy: number; api: number },
) {
  const jwks = join(dir, "oathkeeper-jwks.json");
  writeFileSync(jwks, execFileSync(bin, ["credentials", "generate", "--alg", "RS256"]));
  const rules = join(dir, "oathkeeper-rules.json");
  writeFileSync(
    rules,
    JSON.stringify([
      {
        id: "bench-api",
        match: { url: "<[^/]+>://<[^/]+>/api/<.*>", methods: ["GET", "POST"] },
        upstream: { url: o.upstream, preserve_host: false },
        authenticators: [{ handler: "bearer_token" }],
        authorizer: { handler: "allow" },
        mutators: [{ handler: "id_token" }],
      },
    ]),
  );
  const config = join(dir, "oathkeeper.yaml");
  writeFileSync(
    config,
    `log: { level: warn }
serve:
  proxy: { host: 127.0.0.1, port: ${o.proxy} }
  api: { host: 127.0.0.1, port: ${o.api} }
access_rules:
  repositories: ["file://${rules}"]
authenticators:
  bearer_token:
    enabled: true
    config:
      check_session_url: ${o.kratos}/sessions/whoami
      preserve_path: true
      token_from: { header: X-Session-Token }
      forward_http_headers: [X-Session-Token]
      subject_from: identity.id
      extra_from: "@this"
authorizers:
  allow: { enabled: true }
mutators:
  id_token:
    enabled: true
    config: { issuer_url: http://127.0.0.1:${o.api}/, jwks_url: "file://${jwks}", ttl: 300s }
errors:
  fallback: [json]
  handlers: { json: { enabled: true } }
`,
  );
  return config;
}

/** GET /decisions/api/items as a proxy's forward-auth would ask Oathkeeper. */
const oathkeeperDecisionsReq = (origin: string, token: string): Req => ({
  origin,
  path: "/decisions/api/items?page=2",
  method: "GET",
  headers: {
    "x-forwarded-method": "GET",
    "x-forwarded-proto": "http",
    "x-forwarded-host": "app.example.com",
    "x-session-token": token,
    accept: "application/json",
  },
});

/** What holds a Node server's memory (lib/heap-report.ts, asked with SIGUSR2), or undefined. */
async function heapReport(dir: string, pid: number): Promise<Record<string, unknown> | undefined> {
  const file = join(dir, `${pid}.json`);
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  }
  return undefined;
}

// --- the run ------------------------------------------------------------------------------

stopOnSignalsAndDeadline(DEADLINE_MS);

async function main() {
  isolateBenchEnv();
  const basePort = Number(process.env.BENCH_PORT_BASE ?? 26_400);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 99 >= 32_768)
    throw new Error(`BENCH_PORT_BASE must be an integer with 1024 ≤ base and base + 99 < 32768, got ${basePort}`);
  const cfg = stackConfig("peer", { basePort, ephemeral: true, domain: "localhost" });
  const port = (k: keyof typeof PORTS) => basePort + PORTS[k];
  const origin = (k: keyof typeof PORTS) => `http://127.0.0.1:${port(k)}`;
  cleanups.push(() => stopStack(cfg));
  // The gateway's and the auth-service's memory after the run (5.), from inside them.
  const heapDir = join(cfg.dir, "heap");
  process.env.BENCH_HEAP_REPORT = heapDir;

  progress("building or finding Oathkeeper (scripts/build-oathkeeper.sh)");
  const okBin = oathkeeperBinary();
  const okVersion = execFileSync(okBin, ["version"], { encoding: "utf8" }).match(/v\d+\.\d+\.\d+/)?.[0] ?? "?";

  const child = (script: string, args: string[], env?: Record<string, string>) => {
    const c = new Child(resolve(import.meta.dirname, script), [], { args, ...(env ? { env } : {}) });
    cleanups.push(() => c.stop());
    return c;
  };
  const upstream = child("lib/upstream.ts", [String(port("upstream"))]);
  const loadgen = child("lib/loadgen.ts", []);

  progress(`starting stack "${cfg.name}" on ports ${basePort}+ (postgres, redis, mail, kratos)`);
  const stack = await startStack(cfg, {
    only: ["postgres", "redis", "mail", "kratos"],
    log: (l) => progress(`  ${l}`),
  });
  const kratosPid = stack.services.find((s) => s.name === "kratos")?.pid;
  const kratos = internalUrls(cfg).kratosPublic;
  mkdirSync(heapDir, { recursive: true });
  const whoamiApp = child("lib/express-app.ts", ["whoami", String(port("whoami"))], {
    BENCH_UPSTREAM: origin("upstream"),
    BENCH_KRATOS: kratos,
  });

  const auth = await startAuth(cfg, {}, "auth.log");
  cleanups.push(() => stopProcess(auth.pid));
  const routes = join(cfg.dir, "gateway-routes.yaml");
  writeFileSync(routes, ROUTES_YAML(origin("upstream")));
  const gateway = await startGateway(cfg, { name: "gateway", port: cfg.ports.gateway, routes, authUrl: auth.url });
  cleanups.push(() => stopProcess(gateway.pid));
  const startBaseline = async (root: string) => {
    const a = await startAuth(cfg, {}, "auth-baseline.log", {
      main: join(root, "apps/auth-service/src/main.ts"),
      portOffset: BASELINE_AUTH_OFFSET,
    });
    cleanups.push(() => stopProcess(a.pid));
    const g = await startGateway(cfg, {
      name: "gateway-baseline",
      port: port("baseline"),
      routes,
      authUrl: a.url,
      main: join(root, "apps/gateway/src/main.ts"),
      // Both auth-services sign as the stack's auth-service (same database, same keys).
      env: { TOKEN_ISSUER: auth.url },
    });
    cleanups.push(() => stopProcess(g.pid));
    return { origin: g.url, pids: [g.pid, a.pid] };
  };
  const baseline = COMPARE_ROOT === undefined ? undefined : await startBaseline(COMPARE_ROOT);

  const okLog = join(cfg.logDir, "oathkeeper.log");
  const okConfig = oathkeeperFiles(cfg.dir, okBin, {
    kratos,
    upstream: origin("upstream"),
    proxy: port("oathkeeperProxy"),
    api: port("oathkeeperApi"),
  });
  const okPid = startProcess({
    name: "oathkeeper",
    command: okBin,
    args: ["serve", "-c", okConfig],
    env: {},
    log: okLog,
  });
  cleanups.push(() => stopProcess(okPid));
  await waitReady("oathkeeper", okPid, okLog, () => httpOk(`${origin("oathkeeperApi")}/health/ready`), 30_000);
  await Promise.all([upstream.ready, loadgen.ready, whoamiApp.ready]);
  progress(
    `gateway ${gateway.pid}, auth-service ${auth.pid}, oathkeeper ${okVersion} ${okPid}, whoami ${whoamiApp.pid}`,
  );

  const servers: Partial<Record<Name, { origin: string; pids: number[] }>> &
    Record<Exclude<Name, "baseline">, { origin: string; pids: number[] }> = {
    gateway: { origin: gateway.url, pids: [gateway.pid, auth.pid] },
    oathkeeper: { origin: origin("oathkeeperProxy"), pids: [okPid] },
    whoami: { origin: origin("whoami"), pids: [whoamiApp.pid] },
    ...(baseline ? { baseline } : {}),
    kratos: { origin: kratos, pids: kratosPid === undefined ? [] : [kratosPid] },
    token: { origin: auth.url, pids: [auth.pid] },
  };
  const names = Object.keys(servers) as Name[];
  // What a subject is asked in 1.: the API route, or for the breakdown subjects their own call.
  const firstReq = (n: Name, token: string): Req =>
    n === "kratos"
      ? { origin: kratos, path: "/sessions/whoami", method: "GET", headers: { "x-session-token": token } }
      : n === "token"
        ? {
            origin: auth.url,
            path: "/v1/token",
            method: "POST",
            headers: { "x-session-token": token, "content-type": "application/json" },
            body: "{}",
          }
        : apiReq(server(n).origin, token);
  const server = (n: Name) => servers[n] as { origin: string; pids: number[] };

  // --- sessions -----------------------------------------------------------------------
  const t0 = performance.now();
  const users = await pooled(Array.from({ length: WARM_SESSIONS + MIX_SESSIONS }), 4, () => register(kratos, "peer"));
  // First requests, never seen by any server before the measured one: a new login of a
  // user every server already knows (a returning user signs in), and a brand-new user's
  // first session (the auth-service also records the user).
  const perKind = FIRST_PER_SUBJECT * names.length;
  const returning = await pooled(Array.from({ length: perKind }), 4, (_, i) =>
    login(kratos, (users[i % users.length] as Session).email),
  );
  const newcomers = await pooled(Array.from({ length: perKind }), 4, () => register(kratos, "peer-new"));
  progress(`${users.length + 2 * perKind} Kratos sessions in ${Math.round(performance.now() - t0)} ms`);
  const warm = users.slice(0, WARM_SESSIONS);
  const mix = users.slice(WARM_SESSIONS);

  // Prime: every server sees every user once (the gateway's auth-service learns them).
  const prime = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: names.flatMap((n) => users.map((s) => firstReq(n, s.token))),
  });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming answered ${[...new Set(prime.status)]}`);

  // --- 1. first request -----------------------------------------------------------------
  // One at a time, interleaved: session k goes to server (k + round) % (number of servers), so each server
  // gets FIRST_PER_SUBJECT never-seen sessions spread over the whole phase.
  const allPids = [...new Set(names.flatMap((n) => server(n).pids))];
  const firstRequests = async (label: string, sessions: Session[]) => {
    const order = sessions.map((s, k) => {
      const name = names[(k + Math.floor(k / names.length)) % names.length] as Name;
      return { name, req: firstReq(name, s.token) };
    });
    const seq = await phase(label, () =>
      loadgen.run<SequenceResult>({ kind: "sequence", requests: order.map((o) => o.req), cpuPids: allPids }),
    );
    if (seq.status.some((s) => s !== 200)) throw new Error(`${label}: answered ${[...new Set(seq.status)]}`);
    return Object.fromEntries(
      names.map((n) => {
        const idx = order.flatMap((o, k) => (o.name === n ? [k] : []));
        const ms = idx.map((k) => seq.ms[k] as number).sort((a, b) => a - b);
        const cols = server(n).pids.map((pid) => allPids.indexOf(pid));
        const cpuOf = (k: number, c: number) => seq.cpuMs?.[k]?.[c] ?? 0;
        const cpu = median(idx.map((k) => cols.reduce((sum, c) => sum + cpuOf(k, c), 0)));
        const cpuMsEach = cols.map((c) => median(idx.map((k) => cpuOf(k, c))));
        return [n, { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), cpuMs: cpu, cpuMsEach }];
      }),
    ) as Record<Name, FirstStats>;
  };
  progress(`first requests: ${perKind} returning users' new logins, then ${perKind} new users`);
  const first = {
    returning: await firstRequests("first returning", returning),
    newUser: await firstRequests("first new user", newcomers),
  };

  // --- 2–4. throughput, interleaved rounds ----------------------------------------------
  const closedRound = async (label: string, pids: number[], requests: Req[], ms: number) => {
    const c0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    const r = await phase(label, () =>
      loadgen.run<ClosedResult>({ kind: "closed", requests, connections: CONNECTIONS, durationMs: ms }),
    );
    const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0) - c0;
    if (r.non2xx || r.errors) throw new Error(`${label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { ...r, cpuUsPerReq: (cpu * 1e6) / r.requests };
  };
  const compare = async (label: string, subjects: Record<"gateway" | "oathkeeper", Req[]>) => {
    progress(`${label}: warm-up, then ${ROUNDS} interleaved rounds of ${ROUND_MS} ms`);
    const pidsOf = (n: "gateway" | "oathkeeper") => server(n).pids;
    for (const n of ["gateway", "oathkeeper"] as const)
      await closedRound(`${label} ${n}`, pidsOf(n), subjects[n], WARMUP_MS);
    const rounds = { gateway: [] as ClosedResult[], oathkeeper: [] as ClosedResult[] };
    const cpu = { gateway: [] as number[], oathkeeper: [] as number[] };
    for (let i = 0; i < ROUNDS; i++)
      for (const n of (i % 2 ? ["oathkeeper", "gateway"] : ["gateway", "oathkeeper"]) as ("gateway" | "oathkeeper")[]) {
        const r = await closedRound(`${label} ${n}`, pidsOf(n), subjects[n], ROUND_MS);
        rounds[n].push(r);
        cpu[n].push(r.cpuUsPerReq);
      }
    const sum = (rs: ClosedResult[], c: number[]) => ({
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpuUsPerReq: median(c),
    });
    return {
      gateway: sum(rounds.gateway, cpu.gateway),
      oathkeeper: sum(rounds.oathkeeper, cpu.oathkeeper),
      ratio: median(rounds.gateway.map((g, i) => g.rps / (rounds.oathkeeper[i] as ClosedResult).rps)),
    };
  };
  const api = (n: Name, ss: Session[]) => ss.map((s) => apiReq(server(n).origin, s.token));
  const warmCmp = await compare("warm", { gateway: api("gateway", warm), oathkeeper: api("oathkeeper", warm) });
  const mixCmp = await compare("mixed", { gateway: api("gateway", mix), oathkeeper: api("oathkeeper", mix) });
  const decCmp = await compare("decisions", {
    gateway: warm.map((s) => decisionsReq(gateway.url, s.token)),
    oathkeeper: warm.map((s) => oathkeeperDecisionsReq(origin("oathkeeperApi"), s.token)),
  });

  const rss = {
    gateway: rssMb(gateway.pid),
    authService: rssMb(auth.pid),
    oathkeeper: rssMb(okPid),
    whoami: rssMb(whoamiApp.pid),
  };
  const heap = { gateway: await heapReport(heapDir, gateway.pid), authService: await heapReport(heapDir, auth.pid) };
  return { okVersion, first, warm: warmCmp, mixed: mixCmp, decisions: decCmp, rss, heap };
}

type Result = Awaited<ReturnType<typeof main>>;

function report(r: Result, totalSec: number): string {
  const { lines, row, flush } = reportBuilder();
  lines.push(`Gatehouse vs Oathkeeper ${r.okVersion}, same Kratos and upstream, ${f(totalSec, 0)} s`);
  for (const [label, first] of [
    ["1a. a session's first request: a returning user's new login, one at a time", r.first.returning],
    ["1b. a session's first request: a new user's first session, one at a time", r.first.newUser],
  ] as const) {
    lines.push("", label);
    row("", "n", "p50 ms", "p99 ms", "server CPU ms/req", "per process");
    for (const [n, x] of Object.entries(first))
      row(
        n,
        String(x.n),
        f(x.p50),
        f(x.p99),
        f(x.cpuMs),
        x.cpuMsEach.length > 1 ? x.cpuMsEach.map((c) => f(c)).join(" + ") : "",
      );
    flush();
    const ratio = first.gateway.p50 / first.oathkeeper.p50;
    lines.push(
      `  gateway ÷ oathkeeper p50: ${f(ratio)}× (goal ≤ ${GOAL_FIRST_RATIO}×: ${ratio <= GOAL_FIRST_RATIO ? "met" : "NOT met"}); ` +
        `gateway ÷ whoami p50: ${f(first.gateway.p50 / first.whoami.p50)}×`,
    );
    const { kratos, token } = first as Partial<Record<Name, FirstStats>>;
    if (kratos !== undefined && token !== undefined)
      lines.push(
        `  p50 above Kratos' whoami (${f(kratos.p50)} ms): oathkeeper +${f(first.oathkeeper.p50 - kratos.p50)} ms; ` +
          `gateway +${f(first.gateway.p50 - kratos.p50)} ms = auth-service's POST /v1/token ` +
          `+${f(token.p50 - kratos.p50)} ms + the gateway's own +${f(first.gateway.p50 - token.p50)} ms`,
      );
    const base = (first as Partial<Record<Name, FirstStats>>).baseline;
    if (base !== undefined)
      lines.push(
        `  gateway ÷ baseline (BENCH_COMPARE_ROOT) p50: ${f(first.gateway.p50 / base.p50)}×, ` +
          `server CPU: ${f(first.gateway.cpuMs / base.cpuMs)}×`,
      );
  }
  for (const [label, c] of [
    ["2. warm sessions (8), closed loop, 16 connections", r.warm],
    ["3. 200 sessions, closed loop, 16 connections", r.mixed],
    ["4. forward-auth decisions, 8 warm sessions", r.decisions],
  ] as const) {
    lines.push("", label);
    row("", "req/s", "p50 ms", "p99 ms", "server CPU µs/req");
    for (const n of ["gateway", "oathkeeper"] as const)
      row(n, f(c[n].rps, 0), f(c[n].p50), f(c[n].p99), f(c[n].cpuUsPerReq, 0));
    flush();
    lines.push(`  throughput gateway ÷ oathkeeper: ${f(c.ratio)}×`);
  }
  lines.push("", "5. RSS after the run (MB); for the Node services, what V8 holds of it");
  row("", "RSS", "heap used", "heap size", "young gen", "code", "outside heap");
  const heapCols = (h: Record<string, unknown> | undefined): string[] => {
    if (h === undefined) return [];
    const spaces = h.spaces as Record<string, { size: number; used: number }>;
    const n = (k: string) => f(h[k] as number, 0);
    return [n("heapUsed"), n("heapTotal"), f(spaces.new_space?.size ?? 0, 0), n("code"), n("external")];
  };
  row("gateway", f(r.rss.gateway, 0), ...heapCols(r.heap.gateway));
  row("auth-service", f(r.rss.authService, 0), ...heapCols(r.heap.authService));
  row("oathkeeper", f(r.rss.oathkeeper, 0));
  row("express whoami", f(r.rss.whoami, 0));
  flush();
  return lines.join("\n");
}

await runBench({
  out: OUT,
  main,
  report,
  record: (r, table) => ({
    settings: { ROUNDS, ROUND_MS, CONNECTIONS, WARM_SESSIONS, MIX_SESSIONS, FIRST_PER_SUBJECT },
    ...r,
    table,
  }),
});

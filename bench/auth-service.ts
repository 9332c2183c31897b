// The auth-service's benchmarks, in one command that needs nothing running:
//   node bench/auth-service.ts
// It starts its own ephemeral stack (Postgres, Redis, mail catcher, Kratos) on
// ports 27400+ (BENCH_PORT_BASE to move it), the auth-service as a child process,
// a plain Express hello-world as the baseline server and an undici load generator
// in another child process; measures; prints a table; writes
// bench/results/auth-service.json; stops everything. About 70 s.
//
//  1. warm POST /v1/token (session and minted token cached) vs an Express 5
//     hello-world POST, interleaved rounds: throughput ratio, p50/p99, server CPU
//  2. cold exchange (a session the service has never seen) vs Kratos' own
//     GET /sessions/whoami for the same session tokens, interleaved per session
//  3. 1,000 concurrent POST /v1/token for one uncached session: whoami requests
//     that reached Kratos, counted by a proxy in front of it
//  4. heap of 100,000 cached sessions in the in-process cache (bench/lib/heap.ts)
// Signing throughput per algorithm is bench/tokens-sign.ts, not repeated here.
// See bench/README.md for what each number means.
import { fork } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import pg from "pg";
import { countingProxy } from "../tools/stack/counting-proxy.ts";
import { internalUrls, readState, type StackConfig, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import { stopProcess } from "../tools/stack/supervisor.ts";
import { startAuth } from "./lib/auth.ts";
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
import { login, register, type Session } from "./lib/kratos.ts";
import { type BurstResult, type ClosedResult, percentile, type Req, type SequenceResult } from "./lib/loadgen.ts";

// --- knobs ------------------------------------------------------------------

const ROUNDS = 5; // interleaved baseline/subject rounds for the warm comparison
const ROUND_MS = 2_000;
const WARMUP_MS = 1_500;
const CONNECTIONS = 16; // closed-loop connections for the warm comparison
const WARM_SESSIONS = 8; // distinct cached sessions, round-robin over connections
const COLD_PER_KIND = 150; // sessions per cold kind (new identity / returning identity)
const RETURNING_IDENTITIES = 10;
const COLD_WARMUP = 40; // unmeasured cold exchanges first, so the cold path is JIT-compiled like the rest
const BURST = 1_000;
const HEAP_ENTRIES = 100_000;
const DEADLINE_MS = 170_000; // the whole run, start to stop; a watchdog ends it past this

const GOALS = { warmRatio: 0.9, coldRatio: 1.2, whoamiInBurst: 1, heapMB: 60 };
const BENCH_DIR = import.meta.dirname;
const OUT = resolve(BENCH_DIR, "results/auth-service.json");

// --- processes ----------------------------------------------------------------

function heapRun(layout: "seed" | "compact"): Promise<{ bytes: number; bytesPerEntry: number; entries: number }> {
  return new Promise((res, rej) => {
    const c = fork(resolve(BENCH_DIR, "lib/heap.ts"), [layout, String(HEAP_ENTRIES)], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    cleanups.push(() => {
      if (c.exitCode === null) c.kill();
    });
    let out = "";
    c.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    c.on("exit", (code) => {
      if (code !== 0) return rej(new Error(`heap ${layout} exited with ${code}`));
      try {
        res(
          JSON.parse(out.trim().split("\n").pop() ?? "") as { bytes: number; bytesPerEntry: number; entries: number },
        );
      } catch (e) {
        rej(e as Error);
      }
    });
  });
}

// --- cold: whoami vs exchange, per session ------------------------------------------

interface ColdStats {
  n: number;
  whoami: { p50: number; p99: number };
  exchange: { p50: number; p99: number };
  /** Median over ROUNDS blocks of consecutive sessions of (exchange p50 / whoami p50). */
  ratio: number;
  blockRatios: number[];
  ratioP99: number;
  /** Median over sessions of (exchange ms − whoami ms) for the same session. */
  adapterMs: number;
  /** Median CPU time the auth-service (all threads) used per exchange, ms. */
  authCpuMs: number;
  /** Median CPU time Kratos (all threads; not its Postgres) used per whoami, ms. */
  kratosCpuMs: number;
}

/**
 * For every session: Kratos whoami and the auth-service exchange back to back,
 * alternating which goes first; kinds alternate too, so drift and noise hit
 * both sides alike. One request at a time.
 */
async function coldRun<K extends string>(
  loadgen: Child,
  pids: { auth: number; kratos: number },
  whoamiReq: (t: string) => Req,
  exchangeReq: (t: string) => Req,
  kinds: Record<K, Session[]>,
): Promise<Record<K, ColdStats>> {
  const names = Object.keys(kinds) as K[];
  const n = Math.min(...names.map((k) => kinds[k].length));
  const order: { kind: K; token: string; whoamiFirst: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    names.forEach((kind, j) => {
      order.push({ kind, token: (kinds[kind][i] as Session).token, whoamiFirst: (i + j) % 2 === 0 });
    });
  }
  const seq = await loadgen.run<SequenceResult>({
    kind: "sequence",
    cpuPids: [pids.auth, pids.kratos],
    requests: order.flatMap((o) =>
      o.whoamiFirst ? [whoamiReq(o.token), exchangeReq(o.token)] : [exchangeReq(o.token), whoamiReq(o.token)],
    ),
  });
  if (seq.status.some((s) => s !== 200)) throw new Error(`cold: statuses ${[...new Set(seq.status)].join(",")}`);
  const out = {} as Record<K, ColdStats>;
  for (const kind of names) {
    const w: number[] = [];
    const x: number[] = [];
    const cpu: number[] = [];
    const kcpu: number[] = [];
    order.forEach((o, k) => {
      if (o.kind !== kind) return;
      const a = seq.ms[2 * k] as number;
      const b = seq.ms[2 * k + 1] as number;
      w.push(o.whoamiFirst ? a : b);
      x.push(o.whoamiFirst ? b : a);
      cpu.push(seq.cpuMs?.[o.whoamiFirst ? 2 * k + 1 : 2 * k]?.[0] ?? Number.NaN);
      kcpu.push(seq.cpuMs?.[o.whoamiFirst ? 2 * k : 2 * k + 1]?.[1] ?? Number.NaN);
    });
    const sw = [...w].sort((a, b) => a - b);
    const sx = [...x].sort((a, b) => a - b);
    const per = Math.floor(w.length / ROUNDS);
    const blockRatios = Array.from(
      { length: ROUNDS },
      (_, b) => median(x.slice(b * per, (b + 1) * per)) / median(w.slice(b * per, (b + 1) * per)),
    );
    out[kind] = {
      n: w.length,
      whoami: { p50: percentile(sw, 50), p99: percentile(sw, 99) },
      exchange: { p50: percentile(sx, 50), p99: percentile(sx, 99) },
      ratio: median(blockRatios),
      blockRatios,
      ratioP99: percentile(sx, 99) / percentile(sw, 99),
      adapterMs: median(x.map((v, i) => v - (w[i] as number))),
      authCpuMs: median(cpu),
      kratosCpuMs: median(kcpu),
    };
  }
  return out;
}

async function freshDatabase(cfg: StackConfig, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: internalUrls(cfg).databaseAdmin });
  await c.connect();
  try {
    await c.query(`drop database if exists ${name}`);
    await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(internalUrls(cfg).database);
  u.pathname = `/${name}`;
  return u.toString();
}

// --- the run ------------------------------------------------------------------------

stopOnSignalsAndDeadline(DEADLINE_MS);

async function main() {
  isolateBenchEnv();

  const basePort = Number(process.env.BENCH_PORT_BASE ?? 27_400);
  const cfg = stackConfig("bench", { basePort, ephemeral: true, domain: "localhost" });
  cleanups.push(() => stopStack(cfg));

  // The heap measurements need no stack: run them while it starts.
  progress(`heap: ${HEAP_ENTRIES} sessions, seed and compact layouts (child processes)`);
  const heapP = Promise.all([heapRun("seed"), heapRun("compact")]);
  heapP.catch(() => {});

  progress(`starting stack "${cfg.name}" on ports ${basePort}+ (postgres, redis, mail, kratos)`);
  await startStack(cfg, { only: ["postgres", "redis", "mail", "kratos"], log: (l) => progress(`  ${l}`) });
  const kratos = internalUrls(cfg).kratosPublic;
  const kratosPid = readState(cfg.stateFile)?.services.find((sv) => sv.name === "kratos")?.pid ?? 0;

  const proxy = await countingProxy(kratos, "/sessions/whoami");
  cleanups.push(() => proxy.close());

  let auth = await startAuth(cfg, {}, "auth.log");
  cleanups.push(() => stopProcess(auth.pid));
  progress(`auth-service up (pid ${auth.pid})`);
  // BENCH_COMPARE_MAIN=<path>/main.ts: a second auth-service build (another
  // checkout, say) measured in the same warm rounds, for an A/B of a change.
  const compareMain = process.env.BENCH_COMPARE_MAIN ? resolve(process.env.BENCH_COMPARE_MAIN) : undefined;
  const authB = compareMain
    ? await startAuth(cfg, {}, "auth-compare.log", { main: compareMain, portOffset: 2 })
    : undefined;
  if (authB) {
    cleanups.push(() => stopProcess(authB.pid));
    progress(`comparison auth-service up (pid ${authB.pid}, ${compareMain})`);
  }

  const hello = new Child(resolve(BENCH_DIR, "lib/hello-express.ts"), profArgs("express-hello"));
  cleanups.push(() => hello.stop());
  const helloInfo = (await hello.ready) as { port: number; version: string };
  const helloPid = hello.pid;
  const loadgen = new Child(resolve(BENCH_DIR, "lib/loadgen.ts"));
  cleanups.push(() => loadgen.stop());
  await loadgen.ready;

  const exchangeReq = (token: string, origin = auth.url): Req => ({
    origin,
    path: "/v1/token",
    method: "POST",
    headers: { "x-session-token": token, "content-type": "application/json" },
    body: "{}",
  });
  const whoamiReq = (token: string): Req => ({
    origin: kratos,
    path: "/sessions/whoami",
    method: "GET",
    headers: { "x-session-token": token, accept: "application/json" },
  });

  // --- sessions ---------------------------------------------------------------
  const ts = performance.now();
  const warmSessions = await pooled(Array.from({ length: WARM_SESSIONS }), 4, () => register(kratos, "warm"));
  const returning = await pooled(Array.from({ length: RETURNING_IDENTITIES }), 4, () => register(kratos, "ret"));
  const coldNew = await pooled(Array.from({ length: COLD_PER_KIND }), 4, () => register(kratos, "new"));
  const coldReturning = await pooled(Array.from({ length: COLD_PER_KIND }), 4, (_, i) =>
    login(kratos, (returning[i % returning.length] as Session).email),
  );
  const coldWarmup = await pooled(Array.from({ length: COLD_WARMUP }), 4, (_, i) =>
    login(kratos, (returning[i % returning.length] as Session).email),
  );
  progress(
    `${WARM_SESSIONS + RETURNING_IDENTITIES + 2 * COLD_PER_KIND + COLD_WARMUP} Kratos sessions in ${Math.round(performance.now() - ts)} ms`,
  );

  // Prime: each warm session exchanged once (its session and token are then cached);
  // each returning identity once (the service then knows the user and its roles).
  const prime = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: [...warmSessions, ...returning].map((s) => exchangeReq(s.token)),
  });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming exchanges answered ${prime.status.join(",")}`);
  if (authB) {
    const primeB = await loadgen.run<SequenceResult>({
      kind: "sequence",
      requests: warmSessions.map((s) => exchangeReq(s.token, authB.url)),
    });
    if (primeB.status.some((s) => s !== 200)) throw new Error(`comparison build answered ${primeB.status.join(",")}`);
  }

  // --- 1. warm ------------------------------------------------------------------
  const helloReq: Req = {
    origin: `http://127.0.0.1:${helloInfo.port}`,
    path: "/hello",
    method: "POST",
    headers: { "x-session-token": (warmSessions[0] as Session).token, "content-type": "application/json" },
    body: "{}",
  };
  type Which = "express" | "auth" | "compare";
  const subjects: Record<Which, { requests: Req[]; pid: number }> = {
    express: { requests: [helloReq], pid: helloPid },
    auth: { requests: warmSessions.map((s) => exchangeReq(s.token)), pid: auth.pid },
    compare: { requests: warmSessions.map((s) => exchangeReq(s.token, authB?.url)), pid: authB?.pid ?? 0 },
  };
  const order: Which[] = authB ? ["express", "auth", "compare"] : ["express", "auth"];
  type Round = ClosedResult & { cpuUsPerReq: number; serverCpu: number };
  const rounds: Record<Which, Round[]> = { express: [], auth: [], compare: [] };
  const closedRound = async (which: Which, ms: number): Promise<Round> => {
    const s = subjects[which];
    const c0 = cpuSeconds(s.pid);
    const r = await loadgen.run<ClosedResult>({
      kind: "closed",
      requests: s.requests,
      connections: CONNECTIONS,
      durationMs: ms,
    });
    const cpu = cpuSeconds(s.pid) - c0;
    if (r.non2xx || r.errors) throw new Error(`${which}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { ...r, cpuUsPerReq: (cpu * 1e6) / r.requests, serverCpu: cpu / (r.elapsedMs / 1000) };
  };
  progress(
    `1. warm: warm-up, then ${ROUNDS} × (${order.join(", ")}) rounds of ${ROUND_MS} ms, ${CONNECTIONS} connections`,
  );
  for (const w of order) await closedRound(w, WARMUP_MS);
  await phase("warm", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      for (const w of order) rounds[w].push(await closedRound(w, ROUND_MS));
    }
  });
  const ratioOf = (a: Round[], b: Round[], k: "rps" | "cpuUsPerReq") => a.map((x, i) => x[k] / (b[i] as Round)[k]);
  const warmRatios = ratioOf(rounds.auth, rounds.express, "rps");
  const cpuRatios = ratioOf(rounds.auth, rounds.express, "cpuUsPerReq");
  const summarize = (rs: Round[]) => ({
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
    serverCpu: median(rs.map((r) => r.serverCpu)),
    clientCpu: median(rs.map((r) => r.clientCpu)),
    requests: rs.reduce((n, r) => n + r.requests, 0),
  });
  const warm = {
    express: summarize(rounds.express),
    auth: summarize(rounds.auth),
    ratio: median(warmRatios),
    ratios: warmRatios,
    cpuRatio: median(cpuRatios),
    ...(authB
      ? {
          compare: {
            main: compareMain,
            ...summarize(rounds.compare),
            ratio: median(ratioOf(rounds.compare, rounds.express, "rps")),
            authOverCompare: median(ratioOf(rounds.auth, rounds.compare, "rps")),
            cpuAuthOverCompare: median(ratioOf(rounds.auth, rounds.compare, "cpuUsPerReq")),
          },
        }
      : {}),
    rounds,
  };
  if (authB) await stopProcess(authB.pid);

  // --- 2. cold ------------------------------------------------------------------
  progress(`2. cold: ${2 * COLD_PER_KIND} new sessions, each: Kratos whoami + auth-service exchange (sequential)`);
  const warmupCold = async (sessions: Session[]) => {
    const r = await loadgen.run<SequenceResult>({
      kind: "sequence",
      requests: sessions.flatMap((x) => [whoamiReq(x.token), exchangeReq(x.token)]),
    });
    if (r.status.some((st) => st !== 200)) throw new Error(`cold warm-up answered ${[...new Set(r.status)].join(",")}`);
  };
  await warmupCold(coldWarmup);
  const coldA = await phase("cold", () =>
    coldRun(loadgen, { auth: auth.pid, kratos: kratosPid }, whoamiReq, exchangeReq, {
      new: coldNew,
      returning: coldReturning,
    }),
  );

  // The same for returning identities with ES256 signing (a fresh database, so a
  // fresh ES256 key), to show the part of the cold exchange that is RS256 signing.
  progress(`2b. cold with TOKEN_ALG=ES256: ${COLD_PER_KIND} more logins, auth-service restarted on a fresh database`);
  await stopProcess(auth.pid);
  const esDb = await freshDatabase(cfg, "gatehouse_bench_es256");
  auth = await startAuth(cfg, { TOKEN_ALG: "ES256", DATABASE_URL: esDb }, "auth-es256.log");
  const coldEs = await pooled(Array.from({ length: COLD_PER_KIND + COLD_WARMUP }), 4, (_, i) =>
    login(kratos, (returning[i % returning.length] as Session).email),
  );
  const primeEs = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: returning.map((s) => exchangeReq(s.token)),
  });
  if (primeEs.status.some((s) => s !== 200)) throw new Error(`ES256 priming answered ${primeEs.status.join(",")}`);
  // A fresh process: warm its code up like the first one's (warm rounds, then cold exchanges).
  await loadgen.run<ClosedResult>({
    kind: "closed",
    requests: returning.map((x) => exchangeReq(x.token)),
    connections: CONNECTIONS,
    durationMs: WARMUP_MS,
  });
  await warmupCold(coldEs.slice(COLD_PER_KIND));
  const coldB = await phase("cold ES256", () =>
    coldRun(loadgen, { auth: auth.pid, kratos: kratosPid }, whoamiReq, exchangeReq, {
      returning: coldEs.slice(0, COLD_PER_KIND),
    }),
  );
  const cold = {
    newIdentity: coldA.new,
    returningIdentity: coldA.returning,
    returningIdentityEs256: coldB.returning,
  };

  // --- 3. single-flight -------------------------------------------------------------
  progress(`3. single-flight: auth-service restarted behind the counting proxy; ${BURST} concurrent exchanges × 2`);
  await stopProcess(auth.pid);
  auth = await startAuth(cfg, { KRATOS_PUBLIC_URL: proxy.url }, "auth-proxied.log");
  const burstOf = async (token: string) => {
    const before = proxy.count;
    const b = await loadgen.run<BurstResult>({
      kind: "burst",
      request: exchangeReq(token),
      n: BURST,
      warmPath: "/health/alive",
    });
    const whoami = proxy.count - before;
    const statuses: Record<string, number> = {};
    for (const st of b.status) statuses[st] = (statuses[st] ?? 0) + 1;
    const tokens = new Set<string | undefined>();
    b.bodies.forEach((body, k) => {
      if (b.status[k] === 200) tokens.add((JSON.parse(body) as { access_token?: string }).access_token);
    });
    const firstError = b.bodies.find((_, k) => b.status[k] !== 200);
    return {
      requests: BURST,
      ok: b.status.filter((st) => st === 200).length,
      statuses,
      ...(firstError !== undefined ? { firstError: firstError.slice(0, 240) } : {}),
      whoami,
      distinctTokens: tokens.size,
      elapsedMs: b.elapsedMs,
    };
  };
  // (a) a brand-new user: every request also creates the user and loads its roles.
  const newUserBurst = await burstOf((await register(kratos, "burst")).token);
  // (b) a new session of a user this process already knows (one earlier exchange).
  const known = returning[0] as Session;
  const primeKnown = await loadgen.run<SequenceResult>({ kind: "sequence", requests: [exchangeReq(known.token)] });
  if (primeKnown.status[0] !== 200) throw new Error(`burst priming answered ${primeKnown.status[0]}`);
  const knownUserBurst = await burstOf((await login(kratos, known.email)).token);
  const singleflight = { newUser: newUserBurst, knownUser: knownUserBurst };

  // --- 4. heap ----------------------------------------------------------------------
  const [seedHeap, compactHeap] = await heapP;
  const heap = {
    entries: HEAP_ENTRIES,
    compact: { mb: compactHeap.bytes / 1e6, bytesPerEntry: compactHeap.bytesPerEntry },
    seed: { mb: seedHeap.bytes / 1e6, bytesPerEntry: seedHeap.bytesPerEntry },
    ratio: compactHeap.bytes / seedHeap.bytes,
  };

  return { cfg, helloInfo, warm, cold, singleflight, heap };
}

function report(r: Awaited<ReturnType<typeof main>>, totalSec: number): string {
  const { warm, cold, singleflight: sf, heap } = r;
  const ok = (b: boolean) => (b ? "PASS" : "FAIL");
  const { lines, row: line, flush } = reportBuilder();
  lines.push(
    `Gatehouse auth-service bench: node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; total ${totalSec.toFixed(0)} s`,
  );
  lines.push("");
  lines.push(
    `1. Warm POST /v1/token vs Express ${r.helloInfo.version} hello-world POST: ${ROUNDS} interleaved rounds × ${ROUND_MS / 1000} s, closed loop, ${CONNECTIONS} keep-alive connections`,
  );
  line("", "req/s", "p50 ms", "p99 ms", "server CPU µs/req", "server CPU", "client CPU");
  for (const [name, s] of [
    ["express hello-world", warm.express],
    ["auth-service warm", warm.auth],
    ...(warm.compare ? ([["comparison build warm (BENCH_COMPARE_MAIN)", warm.compare]] as const) : []),
  ] as const) {
    line(
      name,
      f(s.rps, 0),
      f(s.p50),
      f(s.p99),
      f(s.cpuUsPerReq, 0),
      `${f(s.serverCpu * 100, 0)}%`,
      `${f(s.clientCpu * 100, 0)}%`,
    );
  }
  flush();
  lines.push(
    `  throughput ratio auth/express (median of rounds): ${f(warm.ratio)}×  [rounds ${warm.ratios.map((x) => f(x)).join(" ")}]  goal ≥ ${GOALS.warmRatio}×  ${ok(warm.ratio >= GOALS.warmRatio)}`,
  );
  lines.push(`  server CPU per request ratio auth/express (median of rounds): ${f(warm.cpuRatio)}×`);
  if (warm.compare) {
    lines.push(
      `  this build vs comparison build (${warm.compare.main}): throughput ${f(warm.compare.authOverCompare)}×, CPU per request ${f(warm.compare.cpuAuthOverCompare)}× (medians of rounds)`,
    );
  }
  lines.push("");
  lines.push(
    `2. Cold exchange (session never seen: L1, Redis and minted-token misses) vs Kratos GET /sessions/whoami, same session tokens, one request at a time`,
  );
  line(
    "",
    "n",
    "whoami p50",
    "whoami p99",
    "exchange p50",
    "exchange p99",
    "ratio p50",
    "ratio p99",
    "adapter ms",
    "Kratos CPU ms",
    "auth CPU ms",
  );
  for (const [name, c] of [
    ["new identity (first exchange after sign-up)", cold.newIdentity],
    ["returning identity (new login, roles cached)", cold.returningIdentity],
    ["returning identity, TOKEN_ALG=ES256", cold.returningIdentityEs256],
  ] as const) {
    line(
      name,
      String(c.n),
      f(c.whoami.p50),
      f(c.whoami.p99),
      f(c.exchange.p50),
      f(c.exchange.p99),
      `${f(c.ratio)}×`,
      `${f(c.ratioP99)}×`,
      f(c.adapterMs),
      f(c.kratosCpuMs),
      f(c.authCpuMs),
    );
  }
  flush();
  lines.push(
    `  ratio p50 = median over ${ROUNDS} blocks of exchange p50 / whoami p50; adapter ms = median of (exchange − whoami) per session; CPU ms = median CPU time of the Kratos process per whoami / of the auth-service per exchange (all threads; Postgres and Redis not counted); goal ≤ ${GOALS.coldRatio}×: new identity ${ok(cold.newIdentity.ratio <= GOALS.coldRatio)}, returning identity ${ok(cold.returningIdentity.ratio <= GOALS.coldRatio)}, returning identity ES256 ${ok(cold.returningIdentityEs256.ratio <= GOALS.coldRatio)}`,
  );
  lines.push("");
  lines.push(`3. ${BURST} concurrent POST /v1/token for one uncached session (counting proxy in front of Kratos)`);
  line("", "whoami at Kratos", "answers", "distinct tokens", "burst ms");
  for (const [name, b] of [
    ["new user's first session", sf.newUser],
    ["known user's new session", sf.knownUser],
  ] as const) {
    line(
      name,
      String(b.whoami),
      Object.entries(b.statuses)
        .map(([st, c]) => `${c} × ${st}`)
        .join(", "),
      String(b.distinctTokens),
      f(b.elapsedMs, 0),
    );
  }
  flush();
  const one = sf.newUser.whoami === GOALS.whoamiInBurst && sf.knownUser.whoami === GOALS.whoamiInBurst;
  lines.push(
    `  whoami goal: exactly ${GOALS.whoamiInBurst}  ${ok(one)}; one token for all would mean one mint (see README)`,
  );
  for (const x of [sf.newUser, sf.knownUser]) if (x.firstError) lines.push(`  first non-200 body: ${x.firstError}`);
  lines.push("");
  lines.push(
    `4. Heap of ${heap.entries.toLocaleString("en")} cached sessions (heapUsed delta after gc, node --expose-gc)`,
  );
  line("", "MB", "bytes/entry");
  line("compact layout (SessionResolver L1 now)", f(heap.compact.mb, 1), f(heap.compact.bytesPerEntry, 0));
  line("seed layout (KratosSession objects, hex keys)", f(heap.seed.mb, 1), f(heap.seed.bytesPerEntry, 0));
  flush();
  lines.push(`  compact/seed: ${f(heap.ratio)}×  goal ≤ ${GOALS.heapMB} MB  ${ok(heap.compact.mb <= GOALS.heapMB)}`);
  lines.push("");
  lines.push("Signing throughput per algorithm: node bench/tokens-sign.ts (not repeated here).");
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
      connections: CONNECTIONS,
      warmSessions: WARM_SESSIONS,
      coldPerKind: COLD_PER_KIND,
      coldWarmup: COLD_WARMUP,
      authLogLevel: "info",
      kratosBcryptCost: 4,
      burst: BURST,
      heapEntries: HEAP_ENTRIES,
      stackPortBase: r.cfg.basePort,
    },
    goals: GOALS,
    warm: r.warm,
    cold: r.cold,
    singleflight: r.singleflight,
    heap: r.heap,
    table,
  }),
});

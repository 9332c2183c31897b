// A/B of auth-service builds on the warm POST /v1/token of bench/auth-service.ts (1.):
//   node bench/auth-service-ab.ts <checkout> [<checkout> …]
// Each <checkout> is a directory holding the repository (its own node_modules, e.g.
// a `git worktree` after `pnpm install`, or this one: `.`). Every build runs as its
// own auth-service on one stack, next to the Express hello-world, all measured in
// the same interleaved rounds (the order alternates every round), so a change shows
// up as a difference within one run instead of between two noisy ones. Many short
// rounds ride out a busy machine better than a few long ones.
// Prints req/s, server CPU µs per request, and per build the medians of the per-round
// ratios against the hello-world and against the first build.
// AB_ROUNDS (default 20) rounds of AB_ROUND_MS (default 1000) ms; ports 28400+ (BENCH_PORT_BASE).
import { join, resolve } from "node:path";
import { internalUrls, REPO_ROOT, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import { stopProcess } from "../tools/stack/supervisor.ts";
import { startAuth } from "./lib/auth.ts";
import {
  Child,
  cleanup,
  cleanups,
  cpuSeconds,
  f,
  isolateBenchEnv,
  median,
  pooled,
  progress,
  reportBuilder,
  stopOnSignalsAndDeadline,
} from "./lib/harness.ts";
import { register } from "./lib/kratos.ts";
import type { ClosedResult, Req, SequenceResult } from "./lib/loadgen.ts";

const CONNECTIONS = 16;
const SESSIONS = 8;

interface Server {
  name: string;
  pid: number;
  requests: Req[];
}

function usage(message: string): never {
  console.error(`auth-service-ab: ${message}\nusage: node bench/auth-service-ab.ts <checkout> [<checkout> …]`);
  process.exit(2);
}

const checkouts = process.argv.slice(2).map((c) => resolve(c));
if (checkouts.length === 0) usage("name at least one checkout");
const rounds = Number(process.env.AB_ROUNDS ?? 20);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 200) usage("AB_ROUNDS must be an integer from 1 to 200");
const roundMs = Number(process.env.AB_ROUND_MS ?? 1_000);
if (!Number.isInteger(roundMs) || roundMs < 200 || roundMs > 10_000) usage("AB_ROUND_MS must be 200 to 10000");
const basePort = Number(process.env.BENCH_PORT_BASE ?? 28_400);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 99 >= 32_768)
  usage("BENCH_PORT_BASE must be an integer with 1024 ≤ base and base + 99 < 32768");

stopOnSignalsAndDeadline(120_000 + (checkouts.length + 1) * (rounds * roundMs + 30_000));

const exchange = (origin: string, token: string): Req => ({
  origin,
  path: "/v1/token",
  method: "POST",
  headers: { "x-session-token": token, "content-type": "application/json" },
  body: "{}",
});

async function main() {
  isolateBenchEnv();
  const cfg = stackConfig("auth-ab", { basePort, ephemeral: true, domain: "localhost" });
  cleanups.push(() => stopStack(cfg));
  const child = (script: string) => {
    const c = new Child(script);
    cleanups.push(() => c.stop());
    return c;
  };
  const hello = child(resolve(REPO_ROOT, "bench/lib/hello-express.ts"));
  const loadgen = child(resolve(REPO_ROOT, "bench/lib/loadgen.ts"));
  progress(`starting stack "${cfg.name}" on ports ${basePort}+`);
  await startStack(cfg, { only: ["postgres", "redis", "mail", "kratos"] });
  const sessions = await pooled(Array.from({ length: SESSIONS }), 4, () =>
    register(internalUrls(cfg).kratosPublic, "ab"),
  );
  const builds: Server[] = [];
  for (const [i, dir] of checkouts.entries()) {
    // One at a time: the first one migrates the database the others share.
    const a = await startAuth(cfg, {}, `auth-${i + 1}.log`, {
      main: join(dir, "apps/auth-service/src/main.ts"),
      portOffset: 2 * i,
      cpuProf: false,
    });
    cleanups.push(() => stopProcess(a.pid));
    builds.push({ name: `${i + 1}: ${dir}`, pid: a.pid, requests: sessions.map((s) => exchange(a.url, s.token)) });
    progress(`build ${i + 1} up (${dir})`);
  }
  const info = (await hello.ready) as { port: number; version: string };
  await loadgen.ready;
  const baseline: Server = {
    name: `express ${info.version} hello-world`,
    pid: hello.pid,
    requests: [{ ...exchange(`http://127.0.0.1:${info.port}`, sessions[0]?.token ?? ""), path: "/hello" }],
  };
  const prime = await loadgen.run<SequenceResult>({ kind: "sequence", requests: builds.flatMap((b) => b.requests) });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming answered ${prime.status.join(",")}`);

  const servers = [baseline, ...builds];
  const seen = new Map<Server, { rps: number[]; cpu: number[] }>(servers.map((s) => [s, { rps: [], cpu: [] }]));
  const round = async (s: Server, ms: number) => {
    const c0 = cpuSeconds(s.pid);
    const r = await loadgen.run<ClosedResult>({
      kind: "closed",
      requests: s.requests,
      connections: CONNECTIONS,
      durationMs: ms,
    });
    if (r.non2xx || r.errors) throw new Error(`${s.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { rps: r.rps, cpu: ((cpuSeconds(s.pid) - c0) * 1e6) / r.requests };
  };
  progress(`warm-up, then ${rounds} rounds of ${roundMs} ms over ${servers.length} servers`);
  for (const s of servers) await round(s, 1_500);
  for (let i = 0; i < rounds; i++) {
    for (const s of i % 2 === 0 ? servers : [...servers].reverse()) {
      const r = await round(s, roundMs);
      seen.get(s)?.rps.push(r.rps);
      seen.get(s)?.cpu.push(r.cpu);
    }
  }

  const of = (s: Server) => seen.get(s) as { rps: number[]; cpu: number[] };
  const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / (b[i] as number)));
  const first = of(builds[0] as Server);
  const report = reportBuilder();
  report.row("", "req/s", "CPU µs/req", "req/s vs hello", "CPU vs hello", "req/s vs 1", "CPU vs 1");
  for (const s of servers) {
    const e = of(s);
    const build = s !== baseline;
    report.row(
      s.name,
      f(median(e.rps), 0),
      f(median(e.cpu), 1),
      build ? `${f(ratio(e.rps, of(baseline).rps))}×` : "",
      build ? `${f(ratio(e.cpu, of(baseline).cpu))}×` : "",
      build ? `${f(ratio(e.rps, first.rps), 3)}×` : "",
      build ? `${f(ratio(e.cpu, first.cpu), 3)}×` : "",
    );
  }
  console.log(
    `auth-service-ab: warm POST /v1/token, ${rounds} interleaved rounds × ${roundMs / 1000} s, ${CONNECTIONS} connections; ratios are medians of per-round ratios`,
  );
  report.flush();
  console.log(report.lines.join("\n"));
}

main()
  .catch((e: Error) => {
    console.error(`auth-service-ab: ${e.message}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));

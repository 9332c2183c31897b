// A/B of gateway or guard builds on one comparison of bench/gateway.ts, in one command:
//   node bench/gateway-ab.ts <decisions|proxy|jwt|guard-proxy> <checkout> [<checkout> …]
// Each <checkout> is a directory holding the repository (its own node_modules, e.g.
// a `git worktree` after `pnpm install`, or this one: `.`). Every build runs as its
// own process next to the comparison's baseline, all measured in the same
// interleaved rounds, so a change shows up as a difference within one run instead
// of between two noisy ones. Comparisons (same requests as bench/gateway.ts):
//   decisions    GET /decisions (nginx headers, cached session) vs the node:http hello-world (4.)
//   proxy        GET /api/items through the gateway (cached session) vs the raw proxy (1.)
//   jwt          Express + the JWT guard (bench/lib/express-app.ts jwt) vs the Express hello-world (3.)
//   guard-proxy  Express + guard + proxy vs Express + proxy (2.)
// Prints req/s, server CPU µs/req and the per-round ratios of every build against
// the baseline. AB_ROUNDS (default 7) rounds of 2 s; ports 23400+ (BENCH_PORT_BASE).
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { internalUrls, REPO_ROOT, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import { httpOk, startProcess, stopProcess, waitReady } from "../tools/stack/supervisor.ts";
import { accessToken, startAuth } from "./lib/auth.ts";
import { apiReq, decisionsReq, helloReq, ROUTES_YAML } from "./lib/gateway-requests.ts";
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

const MODES = ["decisions", "proxy", "jwt", "guard-proxy"] as const;
type Mode = (typeof MODES)[number];
const ROUND_MS = 2_000;
const CONNECTIONS = 16;
const SESSIONS = 8;

interface Server {
  name: string;
  pid: number;
  origin: string;
}

function usage(message: string): never {
  console.error(
    `gateway-ab: ${message}\nusage: node bench/gateway-ab.ts <${MODES.join("|")}> <checkout> [<checkout> …]`,
  );
  process.exit(2);
}

const [modeArg, ...checkoutArgs] = process.argv.slice(2);
if (!MODES.includes(modeArg as Mode)) usage(`unknown comparison ${JSON.stringify(modeArg ?? "")}`);
const mode = modeArg as Mode;
if (checkoutArgs.length === 0) usage("name at least one checkout");
const checkouts = checkoutArgs.map((c) => resolve(c));
const rounds = Number(process.env.AB_ROUNDS ?? 7);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 30) usage("AB_ROUNDS must be an integer from 1 to 30");
const basePort = Number(process.env.BENCH_PORT_BASE ?? 23_400);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 99 >= 32_768)
  usage("BENCH_PORT_BASE must be an integer with 1024 ≤ base and base + 99 < 32768");
const express = mode === "jwt" || mode === "guard-proxy";

stopOnSignalsAndDeadline(60_000 + checkouts.length * rounds * 3 * ROUND_MS + 120_000);

async function main() {
  isolateBenchEnv();
  const cfg = stackConfig("ab", { basePort, ephemeral: true, domain: "localhost" });
  cleanups.push(() => stopStack(cfg));
  const child = (script: string, args: string[], env?: Record<string, string>) => {
    const c = new Child(script, [], { args, ...(env ? { env } : {}) });
    cleanups.push(() => c.stop());
    return c;
  };
  const upstreamOrigin = `http://127.0.0.1:${basePort + 40}`;
  const upstream = child(resolve(REPO_ROOT, "bench/lib/upstream.ts"), [String(basePort + 40)]);
  const loadgen = child(resolve(REPO_ROOT, "bench/lib/loadgen.ts"), []);
  progress(`starting stack "${cfg.name}" on ports ${basePort}+`);
  await startStack(cfg, { only: ["postgres", "redis", "mail", "kratos"] });
  const urls = internalUrls(cfg);
  const auth = await startAuth(cfg, {}, "auth.log", { cpuProf: false });
  cleanups.push(() => stopProcess(auth.pid));
  const sessions = await pooled(Array.from({ length: SESSIONS }), 4, () => register(urls.kratosPublic, "ab"));
  const jwts = await Promise.all(sessions.map((s) => accessToken(auth.url, s.token)));

  // The baseline, from this checkout.
  let baseline: Server;
  if (mode === "decisions") baseline = { name: "node:http hello-world", pid: upstream.pid, origin: upstreamOrigin };
  else {
    const port = basePort + 41;
    const script = mode === "proxy" ? "bench/lib/raw-proxy.ts" : "bench/lib/express-app.ts";
    const args = mode === "proxy" ? [String(port), upstreamOrigin] : [mode === "jwt" ? "hello" : "proxy", String(port)];
    const c = child(resolve(REPO_ROOT, script), args, { BENCH_UPSTREAM: upstreamOrigin });
    await c.ready;
    baseline = {
      name: mode === "proxy" ? "raw proxy" : `express ${args[0]}`,
      pid: c.pid,
      origin: `http://127.0.0.1:${port}`,
    };
  }

  // One server per checkout: the gateway (as bench/gateway.ts starts it) or the Express app.
  const routes = join(cfg.dir, "gateway-routes.yaml");
  writeFileSync(routes, ROUTES_YAML(upstreamOrigin));
  const builds: Server[] = await Promise.all(
    checkouts.map(async (dir, i): Promise<Server> => {
      const port = basePort + 50 + i;
      const name = `${i + 1}: ${dir}`;
      if (express) {
        const c = child(join(dir, "bench/lib/express-app.ts"), [mode, String(port)], {
          BENCH_UPSTREAM: upstreamOrigin,
          BENCH_AUTH_URL: auth.url,
        });
        await c.ready;
        return { name, pid: c.pid, origin: `http://127.0.0.1:${port}` };
      }
      const log = join(cfg.logDir, `gateway-${i + 1}.log`);
      const pid = startProcess({
        name: `gateway-${i + 1}`,
        command: process.execPath,
        args: [join(dir, "apps/gateway/src/main.ts")],
        log,
        env: {
          GATEWAY_HOST: "127.0.0.1",
          GATEWAY_PORT: String(port),
          ROUTES_FILE: routes,
          AUTH_SERVICE_URL: auth.url,
          TOKEN_ISSUER: auth.url,
          KRATOS_PUBLIC_URL: urls.kratosPublic,
          REDIS_URL: urls.redis,
          TRUSTED_PROXIES: "127.0.0.1",
          // The /decisions requests are nginx auth_request's (lib/gateway-requests.ts).
          FORWARD_AUTH_PROXY: "nginx",
          LOG_LEVEL: "info",
        },
      });
      cleanups.push(() => stopProcess(pid));
      const origin = `http://127.0.0.1:${port}`;
      await waitReady(`gateway-${i + 1}`, pid, log, () => httpOk(`${origin}/health/ready`), 60_000);
      return { name, pid, origin };
    }),
  );
  await Promise.all([upstream.ready, loadgen.ready]);

  const requests = (origin: string): Req[] =>
    sessions.map((s, i) =>
      mode === "jwt"
        ? helloReq(origin, jwts[i] as string)
        : mode === "decisions"
          ? decisionsReq(origin, s.token)
          : apiReq(origin, s.token),
    );
  const prime = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: builds.flatMap((b) => requests(b.origin)),
  });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming answered ${prime.status.join(",")}`);

  const servers = [baseline, ...builds];
  const seen = new Map<Server, { rps: number[]; cpu: number[] }>(servers.map((s) => [s, { rps: [], cpu: [] }]));
  const round = async (s: Server, ms: number) => {
    const c0 = cpuSeconds(s.pid);
    const r = await loadgen.run<ClosedResult>({
      kind: "closed",
      requests: requests(s.origin),
      connections: CONNECTIONS,
      durationMs: ms,
    });
    if (r.non2xx || r.errors) throw new Error(`${s.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    const e = seen.get(s);
    e?.rps.push(r.rps);
    e?.cpu.push(((cpuSeconds(s.pid) - c0) * 1e6) / r.requests);
  };
  progress(`${mode}: warm-up, then ${rounds} rounds of ${ROUND_MS} ms over ${servers.length} servers`);
  for (const s of servers) await round(s, 1_000);
  for (const e of seen.values()) {
    e.rps.length = 0;
    e.cpu.length = 0;
  }
  for (let i = 0; i < rounds; i++) for (const s of servers) await round(s, ROUND_MS);

  const b = seen.get(baseline) as { rps: number[]; cpu: number[] };
  const report = reportBuilder();
  report.row("", "req/s", "CPU µs/req", "ratio", "CPU ratio", "ratio per round");
  for (const s of servers) {
    const e = seen.get(s) as { rps: number[]; cpu: number[] };
    const ratios = e.rps.map((x, i) => x / (b.rps[i] as number));
    report.row(
      s.name,
      f(median(e.rps), 0),
      f(median(e.cpu), 1),
      `${f(median(ratios))}×`,
      `${f(median(e.cpu.map((x, i) => x / (b.cpu[i] as number))))}×`,
      ratios.map((r) => f(r)).join(" "),
    );
  }
  console.log(`gateway-ab ${mode}: baseline ${baseline.name}, ${rounds} interleaved rounds × ${ROUND_MS / 1000} s`);
  report.flush();
  console.log(report.lines.join("\n"));
}

main()
  .catch((e: Error) => {
    console.error(`gateway-ab: ${e.message}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));

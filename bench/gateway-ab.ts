// A/B of gateway or guard builds on one comparison of bench/gateway.ts, in one command:
//   node bench/gateway-ab.ts <decisions|proxy|jwt|guard-proxy> <checkout> [<checkout> …]
// Each <checkout> is a directory holding the repository (its own node_modules, e.g.
// a `git worktree` after `pnpm install`, or this one: `.`); `<checkout>+tracing` runs
// that gateway with OpenTelemetry tracing on (every request sampled, spans exported to
// a Jaeger the bench starts), `<checkout>+tracing=0.1` keeps that share of traces
// (parentbased_traceidratio): tracing off vs on is `proxy . .+tracing`. Every build runs as its
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
import { otelEnv, SERVICE_NODE_OPTIONS } from "../tools/stack/services.ts";
import { stopProcess } from "../tools/stack/supervisor.ts";
import { accessToken, startAuth } from "./lib/auth.ts";
import { startGateway } from "./lib/gateway.ts";
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
  rssMb,
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
// "<dir>", then optionally "+tracing" or "+tracing=<ratio>" and "+node=<flag>" (a V8/Node flag
// added to that gateway's NODE_OPTIONS, e.g. +node=--max-semi-space-size=64).
const checkouts = checkoutArgs.map((arg) => {
  const [dir = "", ...suffixes] = arg.split("+");
  let traced = false;
  let ratio: number | undefined;
  let nodeFlag: string | undefined;
  for (const x of suffixes) {
    const m = /^(tracing|node)(?:=(.+))?$/.exec(x);
    if (m?.[1] === "tracing") {
      traced = true;
      ratio = m[2] === undefined ? undefined : Number(m[2]);
      if (ratio !== undefined && !(ratio >= 0 && ratio <= 1)) usage(`${arg}: the tracing ratio must be from 0 to 1`);
    } else if (m?.[1] === "node" && m[2]?.startsWith("--")) nodeFlag = m[2];
    else usage(`${arg}: unknown suffix +${x} (+tracing[=<ratio>], +node=--<flag>)`);
  }
  return { arg, dir: resolve(dir), traced, ratio, nodeFlag };
});
const tracing = checkouts.some((c) => c.traced);
const rounds = Number(process.env.AB_ROUNDS ?? 7);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 30) usage("AB_ROUNDS must be an integer from 1 to 30");
const basePort = Number(process.env.BENCH_PORT_BASE ?? 23_400);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 99 >= 32_768)
  usage("BENCH_PORT_BASE must be an integer with 1024 ≤ base and base + 99 < 32768");
const express = mode === "jwt" || mode === "guard-proxy";

stopOnSignalsAndDeadline(60_000 + checkouts.length * rounds * 3 * ROUND_MS + 120_000);

async function main() {
  isolateBenchEnv();
  const cfg = stackConfig("ab", { basePort, ephemeral: true, domain: "localhost", tracing });
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
  await startStack(cfg, { only: ["postgres", "redis", "mail", "kratos", ...(tracing ? ["jaeger"] : [])] });
  const urls = internalUrls(cfg);
  const auth = await startAuth(cfg, {}, "auth.log", { cpuProf: false });
  cleanups.push(() => stopProcess(auth.pid));
  // Each build its own sessions: a token the auth-service issued for one gateway, and hands
  // back to another from its cache, may predate the other's start-up resync, and that
  // gateway would then exchange it again on every request (see bench/README.md).
  const allSessions = await pooled(Array.from({ length: SESSIONS * checkouts.length }), 4, () =>
    register(urls.kratosPublic, "ab"),
  );
  const sessionsOf = (build: number) => allSessions.slice(build * SESSIONS, (build + 1) * SESSIONS);
  const sessions = sessionsOf(0);
  // Only the JWT comparison needs tokens up front. Fetched before the gateways start, they
  // would predate each gateway's start-up resync and the auth-service would hand the same
  // (stale to the gateway) token back on every exchange: no request would be a cache hit.
  const jwts = mode === "jwt" ? await Promise.all(sessions.map((s) => accessToken(auth.url, s.token))) : [];

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
    checkouts.map(async ({ arg, dir, traced, ratio, nodeFlag }, i): Promise<Server> => {
      const port = basePort + 50 + i;
      const name = `${i + 1}: ${traced || nodeFlag ? arg : dir}`;
      if (express) {
        const c = child(join(dir, "bench/lib/express-app.ts"), [mode, String(port)], {
          BENCH_UPSTREAM: upstreamOrigin,
          BENCH_AUTH_URL: auth.url,
        });
        await c.ready;
        return { name, pid: c.pid, origin: `http://127.0.0.1:${port}` };
      }
      const gw = await startGateway(cfg, {
        name: `gateway-${i + 1}`,
        port,
        routes,
        authUrl: auth.url,
        main: join(dir, "apps/gateway/src/main.ts"),
        env: {
          ...(traced ? otelEnv(cfg, `gateway-${i + 1}`) : {}),
          ...(ratio !== undefined
            ? { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(ratio) }
            : {}),
          ...(nodeFlag ? { NODE_OPTIONS: `${SERVICE_NODE_OPTIONS} ${nodeFlag}` } : {}),
        },
      });
      cleanups.push(() => stopProcess(gw.pid));
      return { name, pid: gw.pid, origin: gw.url };
    }),
  );
  await Promise.all([upstream.ready, loadgen.ready]);

  const requests = (server: Server): Req[] =>
    sessionsOf(Math.max(0, builds.indexOf(server))).map((s, i) =>
      mode === "jwt"
        ? helloReq(server.origin, jwts[i] as string)
        : mode === "decisions"
          ? decisionsReq(server.origin, s.token)
          : apiReq(server.origin, s.token),
    );
  const prime = await loadgen.run<SequenceResult>({
    kind: "sequence",
    requests: builds.flatMap((b) => requests(b)),
  });
  if (prime.status.some((s) => s !== 200)) throw new Error(`priming answered ${prime.status.join(",")}`);

  const servers = [baseline, ...builds];
  const seen = new Map<Server, { rps: number[]; cpu: number[] }>(servers.map((s) => [s, { rps: [], cpu: [] }]));
  const round = async (s: Server, ms: number) => {
    const c0 = cpuSeconds(s.pid);
    const r = await loadgen.run<ClosedResult>({
      kind: "closed",
      requests: requests(s),
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
  report.row("", "req/s", "CPU µs/req", "ratio", "CPU ratio", "RSS MB", "ratio per round");
  for (const s of servers) {
    const e = seen.get(s) as { rps: number[]; cpu: number[] };
    const ratios = e.rps.map((x, i) => x / (b.rps[i] as number));
    report.row(
      s.name,
      f(median(e.rps), 0),
      f(median(e.cpu), 1),
      `${f(median(ratios))}×`,
      `${f(median(e.cpu.map((x, i) => x / (b.cpu[i] as number))))}×`,
      f(rssMb(s.pid), 0),
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

// Does a failed login tell whether the account exists by how long it took?
//   node bench/login-timing.ts
// Starts its own stack (Postgres, Redis, mail catcher, Kratos at its real bcrypt
// cost 12, the auth-service, the gateway) on ports 26400+ (BENCH_PORT_BASE), then
// sends one wrong-password login per account, interleaved, for known and unknown
// accounts, straight to Kratos (the leak) and through the gateway (its failure floor,
// LOGIN_FAILURE_FLOOR_MS). Prints the two distributions of each and how far apart
// they are; writes bench/results/login-timing.json. About 2 minutes.
//
// "Guessed right" is how often an attacker who times one attempt per account and
// picks the best threshold ("slower than t ms: the account exists") is right: 50% is
// a coin toss (the timing says nothing), 100% tells every account apart.
import { resolve } from "node:path";
import { internalUrls, REPO_ROOT, stackConfig, startStack, stopStack } from "../tools/stack/index.ts";
import {
  cleanups,
  f,
  isolateBenchEnv,
  progress,
  reportBuilder,
  runBench,
  stopOnSignalsAndDeadline,
} from "./lib/harness.ts";
import { register } from "./lib/kratos.ts";
import { percentile } from "./lib/loadgen.ts";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 40);

interface Dist {
  n: number;
  p10: number;
  p50: number;
  p90: number;
  max: number;
  min: number;
}
const dist = (xs: number[]): Dist => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p10: percentile(s, 10),
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    max: s[s.length - 1] ?? Number.NaN,
  };
};
const separable = (known: number[], unknown: number[]) => {
  let best = 0.5;
  for (const t of [...known, ...unknown]) {
    const right =
      (known.filter((k) => k > t).length / known.length + unknown.filter((u) => u <= t).length / unknown.length) / 2;
    best = Math.max(best, right, 1 - right);
  }
  return best;
};

async function failedLogin(base: string, identifier: string, ip: string): Promise<number> {
  const flow = (await (
    await fetch(`${base}/self-service/login/api`, { headers: { "x-forwarded-for": ip } })
  ).json()) as {
    id: string;
  };
  const t0 = performance.now();
  const r = await fetch(`${base}/self-service/login?flow=${flow.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "x-forwarded-for": ip },
    body: JSON.stringify({ method: "password", identifier, password: "not-the-password-000" }),
  });
  await r.body?.cancel();
  const ms = performance.now() - t0;
  if (r.status !== 400) throw new Error(`expected a failed login (400), got ${r.status}`);
  return ms;
}

async function main() {
  // The production bcrypt cost: the hash is what a known account's failure costs.
  isolateBenchEnv({ keepHashCost: true });
  const basePort = Number(process.env.BENCH_PORT_BASE ?? 26_400);
  const cfg = stackConfig("bench-login", { basePort, ephemeral: true, domain: "localhost" });
  cleanups.push(() => stopStack(cfg));
  progress(`starting a stack on ${basePort}+ (Kratos at bcrypt cost 12)`);
  await startStack(cfg, {
    only: ["postgres", "redis", "mail", "kratos", "auth", "gateway"],
    log: (l) => progress(`  ${l}`),
  });
  const kratos = internalUrls(cfg).kratosPublic;
  const gateway = `http://127.0.0.1:${cfg.ports.gateway}`;

  progress(`registering ${ACCOUNTS} accounts`);
  const known: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) known.push((await register(kratos, "timing")).email);
  const unknown = known.map((e) => e.replace("bench-", "nobody-"));

  const out = {
    direct: { known: [] as number[], unknown: [] as number[] },
    gateway: { known: [] as number[], unknown: [] as number[] },
  };
  progress("one failed login per account and path, interleaved");
  for (let i = 0; i < ACCOUNTS; i++) {
    // Each account is tried once per path, from its own address, so no counter delays it.
    const ip = `10.99.${Math.floor(i / 200)}.${i % 200}`;
    out.direct.known.push(await failedLogin(kratos, known[i] as string, ip));
    out.direct.unknown.push(await failedLogin(kratos, unknown[i] as string, ip));
    out.gateway.known.push(await failedLogin(gateway, known[i] as string, ip));
    out.gateway.unknown.push(await failedLogin(gateway, unknown[i] as string, ip));
  }
  return out;
}

stopOnSignalsAndDeadline(10 * 60_000);
await runBench({
  out: resolve(REPO_ROOT, "bench/results/login-timing.json"),
  main,
  report(r, totalSec) {
    const rep = reportBuilder();
    rep.lines.push(`failed password logins, ms (one per account, ${ACCOUNTS} accounts) — ${f(totalSec, 0)} s`);
    rep.row("path / account", "n", "min", "p10", "p50", "p90", "max", "guessed right");
    for (const path of ["direct", "gateway"] as const) {
      for (const who of ["known", "unknown"] as const) {
        const d = dist(r[path][who]);
        const sep = who === "known" ? `${f(separable(r[path].known, r[path].unknown) * 100, 0)}%` : "";
        rep.row(
          `${path === "direct" ? "Kratos directly" : "through the gateway"} / ${who}`,
          String(d.n),
          f(d.min, 0),
          f(d.p10, 0),
          f(d.p50, 0),
          f(d.p90, 0),
          f(d.max, 0),
          sep,
        );
      }
    }
    rep.flush();
    return rep.lines.join("\n");
  },
  record(r, table) {
    return {
      settings: { accounts: ACCOUNTS, bcryptCost: 12, floorMs: "LOGIN_FAILURE_FLOOR_MS default (750)" },
      table,
      direct: {
        known: dist(r.direct.known),
        unknown: dist(r.direct.unknown),
        separable: separable(r.direct.known, r.direct.unknown),
      },
      gateway: {
        known: dist(r.gateway.known),
        unknown: dist(r.gateway.unknown),
        separable: separable(r.gateway.known, r.gateway.unknown),
      },
    };
  },
});

// One chaos run: its own stack with the supervisor, real people, mixed load, then the
// phases (baseline; kill -9 of Redis, Postgres, Kratos, the auth-service, the gateway;
// SIGTERM of the auth-service and the gateway under load; a soak with RSS samples),
// and at the end every write checked against Postgres. Returns the report; what counts
// as a failure is decided here (failures()), printed by report.ts.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { internalUrls, type StackState } from "../stack/index.ts";
import { isAlive, killHard } from "../stack/supervisor.ts";
import { Load, type LoadOptions, type PhaseStats, READ_KINDS } from "./load.ts";
import { type RssTrend, rssMb, trend } from "./rss.ts";
import { type ChaosStack, startChaosStack } from "./stack.ts";
import { createPeople, type Urls } from "./users.ts";
import { verifyWrites, type WriteCheck } from "./verify.ts";

export interface ChaosOptions {
  form: "full" | "short";
  people: number;
  load: Omit<LoadOptions, "runId">;
  baselineSec: number;
  /** Load before each hit, inside its phase. */
  leadSec: number;
  /** Recovered = no failed request for this long, and every kind answered in it. */
  stableSec: number;
  /** A hit not recovered from within this is a failure. */
  maxRecoverySec: number;
  soakSec: number;
  rssEverySec: number;
}

export const FORMS: Record<"full" | "short", ChaosOptions> = {
  full: {
    form: "full",
    people: 50,
    load: { clients: 40, thinkMs: [150, 350], writeShare: 0.3 },
    baselineSec: 30,
    leadSec: 3,
    stableSec: 15,
    maxRecoverySec: 120,
    soakSec: 300,
    rssEverySec: 5,
  },
  short: {
    form: "short",
    people: 25,
    load: { clients: 20, thinkMs: [150, 350], writeShare: 0.3 },
    baselineSec: 5,
    leadSec: 1,
    stableSec: 4,
    maxRecoverySec: 60,
    soakSec: 20,
    rssEverySec: 2,
  },
};

/** kill -9 (as a crashed host or an OOM kill) or SIGTERM (as a rolling update) of one service. */
export interface Hit {
  service: string;
  signal: "SIGKILL" | "SIGTERM";
}

export const HITS: Hit[] = [
  { service: "redis", signal: "SIGKILL" },
  // Kratos' database is this Postgres too: this is also "Kratos' database down".
  { service: "postgres", signal: "SIGKILL" },
  { service: "kratos", signal: "SIGKILL" },
  { service: "auth", signal: "SIGKILL" },
  { service: "gateway", signal: "SIGKILL" },
  { service: "auth", signal: "SIGTERM" },
  { service: "gateway", signal: "SIGTERM" },
];

export interface PhaseReport {
  name: string;
  seconds: number;
  requests: number;
  histogram: Record<string, number>;
  byKind: Record<string, Record<string, number>>;
  outcomes: PhaseStats["outcomes"];
  hit?: Hit & {
    /** Until the supervisor had it running and ready again. */
    backAfterSec?: number;
    /** Until the last failed request of the phase ended (0: none failed). */
    recoveredAfterSec?: number;
    recovered: boolean;
    /** Why the process ended, as the supervisor saw it. */
    exit?: string;
  };
}

export interface Crash {
  phase: string;
  service: string;
  reason: string;
}

export interface ChaosReport {
  form: string;
  startedAt: string;
  seconds: number;
  ports: string;
  logDir: string;
  people: number;
  organizations: number;
  clients: number;
  phases: PhaseReport[];
  crashes: Crash[];
  samples: Load["samples"];
  /** The most requests one person sent in one minute (the auth-service allows 600 per caller). */
  busiestPersonPerMinute: number;
  writes?: WriteCheck;
  rss: RssTrend[];
  /** Why the run failed; empty when it passed. */
  failures: string[];
}

const RSS_SERVICES = ["auth", "gateway", "api", "kratos", "redis"];

export async function runChaos(o: ChaosOptions, log: (l: string) => void): Promise<ChaosReport> {
  const started = Date.now();
  const runId = randomBytes(3).toString("hex");
  const stack = await startChaosStack(log);
  const report: ChaosReport = {
    form: o.form,
    startedAt: new Date(started).toISOString(),
    seconds: 0,
    ports: `127.0.0.1:${stack.cfg.basePort}–${stack.cfg.basePort + 99}`,
    logDir: stack.cfg.logDir,
    people: o.people,
    organizations: o.people / 5,
    clients: o.load.clients,
    phases: [],
    crashes: [],
    samples: { signout: [], throttled: [], wrong: [] },
    busiestPersonPerMinute: 0,
    rss: [],
    failures: [],
  };
  let load: Load | undefined;
  try {
    const i = internalUrls(stack.cfg);
    const urls: Urls = {
      kratosPublic: i.kratosPublic,
      kratosAdmin: i.kratosAdmin,
      auth: i.authPublic,
      gateway: `http://127.0.0.1:${stack.cfg.ports.gateway}`,
    };
    const orgs = await createPeople(urls, o.people, log);
    load = new Load(urls, orgs, { ...o.load, runId });
    const everyone = orgs.flatMap((g) => [g.owner, ...g.members]);
    await Promise.all(everyone.map((u) => load?.exchange(u)));
    log(`load: ${o.load.clients} clients, ${o.people} people`);
    load.start();

    const baseline = load.begin("baseline");
    await watched(stack, report, baseline.name, () => sleep(o.baselineSec * 1000));
    report.phases.push(phaseReport(baseline));
    log(summaryLine(report.phases.at(-1)));

    for (const hit of HITS) {
      const p = await disrupt(stack, load, hit, o, report);
      report.phases.push(p);
      log(summaryLine(p));
    }

    const soak = load.begin("soak");
    report.rss = await watched(stack, report, soak.name, () => sampleRss(stack, o));
    report.phases.push(phaseReport(soak));
    log(summaryLine(report.phases.at(-1)));

    await load.stop();
    report.samples = load.samples;
    report.busiestPersonPerMinute = load.busiestMinute();
    // The outbox relay delivers within a second or two of a commit.
    await sleep(3_000);
    report.writes = await verifyWrites(internalUrls(stack.cfg).database, runId, load.writes);
  } finally {
    await load?.stop();
    report.seconds = Math.round((Date.now() - started) / 1000);
    report.failures = failures(report);
    await stack.stop();
  }
  return report;
}

/** Runs `body`, then records as crashes the services that restarted meanwhile, except `expected`. */
async function watched<T>(
  stack: ChaosStack,
  report: ChaosReport,
  phase: string,
  body: () => Promise<T>,
  expected?: string,
): Promise<T> {
  const before = restartsBy(stack.state());
  const out = await body();
  const after = stack.state();
  for (const s of after.services) {
    const extra = (s.restarts ?? 0) - (before.get(s.name) ?? 0) - (s.name === expected ? 1 : 0);
    if (extra > 0) report.crashes.push({ phase, service: s.name, reason: s.lastExit?.reason ?? "exited" });
  }
  return out;
}

const restartsBy = (st: StackState) => new Map(st.services.map((s) => [s.name, s.restarts ?? 0]));
const service = (stack: ChaosStack, name: string) => stack.state().services.find((s) => s.name === name);

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await sleep(100);
  }
  return true;
}

/** One phase: load, the hit, back (the supervisor restarted it), recovered (clients see no failures). */
async function disrupt(stack: ChaosStack, load: Load, hit: Hit, o: ChaosOptions, report: ChaosReport) {
  const name = `${hit.signal === "SIGKILL" ? "kill -9" : "SIGTERM"} ${hit.service}`;
  const phase = load.begin(name);
  const out: NonNullable<PhaseReport["hit"]> = { ...hit, recovered: false };
  await watched(
    stack,
    report,
    name,
    async () => {
      await sleep(o.leadSec * 1000);
      const victim = service(stack, hit.service);
      if (!victim || !isAlive(victim.pid)) throw new Error(`${hit.service} is not running before ${name}`);
      const restarts = victim.restarts ?? 0;
      const t0 = Date.now();
      if (hit.signal === "SIGKILL") await killHard(victim.pid);
      else process.kill(victim.pid, "SIGTERM");
      const maxMs = o.maxRecoverySec * 1000;
      const back = await until(() => {
        const s = service(stack, hit.service);
        return s !== undefined && (s.restarts ?? 0) > restarts && s.pid !== victim.pid && isAlive(s.pid);
      }, maxMs);
      if (back) out.backAfterSec = (Date.now() - t0) / 1000;
      const exit = service(stack, hit.service)?.lastExit?.reason;
      if (exit) out.exit = exit;
      const stable = o.stableSec * 1000;
      out.recovered =
        back &&
        (await until(
          () => {
            const now = Date.now();
            return (
              now - Math.max(phase.lastBadAt, t0) >= stable &&
              READ_KINDS.every((k) => (phase.lastOkAt.get(k) ?? 0) >= now - stable)
            );
          },
          maxMs - (Date.now() - t0),
        ));
      out.recoveredAfterSec = phase.lastBadAt > t0 ? (phase.lastBadAt - t0) / 1000 : 0;
    },
    hit.service,
  );
  return { ...phaseReport(phase), hit: out };
}

async function sampleRss(stack: ChaosStack, o: ChaosOptions): Promise<RssTrend[]> {
  const points = new Map<string, { t: number; mb: number }[]>(RSS_SERVICES.map((s) => [s, []]));
  const t0 = Date.now();
  while (Date.now() - t0 < o.soakSec * 1000) {
    for (const name of RSS_SERVICES) {
      const s = service(stack, name);
      const mb = s ? rssMb(s.pid) : undefined;
      if (mb !== undefined) points.get(name)?.push({ t: Date.now() - t0, mb });
    }
    await sleep(Math.min(o.rssEverySec * 1000, o.soakSec * 1000 - (Date.now() - t0)));
  }
  return RSS_SERVICES.filter((s) => (points.get(s)?.length ?? 0) > 1).map((s) => trend(s, points.get(s) ?? []));
}

function phaseReport(p: PhaseStats): PhaseReport {
  const end = p.endedAt || Date.now();
  return {
    name: p.name,
    seconds: Math.round((end - p.startedAt) / 100) / 10,
    requests: p.requests,
    histogram: Object.fromEntries([...p.histogram()].sort()),
    byKind: Object.fromEntries([...p.statuses].map(([k, m]) => [k, Object.fromEntries([...m].sort())])),
    outcomes: { ...p.outcomes },
  };
}

function summaryLine(p: PhaseReport | undefined): string {
  if (!p) return "";
  const h = Object.entries(p.histogram)
    .map(([s, n]) => `${s}×${n}`)
    .join(" ");
  const hit = p.hit
    ? ` · back ${p.hit.backAfterSec?.toFixed(1) ?? "never"} s, clients recovered ${p.hit.recovered ? `${p.hit.recoveredAfterSec?.toFixed(1)} s` : "never"}`
    : "";
  return `${p.name}: ${p.requests} requests in ${p.seconds} s (${h})${hit}`;
}

/** Every reason the run fails (the issue's list, and what would make the run prove nothing). */
export function failures(r: ChaosReport): string[] {
  const out: string[] = [];
  const sum = (k: keyof PhaseReport["outcomes"], phases = r.phases) => phases.reduce((a, p) => a + p.outcomes[k], 0);
  for (const c of r.crashes) out.push(`${c.service} exited during "${c.phase}" (${c.reason}) though nothing killed it`);
  if (sum("signout") > 0) out.push(`${sum("signout")} answers signed a valid session out (401, login redirect)`);
  if (sum("throttled") > 0) out.push(`${sum("throttled")} answers were 429 for people far under every limit`);
  if (sum("wrong") > 0) out.push(`${sum("wrong")} wrong answers (a 500, or a 4xx to a well-formed request)`);
  const calm = r.phases.filter((p) => !p.hit);
  const calmErrors = sum("unavailable", calm) + sum("none", calm);
  if (calmErrors > 0) out.push(`${calmErrors} failed requests while nothing was broken (baseline, soak)`);
  for (const p of r.phases) {
    if (!p.hit) continue;
    if (!p.hit.recovered) out.push(`"${p.name}": no recovery within the limit`);
    if (p.hit.signal === "SIGTERM" && p.hit.exit !== "exit code 0")
      out.push(`"${p.name}": the service did not drain and exit 0 (${p.hit.exit ?? "unknown"})`);
  }
  const w = r.writes;
  if (!w) out.push("the writes were not checked against Postgres (the run stopped early)");
  else {
    if (w.lost.length > 0) out.push(`${w.lost.length} acknowledged writes are not in Postgres`);
    if (w.duplicated.length > 0) out.push(`${w.duplicated.length} writes are in Postgres twice`);
    if (w.misacknowledged.length > 0)
      out.push(`${w.misacknowledged.length} writes committed but were answered with an error`);
    if (w.wrongFinalRole.length > 0)
      out.push(`${w.wrongFinalRole.length} members' roles differ from the last one acknowledged`);
    if (w.undelivered > 0) out.push(`${w.undelivered} invalidations were committed to the outbox but never delivered`);
    if (Object.values(w.acknowledged).some((n) => n === 0)) out.push("some kind of write was never acknowledged");
  }
  if (r.phases.length < HITS.length + 2) out.push("the run did not go through every phase");
  return out;
}

// Where a V8 CPU profile's time went:
//   node bench/lib/profile-top.ts <file.cpuprofile> [n] [--phase <name>]
// Prints the busy time (everything but idle) split by area (Node internals, GC,
// the gateway, the guard, the tokens package, http-proxy-middleware, …), then the
// top `n` functions by self time and by inclusive time (repository code only for
// the latter). For the profiles BENCH_CPU_PROF=<dir> writes (bench/gateway.ts:
// the gateway; bench/auth-service.ts: the auth-service). With --phase, only the
// samples taken while bench/gateway.ts ran that measurement (phases.json next to
// the profile; names as in its progress lines, e.g. "gateway", "decisions",
// "express jwt", "mix").
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { REPO_ROOT } from "../../tools/stack/index.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const phaseAt = args.indexOf("--phase");
const phaseName = phaseAt >= 0 ? args.splice(phaseAt, 2)[1] : undefined;
const file = args[0];
const top = Number(args[1] ?? 25);
if (!file) throw new Error("usage: node bench/lib/profile-top.ts <file.cpuprofile> [n] [--phase <name>]");
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;

// --phase: keep the samples taken inside that phase's intervals (zero the others' time).
if (phaseName !== undefined) {
  const phasesFile = join(dirname(file), "phases.json");
  if (!existsSync(phasesFile)) throw new Error(`--phase needs ${phasesFile}`);
  const all = JSON.parse(readFileSync(phasesFile, "utf8")) as { name: string; startUs: number; endUs: number }[];
  const spans = all.filter((x) => x.name === phaseName);
  if (spans.length === 0)
    throw new Error(`no phase "${phaseName}"; phases: ${[...new Set(all.map((x) => x.name))].join(", ")}`);
  let t = p.startTime;
  p.timeDeltas = p.timeDeltas.map((d) => {
    t += d;
    return spans.some((sp) => t >= sp.startUs && t <= sp.endUs) ? d : 0;
  });
}

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node (µs): each sample's delta goes to the node it landed in.
const self = new Map<number, number>();
p.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
});

const where = (n: ProfileNode) => {
  const u = n.callFrame.url;
  if (!u) return "";
  const path = u.startsWith("file://") ? relative(REPO_ROOT, new URL(u).pathname) : u;
  return `${path.replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")}:${n.callFrame.lineNumber + 1}`;
};
const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n)}`.trim();

function area(n: ProfileNode): string {
  const name = n.callFrame.functionName;
  const u = n.callFrame.url;
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "(program: V8/native, no JS frame)";
  if (u.startsWith("node:")) return "Node internals (node:*)";
  if (u.includes("/apps/gateway/")) return "gateway (apps/gateway)";
  if (u.includes("/packages/guard/")) return "guard (packages/guard)";
  if (u.includes("/packages/tokens/")) return "tokens (packages/tokens)";
  if (u.includes("/packages/observability/")) return "metrics (packages/observability)";
  if (u.includes("/apps/auth-service/")) return "auth-service (apps/auth-service)";
  const m = /node_modules\/\.pnpm\/([^/]+?)@/.exec(u);
  if (m) return `dependency ${m[1]?.replace("+", "/")}`;
  return u ? "other" : "native / builtins";
}

let total = 0;
let idle = 0;
const areas = new Map<string, number>();
const selfByLabel = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id) as ProfileNode;
  total += us;
  const a = area(n);
  if (a === "idle") {
    idle += us;
    continue;
  }
  areas.set(a, (areas.get(a) ?? 0) + us);
  selfByLabel.set(label(n), (selfByLabel.get(label(n)) ?? 0) + us);
}

// Inclusive time per function (counted once per sample even when recursive).
const incl = new Map<string, number>();
p.samples.forEach((id, i) => {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur) as ProfileNode;
    if (!n.callFrame.url.startsWith("file://") || n.callFrame.url.includes("node_modules")) continue;
    const l = label(n);
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
});

const busy = total - idle;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
console.log(
  `${file}${phaseName ? ` (phase "${phaseName}")` : ""}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (shares of busy time)`,
);
console.log("\nby area (self time):");
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(us)} ${ms(us)}  ${a}`);
console.log(`\ntop ${top} functions by self time:`);
for (const [l, us] of [...selfByLabel].sort((x, y) => y[1] - x[1]).slice(0, top))
  console.log(`  ${pct(us)} ${ms(us)}  ${l}`);
console.log(`\ntop ${top} repository functions by inclusive time:`);
for (const [l, us] of [...incl].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${pct(us)} ${ms(us)}  ${l}`);

// What the benchmarks in bench/ share: progress lines, the child-process wrapper
// (servers and the load generator run in their own processes), CPU accounting
// from /proc, the stop-everything-also-on-Ctrl-C machinery, table formatting and
// writing bench/results/*.json.

import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { REDIS_VARIABLES, REPO_ROOT } from "../../tools/stack/index.ts";
import { type Job, percentile } from "./loadgen.ts";

// --- small helpers --------------------------------------------------------------

const t0 = performance.now();
/** Seconds since the bench started (this module's import). */
export const elapsedSec = () => (performance.now() - t0) / 1000;
const since = () => `${elapsedSec().toFixed(1)}s`;
export const progress = (msg: string) => process.stderr.write(`[bench ${since()}] ${msg}\n`);
export const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
export const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

/** user+system CPU seconds a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pooled<T, R>(items: T[], n: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

// --- child processes ---------------------------------------------------------------

/**
 * A forked Node process that posts one message when it is ready (servers: their
 * port) and, for the load generator, answers jobs sent over IPC.
 */
export class Child {
  readonly proc: ChildProcess;
  readonly #pending = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  #id = 0;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(script: string, execArgv: string[] = [], opts: { args?: string[]; env?: Record<string, string> } = {}) {
    this.proc = fork(script, opts.args ?? [], {
      execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    this.ready = new Promise((res, rej) => {
      this.proc.once("message", (m) => res(m as Record<string, unknown>));
      this.proc.once("exit", (code) => rej(new Error(`${script} exited (${code}) before it was ready`)));
    });
    this.proc.on("message", (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p?.rej(new Error(m.error));
      else p?.res(m.result);
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  run<T>(job: Job): Promise<T> {
    const id = ++this.#id;
    return new Promise<T>((res, rej) => {
      this.#pending.set(id, { res: res as (v: unknown) => void, rej });
      this.proc.send({ id, job });
    });
  }

  stop(): void {
    if (this.proc.connected) this.proc.disconnect();
    if (this.proc.exitCode === null) this.proc.kill();
  }
}

// --- stopping everything, also on Ctrl-C and past a deadline ----------------------------

/** Run in reverse order by cleanup(): whatever a bench started registers its stop here. */
export const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        progress(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}

/** SIGINT/SIGTERM stop everything and exit 130; past `deadlineMs` a watchdog does the same (exit 1). */
export function stopOnSignalsAndDeadline(deadlineMs: number): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      progress(`${sig}: stopping everything`);
      void cleanup().then(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    progress(`over ${deadlineMs / 1000} s: giving up`);
    void cleanup().then(() => process.exit(1));
  }, deadlineMs);
  watchdog.unref();
}

// --- output --------------------------------------------------------------------------

/** Lines of a report; `row()` collects table cells, `flush()` lays them out (first column left-aligned). */
export function reportBuilder() {
  const rows: string[][] = [];
  const lines: string[] = [];
  return {
    lines,
    row: (...cells: string[]) => {
      rows.push(cells);
    },
    flush: () => {
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
      for (const row of rows)
        lines.push(
          `  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}`,
        );
      rows.length = 0;
    },
  };
}

/** Writes `data` as JSON to `out`, in the repository's formatting when biome is installed. */
export function writeJson(out: string, data: unknown): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(data, null, 2)}\n`);
  try {
    execFileSync(
      process.execPath,
      [resolve(REPO_ROOT, "node_modules/@biomejs/biome/bin/biome"), "format", "--write", out],
      {
        stdio: "ignore",
      },
    );
  } catch {
    // unformatted is fine
  }
}

/**
 * A bench runs its own stack: forget the URLs of one that may already run, and let
 * Kratos hash passwords at bcrypt cost 4 (cost 12 takes ~0.3 s per sign-up here; the
 * hundreds of sign-ups a bench needs would take minutes). Only registration and login
 * hash, and neither is what the benches measure — except login-timing, which keeps
 * the configured cost (`keepHashCost`).
 */
export function isolateBenchEnv(options: { keepHashCost?: boolean } = {}): void {
  for (const k of [
    "DATABASE_URL",
    ...REDIS_VARIABLES,
    "KRATOS_PUBLIC_URL",
    "KRATOS_ADMIN_URL",
    "MAIL_URL",
    "AUTH_SERVICE_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "GATEHOUSE_TRACING",
  ])
    delete process.env[k];
  if (!options.keepHashCost) process.env.HASHERS_BCRYPT_COST = "4";
}

// --- CPU profiles and phases (BENCH_CPU_PROF) -----------------------------------

/** BENCH_CPU_PROF=<dir>: V8 CPU profiles of the bench's servers go there, with phases.json. */
export const PROF_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
/** Node arguments that make a server write `<name>.cpuprofile` into PROF_DIR on exit (none without it). */
export const profArgs = (name: string): string[] => [
  ...(PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, "--cpu-prof-name", `${name}.cpuprofile`] : []),
  // With BENCH_HEAP_REPORT=<dir> in the environment, SIGUSR2 writes the process' memory there (lib/heap-report.ts).
  ...(process.env.BENCH_HEAP_REPORT ? ["--import", resolve(import.meta.dirname, "heap-report.ts")] : []),
];
const phases: { name: string; startUs: number; endUs: number }[] = [];
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
/**
 * Runs one measurement and records when (µs, the profiles' clock), so
 * `node bench/lib/profile-top.ts <profile> --phase <name>` can keep only its samples.
 */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const startUs = monotonicUs();
  try {
    return await fn();
  } finally {
    phases.push({ name, startUs, endUs: monotonicUs() });
  }
}

/**
 * The end every bench shares: run it, print the table, stop what it started, and
 * record the figures with the machine they were measured on. Exits the process.
 */
export async function runBench<R>(o: {
  out: string;
  main: () => Promise<R>;
  report: (r: R, totalSec: number) => string;
  record: (r: R, table: string) => { settings: Record<string, unknown> } & Record<string, unknown>;
  after?: (r: R) => void;
}): Promise<never> {
  try {
    const r = await o.main();
    const totalSec = elapsedSec();
    const table = o.report(r, totalSec);
    await cleanup();
    console.log(table);
    const { settings, ...results } = o.record(r, table);
    writeJson(o.out, {
      generatedAt: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      cpus: cpus().length,
      loadavg: loadavg(),
      totalSec,
      settings,
      ...results,
    });
    progress(`wrote ${o.out}`);
    if (PROF_DIR) {
      mkdirSync(PROF_DIR, { recursive: true });
      writeFileSync(resolve(PROF_DIR, "phases.json"), `${JSON.stringify(phases, null, 2)}\n`);
      progress(`CPU profiles and phases.json in ${PROF_DIR}`);
    }
    o.after?.(r);
    process.exit(0);
  } catch (e) {
    progress(`failed: ${(e as Error).stack ?? e}`);
    await cleanup();
    process.exit(1);
  }
}

/** Resident set size of a process, MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

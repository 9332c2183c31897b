// Programmatic API of the local stack: `pnpm stack` and the test suite's global
// setup both go through startStack/stopStack, so what the tests run against is
// exactly what a developer runs.
import { mkdirSync, readFileSync } from "node:fs";
import { PORT_OFFSETS, type StackConfig } from "./config.ts";
import { logLine, superviseStack } from "./restart.ts";
import { SERVICES, type ServiceDef, wipeData } from "./services.ts";
import {
  isAlive,
  portFree,
  type RunningService,
  readState,
  type StackState,
  stopProcess,
  writeState,
} from "./supervisor.ts";

// What a tool that runs its own stack clears, so no Sentinel or Cluster of the shell's mixes in.
export { REDIS_VARIABLES } from "@gatehouse/redis/config";
export * from "./config.ts";
export { RESTART_POLICY, restartDelay, stackLogFile, superviseStack } from "./restart.ts";
export { type RunningService, readState, type StackState } from "./supervisor.ts";

export interface StartOptions {
  /** Only these services (and nothing else). Default: all. */
  only?: string[];
  /** Print progress lines. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  supervisorPid?: number;
}

/**
 * True when `pid` is alive and is a stack CLI (`tools/stack/cli.ts`), so a stale pid in a
 * state file that the system has since given to another process is never signalled.
 */
export function isSupervisor(pid: number | undefined): pid is number {
  if (pid === undefined || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("tools/stack/cli.ts");
  } catch {
    return true; // no /proc: trust the pid
  }
}

/**
 * Stops the stack: its supervisor first (when another process is it), so that nothing
 * restarts what is being stopped, then the services in reverse order. Also what stops
 * whatever a previous run left behind (a crashed test run, say).
 */
export async function stopStack(cfg: StackConfig, log: (l: string) => void = () => {}): Promise<void> {
  let state = readState(cfg.stateFile);
  if (!state) return;
  // "stopping": a supervisor restarts nothing from here on (it also reads this).
  writeState(cfg.stateFile, { ...state, phase: "stopping" });
  if (state.supervisorPid !== process.pid && isSupervisor(state.supervisorPid)) {
    log(`stopping the supervisor (pid ${state.supervisorPid})`);
    // It stops the services itself; what it leaves is stopped below.
    await stopProcess(state.supervisorPid, 60_000);
    state = readState(cfg.stateFile) ?? state;
  }
  for (const svc of [...state.services].reverse()) {
    if (isAlive(svc.pid)) {
      log(`stopping ${svc.name} (pid ${svc.pid})`);
      await stopProcess(svc.pid);
    }
  }
  writeState(cfg.stateFile, { ...state, phase: "stopping", services: [] });
}

export async function startStack(cfg: StackConfig, opts: StartOptions = {}): Promise<StackState> {
  const log = opts.log ?? (() => {});
  const env = opts.env ?? process.env;
  await stopStack(cfg, log);
  if (cfg.ephemeral) wipeData(cfg);
  mkdirSync(cfg.logDir, { recursive: true });

  const state: StackState = {
    name: cfg.name,
    basePort: cfg.basePort,
    startedAt: new Date().toISOString(),
    phase: "starting",
    services: [],
  };
  if (opts.supervisorPid !== undefined) state.supervisorPid = opts.supervisorPid;
  const selected: ServiceDef[] = SERVICES.filter(
    (s) => (s.enabled?.(cfg) ?? true) && (!opts.only || opts.only.includes(s.name)),
  );
  try {
    for (const svc of selected) {
      const given = [svc.overrideVar ?? []].flat().find((k) => env[k]);
      if (given) {
        log(`${svc.name}: using ${given}=${redactUrl(env[given] ?? "")}`);
        continue;
      }
      const t0 = performance.now();
      log(`starting ${svc.name}…`);
      const running: RunningService = { ...(await svc.start(cfg)), startedAt: new Date().toISOString() };
      state.services.push(running);
      writeState(cfg.stateFile, state);
      log(`${svc.name} ready in ${Math.round(performance.now() - t0)} ms`);
    }
  } catch (e) {
    writeState(cfg.stateFile, state);
    await stopStack(cfg, log);
    throw e;
  }
  state.phase = "running";
  writeState(cfg.stateFile, state);
  return state;
}

export interface RunOptions extends Omit<StartOptions, "supervisorPid"> {
  /** Called once every service is ready. */
  onReady?: (state: StackState) => void;
  /** Called with the stack's own lines once it runs (exits, restarts), as they are written to its log. */
  onLine?: (line: string) => void;
}

/**
 * Runs a stack in this process until SIGINT or SIGTERM: starts it, restarts a service
 * that exits (restart.ts), and on the signal stops the supervision, then every service,
 * and exits. What `pnpm stack up` runs, in the foreground or as its --detach process.
 */
export async function runStack(cfg: StackConfig, opts: RunOptions = {}): Promise<void> {
  const say = (line: string) => {
    logLine(cfg, line);
    opts.log?.(line);
  };
  let supervision: ReturnType<typeof superviseStack> | undefined;
  let stopping = false;
  let starting: Promise<unknown> = Promise.resolve();
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the stack`);
    const st = readState(cfg.stateFile);
    if (st) writeState(cfg.stateFile, { ...st, phase: "stopping" });
    await starting.catch(() => {});
    await supervision?.stop();
    await stopStack(cfg, say);
    say("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  say(`starting (supervisor pid ${process.pid})`);
  starting = startStack(cfg, { ...opts, log: say, supervisorPid: process.pid });
  const state = (await starting) as StackState;
  if (stopping) return;
  supervision = superviseStack(cfg, {
    defs: SERVICES,
    ...(opts.onLine ? { log: opts.onLine } : {}),
  });
  say("running; a service that exits is started again");
  opts.onReady?.(state);
}

/** `KEY=value` pairs for a running stack: what `status -o env` prints and tests read. */
export function stackEnv(
  cfg: StackConfig,
  state: StackState | undefined = readState(cfg.stateFile),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const svc of state?.services ?? []) {
    if (isAlive(svc.pid)) Object.assign(out, svc.env);
  }
  out.GATEHOUSE_DOMAIN = cfg.domain;
  out.GATEHOUSE_PORT_BASE = String(cfg.basePort);
  return out;
}

export function redactUrl(u: string): string {
  return u.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:***@");
}

/** Whether every port of a stack based at `base` is free right now. */
export async function portBlockFree(base: number): Promise<boolean> {
  return (await Promise.all(Object.values(PORT_OFFSETS).map((off) => portFree(base + off)))).every(Boolean);
}

// Programmatic API of the local stack: `pnpm stack` and the test suite's global
// setup both go through startStack/stopStack, so what the tests run against is
// exactly what a developer runs.
import { mkdirSync } from "node:fs";
import type { StackConfig } from "./config.ts";
import { SERVICES, type ServiceDef, wipeData } from "./services.ts";
import { isAlive, type RunningService, readState, type StackState, stopProcess, writeState } from "./supervisor.ts";

export * from "./config.ts";
export { type RunningService, readState, type StackState } from "./supervisor.ts";

export interface StartOptions {
  /** Only these services (and nothing else). Default: all. */
  only?: string[];
  /** Print progress lines. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  supervisorPid?: number;
}

/** Stops whatever a previous run of this stack left behind (a crashed test run, say). */
export async function stopStack(cfg: StackConfig, log: (l: string) => void = () => {}): Promise<void> {
  const state = readState(cfg.stateFile);
  if (!state) return;
  for (const svc of [...state.services].reverse()) {
    if (isAlive(svc.pid)) {
      log(`stopping ${svc.name} (pid ${svc.pid})`);
      await stopProcess(svc.pid);
    }
  }
  writeState(cfg.stateFile, { ...state, services: [] });
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
    services: [],
  };
  if (opts.supervisorPid !== undefined) state.supervisorPid = opts.supervisorPid;
  const selected: ServiceDef[] = SERVICES.filter((s) => !opts.only || opts.only.includes(s.name));
  try {
    for (const svc of selected) {
      if (svc.overrideVar && env[svc.overrideVar]) {
        log(`${svc.name}: using ${svc.overrideVar}=${redactUrl(env[svc.overrideVar] ?? "")}`);
        continue;
      }
      const t0 = performance.now();
      log(`starting ${svc.name}…`);
      const running: RunningService = await svc.start(cfg);
      state.services.push(running);
      writeState(cfg.stateFile, state);
      log(`${svc.name} ready in ${Math.round(performance.now() - t0)} ms`);
    }
  } catch (e) {
    writeState(cfg.stateFile, state);
    await stopStack(cfg, log);
    throw e;
  }
  return state;
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

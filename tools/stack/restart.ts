// The stack's supervisor: watches the services of a running stack and starts one that
// exits again, with backoff (0.5 s, doubling to 10 s; back to 0.5 s once it has stayed
// up for 30 s), the way Kubernetes restarts a container whose liveness fails or that
// exits. Why it exited (exit code or signal) goes to the stack's log and to the
// service's own log; the restart count and the last exit to the state file, which
// `pnpm stack status` shows. Nothing is restarted once the stack is stopping: `down`
// and Ctrl-C mark the state "stopping" before they stop anything.
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StackConfig } from "./config.ts";
import type { ServiceDef } from "./services.ts";
import {
  describeExit,
  exitStatus,
  isAlive,
  type RunningService,
  readState,
  stopProcess,
  writeState,
} from "./supervisor.ts";

export interface RestartPolicy {
  /** Wait before the first restart. */
  initialMs: number;
  /** The wait doubles with each restart in a row, up to this. */
  maxMs: number;
  /** A service that stayed up this long starts over at initialMs. */
  resetAfterMs: number;
}

export const RESTART_POLICY: RestartPolicy = { initialMs: 500, maxMs: 10_000, resetAfterMs: 30_000 };

/** The wait before restart number `inARow` (0 for the first in a row). */
export function restartDelay(inARow: number, p: RestartPolicy = RESTART_POLICY): number {
  return Math.min(p.initialMs * 2 ** Math.min(inARow, 30), p.maxMs);
}

/** Where the stack's own lines go (what it started, what exited, what it restarted). */
export function stackLogFile(cfg: StackConfig): string {
  return join(cfg.logDir, "stack.log");
}

/** Appends a timestamped line to the stack's log (and, if given, to a service's log too). */
export function logLine(cfg: StackConfig, line: string, serviceLog?: string): void {
  const text = `${new Date().toISOString()} [stack] ${line}\n`;
  for (const file of [stackLogFile(cfg), serviceLog]) {
    if (!file) continue;
    try {
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, text);
    } catch {
      /* a log that cannot be written must not stop the supervisor */
    }
  }
}

export interface Supervision {
  /** Stops watching; a restart under way finishes (a process it started meanwhile is stopped). The services keep running. */
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  /** The service definitions by name (default: the stack's own). */
  defs: readonly ServiceDef[];
  policy?: RestartPolicy;
  /** Also called with every line written to the stack's log (the foreground CLI prints them). */
  log?: (line: string) => void;
  /** How often the services are looked at. */
  pollMs?: number;
}

interface Watched {
  /** Restarts since the service last stayed up for resetAfterMs. */
  inARow: number;
  restarting: boolean;
  /** When the supervisor first saw it (for a service recorded without startedAt). */
  watchedSince: number;
}

/** Watches the services recorded in cfg's state file and restarts one that exits. */
export function superviseStack(cfg: StackConfig, o: SuperviseOptions): Supervision {
  const policy = o.policy ?? RESTART_POLICY;
  const pollMs = o.pollMs ?? 250;
  const watched = new Map<string, Watched>();
  const inFlight = new Set<Promise<void>>();
  const abort = new AbortController();
  const say = (line: string, serviceLog?: string) => {
    logLine(cfg, line, serviceLog);
    o.log?.(line);
  };
  const stopping = () => abort.signal.aborted || readState(cfg.stateFile)?.phase === "stopping";
  const wait = (ms: number) => sleep(ms, undefined, { signal: abort.signal }).catch(() => {});

  /** Records `svc` in the state file, unless the stack is stopping (then false). */
  const record = (svc: RunningService) => {
    const st = readState(cfg.stateFile);
    if (!st || st.phase === "stopping" || abort.signal.aborted) return false;
    const i = st.services.findIndex((s) => s.name === svc.name);
    if (i < 0) return false;
    st.services[i] = svc;
    writeState(cfg.stateFile, st);
    return true;
  };

  async function restart(prev: RunningService, w: Watched): Promise<void> {
    const def = o.defs.find((d) => d.name === prev.name);
    const lived = Date.now() - (prev.startedAt ? Date.parse(prev.startedAt) : w.watchedSince);
    if (lived >= policy.resetAfterMs) w.inARow = 0;
    const lastExit = { reason: describeExit(exitStatus(prev.pid)), at: new Date().toISOString() };
    let restarts = prev.restarts ?? 0;
    if (!record({ ...prev, lastExit })) return;
    const up = `${prev.name} (pid ${prev.pid}) ${lastExit.reason} after ${(lived / 1000).toFixed(1)} s up`;
    if (!def) {
      say(`${up}; nothing defines how to start it again`, prev.log);
      return;
    }
    let why = up;
    for (;;) {
      const delay = restartDelay(w.inARow++, policy);
      say(`${why}; restart ${restarts + 1} in ${delay / 1000} s`, prev.log);
      await wait(delay);
      if (stopping()) return;
      restarts++;
      let running: RunningService;
      try {
        running = await def.start(cfg);
      } catch (e) {
        why = `${prev.name} did not start again (${(e as Error).message.split("\n")[0]})`;
        record({ ...prev, restarts, lastExit: { reason: "did not start again", at: new Date().toISOString() } });
        if (stopping()) return;
        continue;
      }
      if (!record({ ...running, startedAt: new Date().toISOString(), restarts, lastExit })) {
        // The stack began to stop meanwhile: `down` stops what the state names, so this one is ours to stop.
        await stopProcess(running.pid, 5_000);
        return;
      }
      say(`${prev.name} restarted (pid ${running.pid}, restart ${restarts})`, prev.log);
      return;
    }
  }

  const done = (async () => {
    while (!stopping()) {
      for (const svc of readState(cfg.stateFile)?.services ?? []) {
        let w = watched.get(svc.name);
        if (!w) {
          w = { watchedSince: Date.now(), inARow: 0, restarting: false };
          watched.set(svc.name, w);
        }
        if (w.restarting || isAlive(svc.pid)) continue;
        const ww = w;
        ww.restarting = true;
        const p = restart(svc, ww)
          .catch((e: Error) => say(`restarting ${svc.name} failed: ${e.message}`))
          .finally(() => {
            ww.restarting = false;
            inFlight.delete(p);
          });
        inFlight.add(p);
      }
      await wait(pollMs);
    }
  })();

  return {
    async stop() {
      abort.abort();
      await done;
      await Promise.all([...inFlight]);
    },
  };
}

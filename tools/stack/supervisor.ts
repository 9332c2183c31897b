// Starts service processes with their output in log files, records them in a
// state file (so `down`, `status` and `logs` work from another shell), waits for
// readiness by probing rather than sleeping, and stops them in reverse order.
// (Restarting a service that exits is restart.ts'.)
import { type SpawnOptions, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RunningService {
  name: string;
  pid: number;
  url: string;
  log: string;
  /** KEY=value lines this service contributes to `status -o env`. */
  env: Record<string, string>;
  /** When this process of it started (ISO 8601). */
  startedAt?: string;
  /** How often the stack's supervisor has started it again after it exited. */
  restarts?: number;
  /** Why it last exited (e.g. "killed by SIGKILL"), and when. */
  lastExit?: { reason: string; at: string };
}

export interface StackState {
  name: string;
  basePort: number;
  startedAt: string;
  /**
   * The process that watches the services and restarts one that exits: `pnpm stack up`
   * itself in the foreground, its background process with --detach. Absent for a stack
   * started without one (the test suite's).
   */
  supervisorPid?: number;
  /** "starting" until every service is ready; "stopping" once `down` (or Ctrl-C) began: nothing is restarted then. */
  phase?: "starting" | "running" | "stopping";
  services: RunningService[];
}

export function readState(file: string): StackState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as StackState;
  } catch {
    return undefined;
  }
}

export function writeState(file: string, state: StackState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
  // rename is atomic: a concurrent `status` never reads half a file.
  renameSync(`${file}.tmp`, file);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Process ids of `pid`'s descendants (from /proc; Postgres' backends leave the postmaster's process group). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * kill -9 of a process and all its descendants at once (a Postgres' backends too), as a
 * crash of its host would; returns once all are gone. Used by the fault tests and `pnpm chaos`.
 */
export async function killHard(pid: number): Promise<void> {
  const all = [pid, ...descendants(pid)];
  for (const p of all) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  while (all.some(isAlive)) await sleep(20);
}

export interface StartSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  log: string;
  uid?: number;
  gid?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// How each process this one started ended, by pid (its supervisor reads it to say why).
const exits = new Map<number, ExitStatus>();

/** How a process started by startProcess in this process ended, once it has. */
export function exitStatus(pid: number): ExitStatus | undefined {
  return exits.get(pid);
}

/** "exit code 1", "killed by SIGKILL", or "exited" when this process did not start it. */
export function describeExit(e: ExitStatus | undefined): string {
  if (!e) return "exited";
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/** Spawns a process in its own process group with stdout+stderr appended to `log`. */
export function startProcess(spec: StartSpec): number {
  mkdirSync(dirname(spec.log), { recursive: true });
  const fd = openSync(spec.log, "a");
  const opts: SpawnOptions = {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", fd, fd],
    detached: true,
  };
  if (spec.uid !== undefined) opts.uid = spec.uid;
  if (spec.gid !== undefined) opts.gid = spec.gid;
  const child = spawn(spec.command, spec.args, opts);
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
  const pid = child.pid;
  child.once("exit", (code, signal) => exits.set(pid, { code, signal }));
  child.unref();
  return pid;
}

/** Runs a command to completion, output appended to `log`; rejects with the log's tail on failure. */
export async function runToCompletion(spec: StartSpec, timeoutMs = 120_000): Promise<void> {
  mkdirSync(dirname(spec.log), { recursive: true });
  const fd = openSync(spec.log, "a");
  const opts: SpawnOptions = {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", fd, fd],
  };
  if (spec.uid !== undefined) opts.uid = spec.uid;
  if (spec.gid !== undefined) opts.gid = spec.gid;
  const child = spawn(spec.command, spec.args, opts);
  closeSync(fd);
  const code = await new Promise<number | null>((res, rej) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`${spec.name}: timed out after ${timeoutMs} ms (log: ${spec.log})`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(t);
      rej(e);
    });
    child.on("exit", (c) => {
      clearTimeout(t);
      res(c);
    });
  });
  if (code !== 0) throw new Error(`${spec.name} exited with ${code}:\n${tail(spec.log, 20)}`);
}

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** Sends SIGTERM to the process group, then SIGKILL after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (!isAlive(pid)) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  signal("SIGKILL");
  while (isAlive(pid)) await sleep(20);
}

/**
 * Polls `probe` until it resolves true. Fails early if the process died, with
 * the tail of its log, so a broken start never looks like a slow one.
 */
export async function waitReady(
  name: string,
  pid: number | undefined,
  log: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (Date.now() < deadline) {
    if (pid !== undefined && !isAlive(pid)) {
      throw new Error(`${name} exited during start-up:\n${tail(log, 25)}`);
    }
    try {
      if (await probe()) return;
    } catch {
      /* not yet */
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
  // The caller never got a pid to record, so nothing else would stop this process.
  if (pid !== undefined) await stopProcess(pid, 3_000);
  throw new Error(`${name} was not ready after ${timeoutMs} ms:\n${tail(log, 25)}`);
}

export function portFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ port, host });
    sock.once("connect", () => {
      sock.destroy();
      res(false);
    });
    sock.once("error", () => res(true));
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await r.body?.cancel();
  return r.ok;
}

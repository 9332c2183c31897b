// Private, real dependencies for tests that kill them: a Postgres (and a Kratos on it)
// on a block of ports of their own, started with the same code as `pnpm stack`, and a
// Node service of this repository run as a child process, so that a crash is a
// process exit the test sees rather than an error inside the test worker. The test
// stack's shared services are never touched.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT, type StackConfig, stackConfig } from "../../tools/stack/config.ts";
import { portBlockFree } from "../../tools/stack/index.ts";
import { kratos, postgres, wipeData } from "../../tools/stack/services.ts";
import { killHard, stopProcess } from "../../tools/stack/supervisor.ts";

/**
 * A stack configuration on a block of ports nothing listens on, below the ephemeral
 * range (32768+) so no outgoing connection takes a port between the check and the bind.
 * `name` keeps the data directories of two test files apart.
 */
export async function privateStackConfig(name: string, from = 28_000): Promise<StackConfig> {
  for (let base = from + (process.pid % 19) * 100; base < from + 4_000; base += 100) {
    if (await portBlockFree(base)) {
      return stackConfig(name, { basePort: base, ephemeral: true, domain: "gatehouse.test" });
    }
  }
  throw new Error("no free block of ports for a private stack");
}

export interface PrivatePostgres {
  cfg: StackConfig;
  /** postgres://… of the `gatehouse` database. */
  url: string;
  /** The Kratos DSN on this Postgres. */
  kratosDsn: string;
  /** kill -9 of the postmaster and its backends. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (crash recovery included). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function privatePostgres(cfg: StackConfig): Promise<PrivatePostgres> {
  let running = await postgres.start(cfg);
  return {
    cfg,
    url: running.env.DATABASE_URL ?? "",
    kratosDsn: running.env.KRATOS_DATABASE_URL ?? "",
    kill: () => killHard(running.pid),
    async restart() {
      running = await postgres.start(cfg);
    },
    async stop() {
      await stopProcess(running.pid);
      wipeData(cfg);
      rmSync(cfg.dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateKratos {
  publicUrl: string;
  adminUrl: string;
  stop(): Promise<void>;
}

/** A Kratos of its own on `dsn` (its migrations run first), on cfg's Kratos ports. */
export async function privateKratos(cfg: StackConfig, dsn: string): Promise<PrivateKratos> {
  const before = process.env.KRATOS_DATABASE_URL;
  process.env.KRATOS_DATABASE_URL = dsn;
  let running: Awaited<ReturnType<typeof kratos.start>>;
  try {
    running = await kratos.start(cfg);
  } finally {
    if (before === undefined) delete process.env.KRATOS_DATABASE_URL;
    else process.env.KRATOS_DATABASE_URL = before;
  }
  return {
    publicUrl: running.env.KRATOS_PUBLIC_URL ?? "",
    adminUrl: running.env.KRATOS_ADMIN_URL ?? "",
    stop: () => stopProcess(running.pid),
  };
}

export interface ChildService {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Exit code or signal once it has exited, else undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** Runs a script of this repository (`apps/…/src/main.ts`) with `env`, until `ready` answers true. */
export async function childService(
  script: string,
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<ChildService> {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let exit: string | undefined;
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.on("exit", (code, signal) => {
    exit = signal ?? String(code);
  });
  const svc: ChildService = {
    child,
    output: () => out,
    exited: () => exit,
    async stop() {
      if (exit !== undefined) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
  const end = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (exit !== undefined) throw new Error(`${script} exited (${exit}) before it was ready:\n${out.slice(-3000)}`);
    if (Date.now() > end) {
      await svc.stop();
      throw new Error(`${script} was not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return svc;
}

/** Polls `fn` until `ok`, for at most `ms`; returns the last value either way. */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last = await fn();
  while (!ok(last) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

// The stack a chaos run attacks: the local stack of `pnpm stack up --detach` (the same
// CLI, so the same supervisor restarts what dies), named "chaos", on a free block of
// loopback ports of its own, with fresh data. Nothing of a dev or test stack is touched.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  portBlockFree,
  REDIS_VARIABLES,
  REPO_ROOT,
  readState,
  type StackConfig,
  type StackState,
  stackConfig,
  stopStack,
} from "../stack/index.ts";
import { postgresDataDir, wipeData } from "../stack/services.ts";
import { isAlive } from "../stack/supervisor.ts";

/** What a chaos run needs; the web app (a Next.js build) is not on the paths it attacks. */
export const CHAOS_SERVICES = ["postgres", "redis", "mail", "kratos", "auth", "api", "gateway"] as const;

// Below the test suite's blocks (17400+) and the dev stack's (7400), under the ephemeral range.
const FIRST_BASE = 12_400;
const LAST_BASE = 17_300;
const OWNER_FILE = "chaos-owner.pid";

/** The environment of the stack's CLI: this stack only, nothing inherited that points elsewhere. */
function cliEnv(base: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Each names "already running elsewhere" to the stack (ServiceDef.overrideVar).
  for (const k of [
    "DATABASE_URL",
    "KRATOS_DATABASE_URL",
    ...REDIS_VARIABLES,
    "MAIL_URL",
    "KRATOS_PUBLIC_URL",
    "KRATOS_ADMIN_URL",
    "AUTH_SERVICE_URL",
    "API_URL",
    "GATEWAY_URL",
    "WEB_URL",
  ])
    delete env[k];
  return {
    ...env,
    GATEHOUSE_STACK: "chaos",
    GATEHOUSE_PORT_BASE: String(base),
    GATEHOUSE_DOMAIN: "localhost",
    // Setup registers and logs in 100 sessions; at the configured cost 12 that alone takes
    // a minute here. Only sign-up and login hash, and neither is what the run attacks.
    HASHERS_BCRYPT_COST: "4",
  };
}

/** The pid of the chaos run that owns the stack in `dir` (0: none recorded). */
function ownerOf(dir: string): number {
  const file = join(dir, OWNER_FILE);
  return existsSync(file) ? Number(readFileSync(file, "utf8")) || 0 : 0;
}

/**
 * Stops chaos stacks whose run died without stopping them (a SIGKILL of the chaos
 * command leaves its detached supervisor running): their owner's pid is gone.
 */
async function stopOrphans(log: (l: string) => void): Promise<void> {
  const root = resolve(REPO_ROOT, ".stack");
  if (!existsSync(root)) return;
  for (const dir of readdirSync(root)) {
    const m = /^chaos-(\d+)$/.exec(dir);
    if (!m) continue;
    const owner = ownerOf(join(root, dir));
    if (owner && isAlive(owner)) continue;
    const cfg = stackConfig("chaos", { basePort: Number(m[1]), domain: "localhost" });
    if (readState(cfg.stateFile)?.services.some((s) => isAlive(s.pid)))
      log(`stopping an orphaned chaos stack (${dir})`);
    await stopStack(cfg);
    rmSync(postgresDataDir(cfg), { recursive: true, force: true });
  }
}

async function freeBase(): Promise<number> {
  for (let base = FIRST_BASE + (process.pid % 7) * 100; base <= LAST_BASE; base += 100) {
    const owner = ownerOf(join(REPO_ROOT, ".stack", `chaos-${base}`));
    if (owner && isAlive(owner)) continue; // another run's
    if (await portBlockFree(base)) return base;
  }
  throw new Error(`no free block of 100 ports between ${FIRST_BASE} and ${LAST_BASE + 99}`);
}

/** The stacks this process started and has not stopped yet (the CLI stops them on a signal or past its deadline). */
const started = new Set<ChaosStack>();

export async function stopChaosStacks(): Promise<void> {
  await Promise.all([...started].map((s) => s.stop()));
}

export interface ChaosStack {
  cfg: StackConfig;
  state(): StackState;
  stop(): Promise<void>;
}

/** Starts the chaos stack with `pnpm stack up --detach --only …` and returns once every service is ready. */
export async function startChaosStack(log: (l: string) => void): Promise<ChaosStack> {
  await stopOrphans(log);
  const base = await freeBase();
  const env = cliEnv(base);
  const cfg = stackConfig("chaos", { env });
  // Fresh data every run: the checks count rows this run wrote.
  wipeData(cfg);
  mkdirSync(cfg.dir, { recursive: true });
  writeFileSync(join(cfg.dir, OWNER_FILE), String(process.pid));
  const state = () => {
    const s = readState(cfg.stateFile);
    if (!s) throw new Error(`the chaos stack's state file is gone: ${cfg.stateFile}`);
    return s;
  };
  const stack: ChaosStack = {
    cfg,
    state,
    async stop() {
      started.delete(stack);
      await stopStack(cfg);
      // The logs stay for reading (the next run on this block wipes them); the data goes.
      rmSync(postgresDataDir(cfg), { recursive: true, force: true });
      rmSync(cfg.dataDir, { recursive: true, force: true });
      rmSync(join(cfg.dir, OWNER_FILE), { force: true });
    },
  };
  // From here a signal or the deadline stops it, also while it starts.
  started.add(stack);
  log(`starting the chaos stack on 127.0.0.1:${base}–${base + 99} (logs: ${cfg.logDir})`);
  const t0 = performance.now();
  try {
    await new Promise<void>((res, rej) => {
      execFile(
        process.execPath,
        [resolve(REPO_ROOT, "tools/stack/cli.ts"), "up", "--detach", "--only", CHAOS_SERVICES.join(",")],
        { env, cwd: REPO_ROOT, timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err ? rej(new Error(`pnpm stack up failed: ${err.message}\n${stdout}${stderr}`)) : res(),
      );
    });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  log(`stack ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return stack;
}

// Starts the test stack with the same code as `pnpm stack up`, on the first free
// block of ports from 17400 (so a dev stack on 7400, or a second test run, does
// not collide), and provides its env to the tests. Any of DATABASE_URL,
// REDIS_URL, KRATOS_PUBLIC_URL (+ KRATOS_ADMIN_URL), MAIL_URL that is set points
// the suite at an already-running service instead.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { portBlockFree, REPO_ROOT, stackConfig, stackEnv, startStack, stopStack } from "../tools/stack/index.ts";
import { postgresDataDir } from "../tools/stack/services.ts";
import { isAlive } from "../tools/stack/supervisor.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: Record<string, string>;
  }
}

const lockDir = (base: number) => resolve(REPO_ROOT, ".stack", `test-${base}.lock`);

/**
 * Claims a block of ports atomically (mkdir is atomic), so two test runs started
 * at the same moment never share a block; a lock whose owner died is taken over.
 */
function claim(base: number): boolean {
  const dir = lockDir(base);
  mkdirSync(resolve(REPO_ROOT, ".stack"), { recursive: true });
  try {
    mkdirSync(dir);
  } catch {
    let owner = 0;
    try {
      owner = Number(readFileSync(resolve(dir, "pid"), "utf8"));
    } catch {
      return false; // being created right now
    }
    if (owner && isAlive(owner)) return false;
    rmSync(dir, { recursive: true, force: true });
    try {
      mkdirSync(dir);
    } catch {
      return false;
    }
  }
  writeFileSync(resolve(dir, "pid"), String(process.pid));
  return true;
}

async function freeBase(): Promise<number> {
  if (process.env.GATEHOUSE_TEST_PORT_BASE) return Number(process.env.GATEHOUSE_TEST_PORT_BASE);
  for (let base = 17_400; base < 27_400; base += 100) {
    if ((await portBlockFree(base)) && claim(base)) return base;
  }
  throw new Error("no free block of 100 ports between 17400 and 27400");
}

export default async function setup(project: TestProject) {
  const cfg = stackConfig("test", { basePort: await freeBase(), ephemeral: true });
  const t0 = performance.now();
  const state = await startStack(cfg, { log: (l) => process.env.STACK_VERBOSE && console.log(`[stack] ${l}`) });
  const env: Record<string, string> = { ...stackEnv(cfg, state) };
  for (const key of [
    "DATABASE_URL",
    "REDIS_URL",
    "KRATOS_PUBLIC_URL",
    "KRATOS_BROWSER_URL",
    "KRATOS_ADMIN_URL",
    "MAIL_URL",
  ]) {
    const v = process.env[key];
    if (v) env[key] = v;
  }
  env.KRATOS_BROWSER_URL ??= env.KRATOS_PUBLIC_URL ?? "";
  env.STACK_DIR = cfg.dir;
  env.STACK_LOG_DIR = cfg.logDir;
  env.WEBHOOK_SECRET = cfg.secrets.webhook;
  env.AUTH_ADMIN_PORT = String(cfg.ports.authAdmin);
  env.AUTH_PUBLIC_PORT = String(cfg.ports.authPublic);
  console.log(
    `test stack (${cfg.domain}, ports ${cfg.basePort}+) ready in ${Math.round(performance.now() - t0)} ms; logs in ${cfg.logDir}`,
  );
  project.provide("stack", env);
  return async () => {
    await stopStack(cfg);
    // Test data is disposable, and Postgres' may live outside the checkout (see postgresDataDir).
    rmSync(postgresDataDir(cfg), { recursive: true, force: true });
    rmSync(lockDir(cfg.basePort), { recursive: true, force: true });
  };
}

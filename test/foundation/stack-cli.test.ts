import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PORT_OFFSETS, REPO_ROOT } from "../../tools/stack/config.ts";
import { portFree } from "../../tools/stack/supervisor.ts";

const run = promisify(execFile);
const CLI = resolve(REPO_ROOT, "tools/stack/cli.ts");

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env, DATABASE_URL: "", REDIS_URL: "", MAIL_URL: "", KRATOS_PUBLIC_URL: "" },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function freeBase(): Promise<number> {
  for (let base = 30_000; base < 32_600; base += 100) {
    if ((await Promise.all(Object.values(PORT_OFFSETS).map((o) => portFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error("no free ports");
}

const stackEnv: Record<string, string> = { GATEHOUSE_STACK: "clitest" };
afterAll(async () => {
  await cli(["down"], stackEnv);
});

describe("pnpm stack (the local-stack CLI)", () => {
  it("up --detach, status -o env, logs, a refused second up, and down", async () => {
    stackEnv.GATEHOUSE_PORT_BASE = String(await freeBase());
    const base = Number(stackEnv.GATEHOUSE_PORT_BASE);
    const up = await cli(["up", "--detach", "--only", "redis,mail"], stackEnv);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`redis://127.0.0.1:${base + PORT_OFFSETS.redis}`);

    const env = await cli(["status", "-o", "env"], stackEnv);
    expect(env.code).toBe(0);
    const lines = env.stdout.trim().split("\n");
    // Every line is sourceable KEY=value.
    for (const l of lines) expect(l).toMatch(/^[A-Z][A-Z0-9_]*=\S*$/);
    const vars = Object.fromEntries(lines.map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(vars.REDIS_URL).toBe(`redis://127.0.0.1:${base + PORT_OFFSETS.redis}`);
    expect(vars.MAIL_URL).toBe(`http://127.0.0.1:${base + PORT_OFFSETS.mailHttp}`);
    expect(vars.KRATOS_PUBLIC_URL).toBeUndefined();
    expect((await fetch(`${vars.MAIL_URL}/api/health`)).status).toBe(200);

    const again = await cli(["up", "--detach", "--only", "redis"], stackEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running/);

    const logs = await cli(["logs", "mail"], stackEnv);
    expect(logs.stdout).toMatch(/mailcatcher listening/);

    const down = await cli(["down"], stackEnv);
    expect(down.code).toBe(0);
    expect(await portFree(base + PORT_OFFSETS.redis)).toBe(true);
    const after = await cli(["status"], stackEnv);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not running/);
    expect(existsSync(resolve(REPO_ROOT, `.stack/clitest-${base}`, "logs/redis.log"))).toBe(true);
  });

  it("names the bad variable or flag instead of crashing", async () => {
    const badPort = await cli(["status"], { GATEHOUSE_STACK: "clitest", GATEHOUSE_PORT_BASE: "seventy" });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/GATEHOUSE_PORT_BASE must be an integer port/);
    expect(badPort.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace

    const badDomain = await cli(["status"], { GATEHOUSE_STACK: "clitest", GATEHOUSE_DOMAIN: "not a domain!" });
    expect(badDomain.code).toBe(2);
    expect(badDomain.stderr).toMatch(/GATEHOUSE_DOMAIN/);

    const badCmd = await cli(["upp"], { GATEHOUSE_STACK: "clitest" });
    expect(badCmd.code).toBe(2);
    expect(badCmd.stderr).toMatch(/unknown command "upp"/);

    const badFlag = await cli(["up", "--detatch"], { GATEHOUSE_STACK: "clitest" });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/unknown flag --detatch/);

    const badFormat = await cli(["status", "-o", "yaml"], { GATEHOUSE_STACK: "clitest" });
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/unknown output format "yaml"/);
  });
});

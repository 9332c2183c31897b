import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { freshDatabase } from "../../apps/auth-service/test/in-process.ts";
import { PORT_OFFSETS, REPO_ROOT } from "../../tools/stack/config.ts";
import { isAlive, portFree } from "../../tools/stack/supervisor.ts";

const run = promisify(execFile);
const CLI = resolve(REPO_ROOT, "tools/stack/cli.ts");

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", MAIL_URL: "", KRATOS_PUBLIC_URL: "", ...env },
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
const restartEnv: Record<string, string> = { GATEHOUSE_STACK: "clitest-restart" };
afterAll(async () => {
  await cli(["down"], stackEnv);
  await cli(["down"], restartEnv);
});

interface StatusJson {
  supervisorPid?: number;
  services: { name: string; pid: number; alive: boolean; restarts: number; lastExit?: { reason: string } }[];
}
const statusJson = async (env: Record<string, string>) =>
  JSON.parse((await cli(["status", "-o", "json"], env)).stdout) as StatusJson;

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

    // For people: the JSON line pretty-printed (message first, fields indented);
    // -o json gives the raw line for tools.
    const logs = await cli(["logs", "mail"], stackEnv);
    expect(logs.stdout).toMatch(/^mailcatcher listening$/m);
    expect(logs.stdout).toMatch(/^ {4}smtp: \d+$/m);
    expect(logs.stdout).not.toContain('{"msg"');
    const raw = await cli(["logs", "mail", "-o", "json"], stackEnv);
    expect(raw.stdout).toMatch(/^\{"msg":"mailcatcher listening"/m);
    const unknown = await cli(["logs", "mailer"], stackEnv);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no service "mailer": one of stack, .*\bmail\b.*\bkratos\b.*\bgateway\b/);

    const down = await cli(["down"], stackEnv);
    expect(down.code).toBe(0);
    expect(await portFree(base + PORT_OFFSETS.redis)).toBe(true);
    const after = await cli(["status"], stackEnv);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not running/);
    expect(existsSync(resolve(REPO_ROOT, `.stack/clitest-${base}`, "logs/redis.log"))).toBe(true);
  });

  it("a service killed with -9 comes back and serves; status shows the restart; down stops it all and nothing restarts", async () => {
    // The auth-service and the gateway of a stack of their own, on the test stack's
    // Postgres (a fresh database), Redis and Kratos.
    const base = await freeBase();
    const t = inject("stack");
    Object.assign(restartEnv, {
      GATEHOUSE_PORT_BASE: String(base),
      DATABASE_URL: await freshDatabase(),
      REDIS_URL: t.REDIS_URL ?? "",
      KRATOS_PUBLIC_URL: t.KRATOS_PUBLIC_URL ?? "",
      KRATOS_ADMIN_URL: t.KRATOS_ADMIN_URL ?? "",
    });
    const up = await cli(["up", "--detach", "--only", "auth,gateway"], restartEnv);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    const before = await statusJson(restartEnv);
    const auth = before.services.find((s) => s.name === "auth");
    const gateway = before.services.find((s) => s.name === "gateway");
    expect(auth).toMatchObject({ alive: true, restarts: 0 });
    expect(gateway).toMatchObject({ alive: true, restarts: 0 });
    expect(isAlive(before.supervisorPid ?? 0)).toBe(true);

    process.kill(auth?.pid ?? 0, "SIGKILL");
    const end = Date.now() + 60_000;
    let after = before;
    while (!after.services.some((s) => s.name === "auth" && s.alive && s.restarts === 1)) {
      if (Date.now() > end) throw new Error(`auth not restarted within 60 s: ${JSON.stringify(after)}`);
      await new Promise((r) => setTimeout(r, 200));
      after = await statusJson(restartEnv);
    }
    expect(after.services.find((s) => s.name === "auth")).toMatchObject({
      restarts: 1,
      lastExit: { reason: "killed by SIGKILL" },
    });
    expect(after.services.find((s) => s.name === "gateway")).toMatchObject({ pid: gateway?.pid, restarts: 0 });
    // It serves: ready on its admin port, and the gateway reaches it again.
    expect((await fetch(`http://127.0.0.1:${base + PORT_OFFSETS.authAdmin}/health/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${base + PORT_OFFSETS.gateway}/health/ready`)).status).toBe(200);
    const text = await cli(["status"], restartEnv);
    expect(text.stdout).toMatch(/auth[\s\S]*restarts: 1; last exit: killed by SIGKILL/);
    const stackLog = await cli(["logs", "stack"], restartEnv);
    expect(stackLog.stdout).toMatch(
      new RegExp(`auth \\(pid ${auth?.pid}\\) killed by SIGKILL after [\\d.]+ s up; restart 1 in 0\\.5 s`),
    );
    expect((await cli(["logs", "auth"], restartEnv)).stdout).toMatch(/\[stack\] auth restarted \(pid \d+, restart 1\)/);

    const down = await cli(["down"], restartEnv);
    expect(down.code).toBe(0);
    expect(isAlive(before.supervisorPid ?? 0)).toBe(false);
    for (const s of after.services) expect(isAlive(s.pid), s.name).toBe(false);
    // Longer than the first restart's wait: had anything restarted the auth-service, its ports would be taken again.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await portFree(base + PORT_OFFSETS.authAdmin)).toBe(true);
    expect(await portFree(base + PORT_OFFSETS.gateway)).toBe(true);
    expect((await cli(["status"], restartEnv)).code).toBe(1);
  }, 180_000); // restarts with backoff take longer on a loaded machine than the default 60 s

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

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type StackConfig, stackConfig, stopStack } from "../../tools/stack/index.ts";
import { RESTART_POLICY, type RestartPolicy, stackLogFile, superviseStack } from "../../tools/stack/restart.ts";
import type { ServiceDef } from "../../tools/stack/services.ts";
import { isAlive, readState, startProcess, waitReady, writeState } from "../../tools/stack/supervisor.ts";

describe("stack supervisor", () => {
  it("a service that never becomes ready is stopped, not left running without a record", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "sup-")), "never.log");
    const pid = startProcess({
      name: "never",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
      log,
    });
    expect(isAlive(pid)).toBe(true);
    await expect(waitReady("never", pid, log, async () => false, 500)).rejects.toThrow(
      /never was not ready after 500 ms/,
    );
    expect(isAlive(pid)).toBe(false);
  });

  it("a service that exits during start-up is reported with its log", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "sup-")), "crash.log");
    const pid = startProcess({
      name: "crash",
      command: process.execPath,
      args: ["-e", "console.error('bad config: PORT'); process.exit(3)"],
      log,
    });
    await expect(waitReady("crash", pid, log, async () => false, 10_000)).rejects.toThrow(
      /crash exited during start-up:[\s\S]*bad config: PORT/,
    );
  });
});

describe("stack supervisor: restarts", () => {
  /** A stack of its own in a temporary directory, with one service that runs `script`. */
  async function supervisedStack(script: string, policy: RestartPolicy = RESTART_POLICY) {
    const dir = mkdtempSync(join(tmpdir(), "sup-restart-"));
    const cfg: StackConfig = {
      ...stackConfig("suptest", { basePort: 30_000 }),
      dir,
      logDir: join(dir, "logs"),
      dataDir: join(dir, "data"),
      stateFile: join(dir, "state.json"),
    };
    const def: ServiceDef = {
      name: "worker",
      async start(c) {
        const log = join(c.logDir, "worker.log");
        const pid = startProcess({ name: "worker", command: process.execPath, args: ["-e", script], log });
        return { name: "worker", pid, url: "-", log, env: {} };
      },
    };
    const first = await def.start(cfg);
    writeState(cfg.stateFile, {
      name: cfg.name,
      basePort: cfg.basePort,
      startedAt: new Date().toISOString(),
      phase: "running",
      services: [first],
    });
    const supervision = superviseStack(cfg, { defs: [def], policy, pollMs: 50 });
    const worker = () => readState(cfg.stateFile)?.services[0];
    return {
      cfg,
      first,
      worker,
      stackLog: () => (existsSync(stackLogFile(cfg)) ? readFileSync(stackLogFile(cfg), "utf8") : ""),
      async until(ok: () => boolean, what: string) {
        const end = Date.now() + 30_000;
        while (!ok()) {
          if (Date.now() > end) throw new Error(`${what}: not within 30 s\n${readFileSync(stackLogFile(cfg), "utf8")}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      async stop() {
        await supervision.stop();
        await stopStack(cfg);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it("a service killed with -9 is started again after 0.5 s; why goes to the stack's log and the service's, the count to the state", async () => {
    const s = await supervisedStack("setInterval(() => {}, 1000)");
    try {
      process.kill(s.first.pid, "SIGKILL");
      await s.until(() => s.worker()?.restarts === 1 && isAlive(s.worker()?.pid ?? 0), "the restart");
      expect(s.worker()?.pid).not.toBe(s.first.pid);
      expect(s.worker()?.lastExit?.reason).toBe("killed by SIGKILL");
      const why = new RegExp(
        `worker \\(pid ${s.first.pid}\\) killed by SIGKILL after [\\d.]+ s up; restart 1 in 0\\.5 s`,
      );
      expect(s.stackLog()).toMatch(why);
      expect(s.stackLog()).toMatch(/worker restarted \(pid \d+, restart 1\)/);
      expect(readFileSync(s.first.log, "utf8")).toMatch(why);
    } finally {
      await s.stop();
    }
  });

  it("one that keeps exiting waits twice as long each time, up to the cap; one that stayed up a while starts over", async () => {
    const crashing = await supervisedStack("process.exit(3)", { initialMs: 50, maxMs: 200, resetAfterMs: 60_000 });
    try {
      await crashing.until(() => (crashing.worker()?.restarts ?? 0) >= 4, "four restarts");
      const waits = [...crashing.stackLog().matchAll(/exit code 3 after [\d.]+ s up; restart \d+ in ([\d.]+) s/g)].map(
        (m) => Number(m[1]),
      );
      expect(waits.slice(0, 4)).toEqual([0.05, 0.1, 0.2, 0.2]);
    } finally {
      await crashing.stop();
    }
    const steady = await supervisedStack("setTimeout(() => process.exit(3), 400)", {
      initialMs: 50,
      maxMs: 200,
      resetAfterMs: 300,
    });
    try {
      await steady.until(() => (steady.worker()?.restarts ?? 0) >= 3, "three restarts");
      const waits = [...steady.stackLog().matchAll(/restart \d+ in ([\d.]+) s/g)].map((m) => Number(m[1]));
      expect(waits.slice(0, 3)).toEqual([0.05, 0.05, 0.05]);
    } finally {
      await steady.stop();
    }
  });

  it("nothing is started again once the stack is stopping", async () => {
    const s = await supervisedStack("setInterval(() => {}, 1000)");
    try {
      await stopStack(s.cfg);
      expect(isAlive(s.first.pid)).toBe(false);
      // Longer than the first restart's wait: a restart would have begun by now.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(s.stackLog()).not.toMatch(/restart/);
      expect(readState(s.cfg.stateFile)).toMatchObject({ phase: "stopping", services: [] });
    } finally {
      await s.stop();
    }
  });
});

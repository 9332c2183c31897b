// A private, real Redis (Debian's redis-server) for tests that kill it: the test
// stack's own Redis is shared by every test file and must stay up.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { redisPing } from "../../tools/stack/services.ts";

/** Debian's redis-server or redis-sentinel (scripts/bootstrap.sh installs both). */
export function redisBinary(name: "redis-server" | "redis-sentinel"): string {
  const cache = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");
  for (const dir of [join(cache, "bin"), ...(process.env.PATH ?? "").split(":"), "/usr/bin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found: run scripts/bootstrap.sh`);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  port: number;
  url: string;
  /** kill -9, as an outage would. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: it saves nothing). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function privateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const bin = redisBinary("redis-server");
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs],
      {
        stdio: "ignore",
      },
    );
    for (let i = 0; i < 100; i++) {
      if (await redisPing(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${port} did not start`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: start, stop: kill };
}

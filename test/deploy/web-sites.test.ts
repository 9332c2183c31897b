// The web image's server as the Helm chart runs it (WEB_SITES: one listener per
// Deployment), started for real from the build the test stack made, and the image's own
// HEALTHCHECK command run against it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support.ts";

const SERVER = resolve(REPO_ROOT, "apps/example-web/server.ts");

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) p.kill("SIGTERM");
});

function baseEnv(web: number, marketing: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    WEB_HOST: "127.0.0.1",
    WEB_PORT: String(web),
    MARKETING_PORT: String(marketing),
    WEB_URL: "https://app.example.com",
    MARKETING_URL: "https://www.example.com",
    KRATOS_PUBLIC_URL: "http://127.0.0.1:9",
    KRATOS_BROWSER_URL: "https://auth.example.com",
    AUTH_SERVICE_URL: "http://127.0.0.1:9",
    GATEWAY_URL: "https://api.example.com",
  };
}

/** Starts server.ts and resolves once it says it is ready (or rejects with its output). */
function start(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const p = spawn(process.execPath, [SERVER], { cwd: resolve(REPO_ROOT, "apps/example-web"), env });
  started.push(p);
  let out = "";
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`server.ts not ready in 360 s:\n${out}`)), 360_000);
    const on = (b: Buffer) => {
      out += b.toString();
      if (out.includes("example-web ready")) {
        clearTimeout(t);
        res(p);
      }
    };
    p.stdout.on("data", on);
    p.stderr.on("data", on);
    p.once("exit", (code) => {
      clearTimeout(t);
      rej(new Error(`server.ts exited ${code}:\n${out}`));
    });
  });
}

const answers = (port: number) =>
  fetch(`http://127.0.0.1:${port}/healthz`).then(
    (r) => r.status,
    () => "refused",
  );

/** The image's HEALTHCHECK, as the Dockerfile states it, run with a container's env. */
function healthcheck(env: NodeJS.ProcessEnv): number | null {
  const df = readFileSync(resolve(REPO_ROOT, "apps/example-web/Dockerfile"), "utf8");
  const json = /^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$/m.exec(df)?.[1];
  const [cmd, ...args] = JSON.parse(json ?? "[]") as string[];
  expect(cmd).toBe("node");
  return spawnSync(process.execPath, args, { env, timeout: 10_000 }).status;
}

describe("WEB_SITES", () => {
  it("marketing alone: one listener, /healthz answers, the app's port stays closed; the image's health check agrees", async () => {
    const [web, marketing] = [await freePort(), await freePort()];
    const env = { ...baseEnv(web, marketing), WEB_SITES: "marketing" };
    await start(env);
    expect(await answers(marketing)).toBe(200);
    expect(await answers(web)).toBe("refused");
    expect(healthcheck(env)).toBe(0);
    // Not vacuous: the same check expecting both listeners fails.
    expect(healthcheck({ ...env, WEB_SITES: "app,marketing" })).toBe(1);
  }, 400_000); // the first start builds the app for this env (2-3 min on a loaded machine)

  it("app alone, and both by default (docker-compose and the local stack)", async () => {
    const [a, b, c, d] = [await freePort(), await freePort(), await freePort(), await freePort()];
    await start({ ...baseEnv(a, b), WEB_SITES: "app" });
    expect([await answers(a), await answers(b)]).toEqual([200, "refused"]);
    const both = baseEnv(c, d);
    await start(both);
    expect([await answers(c), await answers(d)]).toEqual([200, 200]);
    expect(healthcheck(both)).toBe(0);
  }, 400_000); // two starts

  it("anything else stops the server at start, naming the variable", () => {
    const r = spawnSync(process.execPath, [SERVER], {
      cwd: resolve(REPO_ROOT, "apps/example-web"),
      env: { ...baseEnv(1, 2), WEB_SITES: "admin" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('WEB_SITES must be "app", "marketing" or "app,marketing", got "admin"');
  });
});

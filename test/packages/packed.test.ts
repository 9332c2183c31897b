// The Node packages as people install them (issue 16): packed with `pnpm pack`
// (scripts/pack-node-packages.sh, as the guard README says), installed with npm from the
// tarballs into fresh projects outside the workspace, and run against the real test stack
// with a real Kratos session:
//  - an Express app on @gatehouse/guard/express and @gatehouse/tokens, on Node 20, 22 and
//    24 (binaries from the npm registry, scripts/build-node-versions.sh), each installed by
//    that Node's own npm run so dependencies are picked for it as a user's would be;
//  - a Next.js app (next build, next start) whose middleware is @gatehouse/guard/next,
//    type-checked by next build against the packed .d.ts.
// The Next.js project's own dependencies (next, react, typescript) are cached under
// $GATEHOUSE_CACHE/consumers by the hash of its package.json; the tarballs are packed and
// installed afresh on every run.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUser, stackEnv, type TestUser } from "../../packages/guard/test/support.ts";
import { REPO_ROOT } from "../../tools/stack/config.ts";

const run = promisify(execFile);
const SLOW = 900_000;
const FIXTURES = resolve(REPO_ROOT, "test/packages/fixtures");
const CACHE = process.env.GATEHOUSE_CACHE ?? join(homedir(), ".cache/gatehouse");
const work = mkdtempSync(join(tmpdir(), "gatehouse-packed-"));
const children: ChildProcess[] = [];
let tarballs: string[] = [];
let user: TestUser;
let nextReady: Promise<string>;

/** npm's own CLI script, run by the Node binary under test (npm picks versions for the Node that runs it). */
const npmCli = () => realpathSync(execFileSync("sh", ["-c", "command -v npm"]).toString().trim());

async function npm(node: string, cwd: string, args: string[]): Promise<void> {
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}`, npm_config_update_notifier: "false" };
  await run(node, [npmCli(), ...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, env, maxBuffer: 1 << 24 });
}

/** Starts a server and resolves with its URL once it prints it (or rejects with its output). */
function start(cmd: string, args: string[], cwd: string, env: Record<string, string>, ready: RegExp): Promise<string> {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env, PATH: `${dirname(cmd)}:${process.env.PATH}` } });
  children.push(child);
  let output = "";
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${args.join(" ")} did not start: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      const url = ready.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        done(url);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => fail(new Error(`${args.join(" ")} exited with ${code}: ${output}`)));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** A browser's page load (node:http: fetch would send Sec-Fetch-Mode: cors). */
function navigate(url: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((done, fail) => {
    const headers = { accept: "text/html", "sec-fetch-mode": "navigate" };
    request(url, { headers }, (res) => {
      res.resume();
      done({ status: res.statusCode ?? 0, location: res.headers.location });
    })
      .on("error", fail)
      .end();
  });
}

/** The Next.js project's dependencies, installed once per package.json into the cache (an atomic rename publishes them). */
async function nextDependencies(node: string): Promise<string> {
  const manifest = readFileSync(join(FIXTURES, "next-app/package.json"));
  const key = createHash("sha256").update(manifest).digest("hex").slice(0, 16);
  const dir = join(CACHE, "consumers", `next-${key}`);
  if (existsSync(join(dir, "node_modules"))) return dir;
  const staging = `${dir}.${process.pid}`;
  mkdirSync(staging, { recursive: true });
  cpSync(join(FIXTURES, "next-app/package.json"), join(staging, "package.json"));
  await npm(node, staging, ["install"]);
  try {
    renameSync(staging, dir);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another run published it first
  }
  return dir;
}

async function prepareNext(node: string): Promise<string> {
  const app = join(work, "next-app");
  cpSync(join(FIXTURES, "next-app"), app, { recursive: true });
  const deps = await nextDependencies(node);
  cpSync(join(deps, "node_modules"), join(app, "node_modules"), { recursive: true, verbatimSymlinks: true });
  cpSync(join(deps, "package-lock.json"), join(app, "package-lock.json"));
  await npm(node, app, ["install", ...tarballs]);
  const s = stackEnv();
  const env = {
    AUTH_SERVICE_URL: s.authUrl,
    KRATOS_BROWSER_URL: s.kratosBrowser,
    // next start hands middleware the request URL with "localhost" for a server bound to 127.0.0.1.
    APP_HOST: "localhost",
    NEXT_TELEMETRY_DISABLED: "1",
  };
  const nextBin = join(app, "node_modules/next/dist/bin/next");
  // next build's own cache (.next/cache) from the previous run: modules that did not change are not compiled again.
  const buildCache = join(deps, "next-build-cache");
  if (existsSync(buildCache)) cpSync(buildCache, join(app, ".next/cache"), { recursive: true });
  await run(node, [nextBin, "build"], { cwd: app, env: { ...process.env, ...env }, maxBuffer: 1 << 24 }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`next build failed: ${error.stdout ?? ""}${error.stderr ?? ""}`);
    },
  );
  const staging = `${buildCache}.${process.pid}`;
  cpSync(join(app, ".next/cache"), staging, { recursive: true });
  rmSync(buildCache, { recursive: true, force: true });
  try {
    renameSync(staging, buildCache);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // a run beside this one saved its cache just now
  }
  const port = String(await freePort());
  await start(node, [nextBin, "start", "-H", "127.0.0.1", "-p", port], app, env, /(Ready) in/);
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  const packed = await run("bash", [resolve(REPO_ROOT, "scripts/pack-node-packages.sh"), join(work, "tarballs")]);
  tarballs = packed.stdout.trim().split("\n");
  user = await newUser("packed");
  const node24 = process.execPath;
  nextReady = prepareNext(node24);
  nextReady.catch(() => {}); // awaited (and reported) by the Next.js test
}, SLOW);

afterAll(() => {
  for (const child of children.splice(0)) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

describe("packed packages in fresh projects", () => {
  it("the tarballs carry built JavaScript, types and real versions", () => {
    expect(tarballs.map((t) => t.split("/").pop())).toEqual([
      "gatehouse-contracts-0.1.0.tgz",
      "gatehouse-guard-0.1.0.tgz",
      "gatehouse-kratos-0.1.0.tgz",
      "gatehouse-tokens-0.1.0.tgz",
    ]);
    const guard = tarballs.find((t) => t.includes("guard")) ?? "";
    const files = execFileSync("tar", ["-tzf", guard]).toString();
    expect(files).toContain("package/dist/adapters/next.js");
    expect(files).toContain("package/dist/adapters/express.d.ts");
    expect(files).not.toMatch(/package\/src\/|\.tsbuildinfo/);
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", guard, "package/package.json"]).toString());
    expect(manifest.private).toBeUndefined();
    expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
    expect(manifest.exports["./express"]).toEqual({
      types: "./dist/adapters/express.d.ts",
      import: "./dist/adapters/express.js",
    });
  });

  const versions = execFileSync("bash", [resolve(REPO_ROOT, "scripts/build-node-versions.sh")])
    .toString()
    .trim()
    .split("\n")
    .map((line) => line.split(" ") as [string, string]);

  it.each(versions)(
    "an Express app on Node %s: the principal with a Kratos session, 401 without",
    async (version, node) => {
      const app = join(work, `express-${version}`);
      cpSync(join(FIXTURES, "express-app"), app, { recursive: true });
      await npm(node, app, ["install", ...tarballs, "express"]);
      const s = stackEnv();
      const url = await start(
        node,
        ["server.mjs"],
        app,
        { AUTH_SERVICE_URL: s.authUrl, KRATOS_BROWSER_URL: s.kratosBrowser, APP_HOST: "127.0.0.1", PORT: "0" },
        /listening on (http:\/\/\S+)/,
      );
      const me = await fetch(`${url}/me`, { headers: { "x-session-token": user.sessionToken } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({
        subject: user.identityId,
        email: user.email,
        verifiedSub: user.identityId,
        node: `v${version}`,
      });
      const anonymous = await fetch(`${url}/me`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: "unauthenticated" });
    },
    SLOW,
  );

  it(
    "a Next.js app whose middleware is @gatehouse/guard/next: allowed with a session, else 401 or the login",
    async () => {
      const url = await nextReady;
      const s = stackEnv();
      const me = await fetch(`${url}/app`, { headers: { "x-session-token": user.sessionToken } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ subject: user.identityId, email: user.email });
      const api = await fetch(`${url}/app`, { headers: { accept: "application/json" } });
      expect(api.status).toBe(401);
      expect(await api.json()).toMatchObject({ error: "unauthenticated" });
      const page = await navigate(`${url}/app`);
      expect(page.status).toBe(303);
      const to = new URL(page.location ?? "");
      expect(`${to.origin}${to.pathname}`).toBe(`${s.kratosBrowser}/self-service/login/browser`);
      expect(to.searchParams.get("return_to")).toBe(`${url.replace("127.0.0.1", "localhost")}/app`);
    },
    SLOW,
  );
});

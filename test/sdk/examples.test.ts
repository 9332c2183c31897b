// The example backends (a Gin service and a FastAPI service in the seed product's shape:
// companies and teams, members read, admins write) as real processes, called directly
// and behind the real gateway, with users made in the real Kratos and auth-service.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, call, joinOrg, newUser, type TestUser } from "../../apps/auth-service/test/support.ts";
import { routesFile, startGateway } from "../../apps/gateway/test/harness.ts";
import { REPO_ROOT } from "../../tools/stack/config.ts";

const run = promisify(execFile);
const SLOW = 600_000;
const children: ChildProcess[] = [];
let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
let admin: TestUser;
let member: TestUser;
let outsider: TestUser;
const direct: Record<string, string> = {};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Starts a backend and waits until its /health answers (or it dies). */
async function startBackend(command: string, args: string[], cwd: string, env: Record<string, string>, port: number) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited (${child.exitCode}): ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${command} did not answer /health: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const authUrl = auth().url;
  const owner = await newUser("ex-owner");
  [admin, member, outsider] = await Promise.all([newUser("ex-admin"), newUser("ex-member"), newUser("ex-outsider")]);
  const onboarded = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Examples Co" } });
  const orgId = (onboarded.body.organization as { id?: string } | undefined)?.id;
  if (!orgId) throw new Error(`onboarding failed: ${onboarded.status}`);
  await joinOrg(owner, orgId, admin, "admin");
  await joinOrg(owner, orgId, member, "member");

  const bin = join(mkdtempSync(join(tmpdir(), "gh-gin-")), "companies");
  await run("go", ["build", "-o", bin, "./examples/companies"], {
    cwd: resolve(REPO_ROOT, "sdk/go/gin"),
    timeout: SLOW,
  });
  const { stdout } = await run("bash", [resolve(REPO_ROOT, "scripts/setup-python.sh")], { timeout: SLOW });
  const venvPython = stdout.trim();
  const [goPort, pyPort] = [await freePort(), await freePort()];
  await Promise.all([
    startBackend(
      bin,
      [],
      REPO_ROOT,
      { AUTH_SERVICE_URL: authUrl, LISTEN: `127.0.0.1:${goPort}`, PREFIX: "/gin", GIN_MODE: "release" },
      goPort,
    ),
    startBackend(
      venvPython,
      ["-m", "uvicorn", "examples.companies:app", "--host", "127.0.0.1", "--port", String(pyPort)],
      resolve(REPO_ROOT, "sdk/python"),
      { AUTH_SERVICE_URL: authUrl, PREFIX: "/fastapi" },
      pyPort,
    ),
  ]);
  direct.gin = `http://127.0.0.1:${goPort}/gin`;
  direct.fastapi = `http://127.0.0.1:${pyPort}/fastapi`;
  const route = (name: string, port: number) => `
  - name: ${name}
    match: { path: /${name}/** }
    upstream: http://127.0.0.1:${port}
    auth: { accept: [session, jwt, api_key] }
    forward: { jwt: true, identity_headers: true, kratos_cookie: false }`;
  gw = await startGateway(routesFile(`routes:${route("gin", goPort)}${route("fastapi", pyPort)}\n`));
}, SLOW);

afterAll(async () => {
  await gw?.stop();
  for (const child of children) child.kill("SIGTERM");
});

describe.each(["gin", "fastapi"])("the %s example", (name) => {
  const send = (base: string, path: string, user: TestUser | undefined, json?: unknown) =>
    fetch(`${base}${path}`, {
      method: json === undefined ? "GET" : "POST",
      headers: {
        ...(user ? { "x-session-token": user.sessionToken } : {}),
        ...(json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });

  it.each(["direct", "behind the gateway"])("%s: members read, admins write, others are refused", async (how) => {
    const base = how === "direct" ? direct[name] : `${gw?.url}/${name}`;
    if (!base) throw new Error("not started");
    const label = `${name} ${how}`;
    for (const kind of ["companies", "teams"]) {
      const created = await send(base, `/v1/${kind}`, admin, { name: `${label} ${kind}` });
      expect(created.status, await created.clone().text()).toBe(201);
      const refused = await send(base, `/v1/${kind}`, member, { name: "Nope" });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: "forbidden", request_id: expect.any(String) });
      const listed = await send(base, `/v1/${kind}`, member);
      expect(listed.status).toBe(200);
      expect(((await listed.json()) as Record<string, string[]>)[kind]).toContain(`${label} ${kind}`);
      expect((await send(base, `/v1/${kind}`, outsider)).status).toBe(403);
      const anonymous = await send(base, `/v1/${kind}`, undefined);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: "unauthenticated" });
    }
    const bad = await fetch(`${base}/v1/teams`, {
      method: "POST",
      headers: { "x-session-token": admin.sessionToken, "content-type": "application/json" },
      body: '{"name":',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_request", request_id: expect.any(String) });
  });
});

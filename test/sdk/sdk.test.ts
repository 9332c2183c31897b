// The Go module (sdk/go, sdk/go/gin) and the Python package (sdk/python) under their
// own test runners: first the conformance table (sdk/conformance/vectors.json, which
// the Node guard passes in sdk/conformance/test), then against this real stack: a user
// registered in the real Kratos, exchanged at the real auth-service, verified against
// its real JWKS, and an auth-service that is not there (a closed port).
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { auth, call, joinOrg, newUser } from "../../apps/auth-service/test/support.ts";
import { REPO_ROOT } from "../../tools/stack/config.ts";
import { Browser } from "../support/browser.ts";
import { PASSWORD, stack, startBrowserFlow, submitBrowserFlow, uniqueEmail } from "../support/kratos.ts";

const run = promisify(execFile);
const GO_DIR = resolve(REPO_ROOT, "sdk/go");
const PY_DIR = resolve(REPO_ROOT, "sdk/python");
// First runs download modules and compile; the shared 2-core machine is slow.
const SLOW = 600_000;

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: SLOW,
      maxBuffer: 16 * 1024 * 1024,
    });
    return `${stdout}\n${stderr}`;
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed (${e.code}):\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return `http://127.0.0.1:${port}`;
}

let python = "";
let env: Record<string, string> = {};

beforeAll(async () => {
  python = (await sh("bash", [resolve(REPO_ROOT, "scripts/setup-python.sh")], REPO_ROOT)).trim().split("\n")[0] ?? "";
  const s = stack();
  const b = new Browser();
  const { flow } = await startBrowserFlow(b, s, "registration");
  const email = uniqueEmail("sdk");
  const registered = await submitBrowserFlow(b, flow, {
    method: "password",
    password: PASSWORD,
    traits: { email, name: { first: "S", last: "DK" } },
  });
  expect(registered.status).toBe(200);
  const cookie = /ory_kratos_session=([^;]+)/.exec(await b.jar.getCookieString(`http://app.${s.domain}/`))?.[1];
  const identity = registered.json<{ identity?: { id?: string } }>().identity?.id;
  if (!cookie || !identity) throw new Error("the browser registration gave no session cookie");
  const other = await newUser("sdk-token");
  // One organization with an admin and a member, for the example backends.
  const [owner, admin, member] = await Promise.all([newUser("sdk-owner"), newUser("sdk-admin"), newUser("sdk-member")]);
  const onboarded = await call("/v1/onboarding", {
    token: owner.sessionToken,
    json: { name: "SDK Co", plan: "enterprise" }, // API keys are an enterprise feature
  });
  const orgId = (onboarded.body.organization as { id?: string } | undefined)?.id;
  if (!orgId) throw new Error(`onboarding failed: ${onboarded.status} ${onboarded.text}`);
  await joinOrg(owner, orgId, admin, "admin");
  await joinOrg(owner, orgId, member, "member");
  const key = await call(`/v1/organizations/${orgId}/api-keys`, {
    token: owner.sessionToken,
    json: { name: "sdk", scopes: ["teams:read"] },
  });
  if (key.status !== 201 || typeof key.body.key !== "string") throw new Error(`API key: ${key.status} ${key.text}`);
  env = {
    GATEHOUSE_AUTH_URL: auth().url,
    GATEHOUSE_SESSION_COOKIE: cookie,
    GATEHOUSE_SUBJECT: identity,
    GATEHOUSE_SESSION_TOKEN: other.sessionToken,
    GATEHOUSE_CLOSED_URL: await closedPortUrl(),
    GATEHOUSE_ADMIN_TOKEN: admin.sessionToken,
    GATEHOUSE_MEMBER_TOKEN: member.sessionToken,
    GATEHOUSE_API_KEY: key.body.key,
  };
}, SLOW);

describe("sdk/go", () => {
  it("passes the conformance table (net/http and Gin) and its fault tests (JWKS floor and outage, exchange answers)", {
    timeout: SLOW,
  }, async () => {
    const core = await sh("go", ["test", "-count=1", "-v", "."], GO_DIR);
    expect(core.match(/--- PASS: TestConformanceVectors\//g)?.length).toBeGreaterThanOrEqual(30);
    for (const name of [
      "TestJWKSRefetchOnUnknownKidHasAFloor",
      "TestJWKSOutage",
      "TestExchangeIsCachedAndSingleFlight",
    ]) {
      expect(core).toContain(`--- PASS: ${name}`);
    }
    expect(core).not.toMatch(/--- FAIL/);
    const gin = await sh("go", ["test", "-count=1", "-v", "."], resolve(GO_DIR, "gin"));
    expect(gin.match(/--- PASS: TestGinConformance\//g)?.length).toBeGreaterThanOrEqual(30);
  });

  it("authenticates a real session (cookie, token), API key and JWT; 401 without one; 503 with Retry-After when the auth-service is down", {
    timeout: SLOW,
  }, async () => {
    const out = await sh("go", ["test", "-count=1", "-v", "-tags", "stack", "-run", "TestStack", "."], GO_DIR, env);
    expect(out).toMatch(/--- PASS: TestStackRealSession/);
    expect(out).toMatch(/--- PASS: TestStackOutageIsNot401/);
  });

  it("the example Gin backend: members read, admins write, outsiders and anonymous callers are refused", {
    timeout: SLOW,
  }, async () => {
    const dir = resolve(GO_DIR, "gin/examples/companies");
    const out = await sh("go", ["test", "-count=1", "-v", "-tags", "stack", "."], dir, env);
    expect(out).toMatch(/--- PASS: TestCompaniesAgainstTheStack/);
  });
});

describe("sdk/python", () => {
  it("passes the conformance table (FastAPI, Starlette, Flask)", { timeout: SLOW }, async () => {
    const out = await sh(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], PY_DIR);
    const passed = Number(/(\d+) passed/.exec(out)?.[1] ?? 0);
    expect(passed).toBeGreaterThanOrEqual(4 * 30);
    expect(out).not.toMatch(/\d+ (failed|errors?)\b/);
  });

  it("authenticates a real session (cookie, token), API key and JWT; 401 without one; 503 with Retry-After when the auth-service is down; the example FastAPI service: members read, admins write", {
    timeout: SLOW,
  }, async () => {
    const out = await sh(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests_stack"], PY_DIR, env);
    expect(out).toMatch(/\b4 passed\b/);
  });
});

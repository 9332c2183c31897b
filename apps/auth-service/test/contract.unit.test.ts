// The auth-service's contract: the OpenAPI document is valid OpenAPI 3.1, the committed
// copies (document, token-claims JSON Schema, the example web app's client types) are
// what the source makes, every route the routers register is in the route table, and
// the response check the integration tests run (contract-check.ts) refuses what breaks it.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { type App, createLogger } from "../src/app.ts";
import { adminApp } from "../src/http/admin.ts";
import { healthRoutes } from "../src/http/health.ts";
import { CONTRACT_VERSION, openApiDocument } from "../src/http/openapi.ts";
import { publicRouter } from "../src/http/public.ts";
import { RateLimiter } from "../src/http/rate-limit.ts";
import { ROUTES } from "../src/http/routes.ts";
import { contractChecker } from "./contract-check.ts";

const SCRIPT = resolve(import.meta.dirname, "../scripts/contract.ts");

describe("the auth-service's OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const v = new Validator();
    const out = await v.validate(openApiDocument());
    expect(out.errors ?? []).toEqual([]);
    expect(out.valid).toBe(true);
    expect(v.version).toBe("3.1");
  });

  it("the committed openapi.json, token-claims JSON Schema and client types are what the source makes", async () => {
    // The script's own --check (exit 1 naming the files that drifted).
    const run = await promisify(execFile)(process.execPath, [SCRIPT, "--check"]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(run).toEqual({ code: 0, stderr: "" });
  });

  it("the Python SDK's client says which contract version it follows, and it is this major", () => {
    const py = readFileSync(resolve(import.meta.dirname, "../../../sdk/python/src/gatehouse/_exchange.py"), "utf8");
    const followed = /^CONTRACT_VERSION = "(\d+)\.\d+\.\d+"$/m.exec(py)?.[1];
    expect(followed).toBe(CONTRACT_VERSION.split(".")[0]);
  });

  it("every route the public and admin listeners register is in the route table, and no other", () => {
    const app = stubApp();
    const limiter = new RateLimiter({ windowMs: 1000, max: 1, name: "test" });
    const publicRoutes = [...routesOf(healthRoutes(app)), ...routesOf(publicRouter(app, limiter, () => undefined))];
    const registered = new Set([...publicRoutes, ...routesOf(adminApp(app))]);
    const table = new Set(Object.values(ROUTES).map((r) => `${r.method.toUpperCase()} ${r.path}`));
    // POST /v1/token is answered by its own door (token.ts) in front of the Express app.
    registered.add("POST /v1/token");
    expect([...registered].sort()).toEqual([...table].sort());
  });
});

describe("the contract check on the integration tests' answers", () => {
  const check = contractChecker();
  const team = {
    id: "4c8a1c46-9a8e-4b51-9d43-2a0b6a3c9f01",
    organizationId: "0f5b7f0e-2f7e-4a63-8d2b-6c1f8a9e4d22",
    name: "Core",
    createdAt: "2026-12-03T16:00:00.000Z",
    updatedAt: "2026-12-03T16:00:00.000Z",
  };
  const answer = (status: number, body: unknown, path = `/v1/organizations/${team.organizationId}/teams`) => ({
    method: "POST",
    path,
    status,
    contentType: "application/json; charset=utf-8",
    text: JSON.stringify(body),
  });

  it("accepts a body that matches", () => {
    expect(check(answer(201, { team }))).toBeUndefined();
    expect(check(answer(409, { error: "conflict", message: "taken", request_id: "r1" }))).toBeUndefined();
    expect(check(answer(404, { error: "not_found", message: "no route", request_id: "r1" }, "/v1/nowhere"))).toBe(
      undefined,
    );
  });

  it("refuses a wrong body, an undeclared status, an unknown route, a code the route does not answer", () => {
    const { name: _, ...nameless } = team;
    expect(check(answer(201, { team: nameless }))).toMatch(/must have required property 'name'/);
    expect(check(answer(201, { team: { ...team, secret: "x" } }))).toMatch(/additional properties/);
    expect(check(answer(201, { team: { ...team, createdAt: "yesterday" } }))).toMatch(/createdAt/);
    expect(check(answer(200, { team }))).toMatch(/status not declared/);
    expect(check(answer(200, { team }, "/v1/nowhere"))).toMatch(/no such route/);
    expect(check(answer(409, { error: "last_owner", message: "x", request_id: "r1" }))).toMatch(/not among/);
    expect(check(answer(400, { error: "bad_request", message: "x" }))).toMatch(/request_id/);
  });
});

// --- The routers, built on a stub: registering routes reads only configuration. ---

function stubApp(): App {
  const log = createLogger({ logLevel: "silent", logSync: true });
  return {
    cfg: {
      corsOrigins: [],
      trustProxy: "loopback",
      rateLimitPerMinute: 60,
      bodyLimitBytes: 1024,
      kratos: { cookieName: "ory_kratos_session" },
      token: { issuer: "http://localhost:7410", audience: ["x"], alg: "RS256", ttlSec: 300 },
      permissions: {},
      adminApiToken: "x",
      webhookSecret: "x",
    },
    log,
    metrics: { observeRequest() {} },
    keys: { jwksSource: () => async () => ({ keys: [] }) },
  } as unknown as App;
}

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };

function routesOf(e: unknown): string[] {
  // An Express app keeps its layers in .router.stack, a Router in .stack.
  const r = e as { router?: { stack: Layer[] }; stack?: Layer[] };
  const stack = r.router?.stack ?? r.stack ?? [];
  const walk = (layers: Layer[]): string[] =>
    layers.flatMap((l) =>
      l.route
        ? Object.keys(l.route.methods)
            .filter((m) => m !== "_all")
            .map((m) => `${m.toUpperCase()} ${l.route?.path}`)
        : l.handle?.stack
          ? walk(l.handle.stack)
          : [],
    );
  return walk(stack);
}

// The Next.js middleware entry: its whole import graph must be Edge-safe, and it
// must behave like the other entries (here with Web Request objects, against the
// real stack).
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNextGuard, type NextGuard } from "../src/adapters/next.ts";
import { BROWSER_NAV, closedPort, newUser, stackEnv, stackGuardOptions, type TestUser } from "./support.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
// Workspace packages resolve to their source entry; anything else bare must be on this list.
const WORKSPACE: Record<string, string> = {
  "@gatehouse/contracts": resolve(repo, "packages/contracts/src/index.ts"),
  "@gatehouse/tokens": resolve(repo, "packages/tokens/src/index.ts"),
  // The Edge-safe subpath only; "@gatehouse/kratos" itself (undici) must never appear.
  "@gatehouse/kratos/credentials": resolve(repo, "packages/kratos/src/credentials.ts"),
};
const EDGE_SAFE_PACKAGES = new Set(["jose"]);

function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^"'`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) if (m[1]) out.push(m[1]);
  return out;
}

/** Every source file reachable from `entry`, and every bare import found on the way. */
function importGraph(entry: string): { files: Map<string, string>; bare: { from: string; spec: string }[] } {
  const files = new Map<string, string>();
  const bare: { from: string; spec: string }[] = [];
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    const source = readFileSync(file, "utf8");
    files.set(file, source);
    for (const spec of specifiers(source)) {
      if (spec.startsWith(".")) queue.push(resolve(dirname(file), spec));
      else if (WORKSPACE[spec]) queue.push(WORKSPACE[spec]);
      else bare.push({ from: file.slice(repo.length + 1), spec });
    }
  }
  return { files, bare };
}

describe("Next.js entry: Edge-safe import graph", () => {
  const { files, bare } = importGraph(resolve(here, "../src/adapters/next.ts"));

  it("reaches the core and @gatehouse/tokens, nothing Node-only", () => {
    const names = [...files.keys()].map((f) => f.slice(repo.length + 1));
    expect(names).toContain("packages/guard/src/core/guard.ts");
    expect(names).toContain("packages/tokens/src/verify.ts");
    expect(names).toContain("packages/contracts/src/errors.ts");
    const forbidden = bare.filter(
      ({ spec }) =>
        spec.startsWith("node:") ||
        builtinModules.includes(spec.split("/")[0] ?? spec) ||
        !EDGE_SAFE_PACKAGES.has(
          spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec),
        ),
    );
    expect(forbidden).toEqual([]);
    for (const name of names) {
      expect(name, "Node-only transport/adapter in the Edge graph").not.toMatch(
        /undici|adapters\/(express|proxy|node)\.ts$/,
      );
    }
  });

  it("uses no Node globals", () => {
    for (const [file, source] of files) {
      const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      expect(code, file).not.toMatch(/\bBuffer\b|\bprocess\.|\bsetImmediate\b|\b__dirname\b|\brequire\(/);
    }
  });

  it("the scanner itself would catch a forbidden import", () => {
    expect(
      specifiers('import { Pool } from "undici";\nimport type { Redis } from "ioredis";\nexport * from "node:http";'),
    ).toEqual(["undici", "ioredis", "node:http"]);
  });
});

describe("createNextGuard (real stack, Web Request/Response)", () => {
  let next: NextGuard;
  let user: TestUser;
  let page: string;
  beforeAll(async () => {
    next = createNextGuard(stackGuardOptions());
    user = await newUser("next");
    page = `http://${stackEnv().appHost}/app/projects`;
  });
  afterAll(async () => {
    await next.close();
  });

  it("allow: requestHeaders carry the principal, never the client's identity headers", async () => {
    const request = new Request(page, {
      headers: { "x-session-token": user.sessionToken, "X-User-Id": "admin", "x-auth-user": "root", "x-other": "kept" },
    });
    const { response, requestHeaders, principal } = await next.check(request);
    expect(response).toBeUndefined();
    expect(principal?.subject).toBe(user.identityId);
    expect(requestHeaders?.get("x-user-id")).toBe(user.identityId);
    expect(requestHeaders?.get("x-user-email")).toBe(user.email);
    expect(requestHeaders?.get("authorization")).toBe(`Bearer ${principal?.token}`);
    expect(requestHeaders?.get("x-auth-user")).toBeNull();
    expect(requestHeaders?.get("x-other")).toBe("kept");
  });

  it("browser without a session: a 303 Response to the login", async () => {
    const { response, requestHeaders } = await next.check(new Request(page, { headers: BROWSER_NAV }));
    expect(requestHeaders).toBeUndefined();
    expect(response?.status).toBe(303);
    expect(new URL(response?.headers.get("location") ?? "").searchParams.get("return_to")).toBe(page);
  });

  it("API caller without a session: 401 JSON; lacking a role: 403 JSON", async () => {
    const anon = await next.check(new Request(page, { headers: { accept: "application/json" } }));
    expect(anon.response?.status).toBe(401);
    expect(await anon.response?.json()).toMatchObject({ error: "unauthenticated", request_id: expect.any(String) });
    const member = await next.check(new Request(page, { headers: { "x-session-token": user.sessionToken } }), {
      roles: ["admin"],
    });
    expect(member.response?.status).toBe(403);
  });

  it("auth-service down: 503 with Retry-After, even for a browser", async () => {
    const down = createNextGuard({
      authServiceUrl: `http://127.0.0.1:${await closedPort()}`,
      audience: "gatehouse",
      login: { url: "http://auth.example/login", allowedReturnHosts: ["app.example"] },
    });
    try {
      const { response } = await down.check(
        new Request("http://app.example/x", { headers: { ...BROWSER_NAV, cookie: "ory_kratos_session=abc" } }),
      );
      expect(response?.status).toBe(503);
      expect(response?.headers.get("retry-after")).toBe("5");
    } finally {
      await down.close();
    }
  });
});

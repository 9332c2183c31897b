import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { matchRoute } from "../src/routes/match.ts";
import { matchKey, normalizePath } from "../src/routes/normalize.ts";
import { intersects, parsePattern } from "../src/routes/patterns.ts";
import { compileRoutes, loadRoutesFile, RoutesError } from "../src/routes/schema.ts";

const U = "http://127.0.0.1:9";
const table = compileRoutes({
  routes: [
    { name: "admin", match: { path: "/admin/**" }, priority: 10, upstream: U, auth: { roles: ["admin"] } },
    { name: "api", match: { host: "api.example.com", path: "/**" }, upstream: U },
    {
      name: "public",
      match: { path: "/public/*", methods: ["GET"] },
      priority: 5,
      upstream: U,
      auth: { anonymous: true, accept: [] },
    },
  ],
  default: { upstream: U },
});
const route = (target: string, host = "app.example.com", method = "GET") => {
  const n = normalizePath(target);
  if (!n.ok) return `refused: ${n.reason}`;
  return matchRoute(table, host, matchKey(n.path), method)?.name;
};

describe("path normalization: tricks cannot reach another route or skip a guard", () => {
  it.each([
    ["/admin/../x"],
    ["/x/../admin/users"],
    ["/%2e%2e/admin"],
    ["/admin%2fusers"],
    ["/public/%2e%2e/admin"],
    ["/admin./users"],
    ["/admin;jsessionid=1/users"],
    ["/public/a;/../../admin"],
    ["/admin\\users"],
    ["/admin/%00"],
    ["/admin/%5cusers"],
    ["/%252e%252e/admin"],
    ["/public/%c0%ae%c0%ae/admin"],
    ["/public/..%c0%afadmin"],
    ["/public/%e0%80%ae%e0%80%ae/admin"],
    ["/public/%ff"],
    ["/public/\u00c0\u00ae\u00c0\u00ae/admin"],
  ])("%s is refused", (p) => {
    expect(route(p)).toMatch(/^refused/);
  });

  it.each([
    ["//admin/users", "admin"],
    ["/ADMIN/users", "admin"],
    ["/Admin", "admin"],
    ["/%61dmin/users", "admin"],
    ["///admin//users//", "admin"],
    ["/public/page", "public"],
    ["/public/caf%C3%A9", "public"],
    ["/public/a/b", "default"],
  ])("%s is matched as %s", (p, name) => {
    expect(route(p)).toBe(name);
  });

  it("the path forwarded upstream is the normalized one the rule matched", () => {
    expect(normalizePath("//Admin//users/?q=/../x")).toEqual({ ok: true, path: "/Admin/users/", query: "?q=/../x" });
  });

  it("methods and hosts narrow a route; host ports are ignored", () => {
    expect(route("/public/page", "app.example.com", "POST")).toBe("default");
    expect(route("/anything", "API.example.com:443")).toBe("api");
    expect(route("/admin/x", "api.example.com")).toBe("admin");
  });
});

describe("routes file", () => {
  it("detects overlapping routes of equal priority and names both", () => {
    expect(() =>
      compileRoutes({
        routes: [
          { name: "a", match: { path: "/v1/**" }, upstream: U },
          { name: "b", match: { path: "/v1/admin/*" }, upstream: U },
        ],
      }),
    ).toThrow(/"a" \(\/v1\/\*\*\) and "b" \(\/v1\/admin\/\*\) overlap with the same priority 0/);
    // Disjoint methods, hosts or paths do not overlap; distinct priorities resolve it.
    expect(() =>
      compileRoutes({
        routes: [
          { name: "a", match: { path: "/v1/**", methods: ["GET"] }, upstream: U },
          { name: "b", match: { path: "/v1/**", methods: ["POST"] }, upstream: U },
          { name: "c", match: { path: "/v2/**", host: "a.example.com" }, upstream: U },
          { name: "d", match: { path: "/v2/**", host: "b.example.com" }, upstream: U },
          { name: "e", match: { path: "/v3/*/x" }, upstream: U },
          { name: "f", match: { path: "/v3/y/z" }, upstream: U },
          { name: "g", match: { path: "/v1/**" }, priority: 5, upstream: U },
        ],
      }),
    ).not.toThrow();
    expect(() =>
      compileRoutes({
        routes: [
          { name: "w", match: { path: "/x", host: "*.example.com" }, upstream: U },
          { name: "v", match: { path: "/x", host: "api.example.com" }, upstream: U },
        ],
      }),
    ).toThrow(RoutesError);
  });

  it("pattern intersection", () => {
    const i = (a: string, b: string) => intersects(parsePattern(a), parsePattern(b));
    expect(i("/a/**", "/a/b/c")).toBe(true);
    expect(i("/a/*/c", "/a/b/*")).toBe(true);
    expect(i("/a/*", "/a/b/c")).toBe(false);
    expect(i("/**/x", "/y/**")).toBe(true);
    expect(i("/a", "/b")).toBe(false);
  });

  it.each([
    [{ routes: [{ name: "x", match: {}, upstream: "ftp://h" }] }, /routes\[0\]\.upstream: must be an origin/],
    [{ routes: [{ name: "x", match: {}, upstream: "http://h/path" }] }, /upstream: must be an origin/],
    [{ routes: [{ name: "x", match: {}, upstream: U, auth: { roles: ["root"] } }] }, /routes\[0\]\.auth\.roles\[0\]/],
    [{ routes: [{ name: "x", upstream: U }] }, /routes\[0\]\.match: Invalid input/],
    [
      { routes: [{ name: "x", upstream: U, match: { path: "/a*b" } }] },
      /match\.path: "\*" and "\*\*" must be whole segments/,
    ],
    [{ routes: [{ name: "x", upstream: U, match: { host: "bad host" } }] }, /match\.host: "bad host"/],
    [
      { routes: [{ name: "x", match: {}, upstream: U, auth: { anonymous: true, roles: ["admin"] } }] },
      /anonymous route cannot require roles/,
    ],
    [
      {
        routes: [
          { name: "x", match: { path: "/a" }, upstream: U },
          { name: "x", upstream: U, match: { path: "/b" } },
        ],
      },
      /"x" is used twice/,
    ],
    [{ routes: [{ name: "x", match: {}, upstream: U, tiemout_ms: 5 }] }, /routes\[0\]: Unrecognized key/],
    [{ rutes: [] }, /Unrecognized key/],
  ])("rejects a bad file with a message naming the field (%#)", (doc, msg) => {
    expect(() => compileRoutes(doc, "routes.yaml")).toThrow(msg);
  });

  it("loads YAML and JSON files and names the file in errors", () => {
    const dir = mkdtempSync(join(tmpdir(), "routes-"));
    writeFileSync(join(dir, "r.yaml"), `routes:\n  - name: api\n    match: { path: /api/** }\n    upstream: ${U}\n`);
    expect(loadRoutesFile(join(dir, "r.yaml")).routes[0]?.name).toBe("api");
    writeFileSync(join(dir, "bad.yaml"), "routes: [ {");
    expect(() => loadRoutesFile(join(dir, "bad.yaml"))).toThrow(/bad\.yaml: not valid YAML/);
    writeFileSync(join(dir, "bad.json"), "{");
    expect(() => loadRoutesFile(join(dir, "bad.json"))).toThrow(/bad\.json: not valid JSON/);
    expect(() => loadRoutesFile(join(dir, "missing.yaml"))).toThrow(/cannot read routes file .*missing\.yaml: ENOENT/);
  });
});

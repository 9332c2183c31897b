import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";

const good: Record<string, string> = {
  DATABASE_URL: "postgres://u@127.0.0.1:5432/gatehouse",
  REDIS_URL: "redis://127.0.0.1:6379",
  KRATOS_PUBLIC_URL: "http://127.0.0.1:4433",
  KRATOS_ADMIN_URL: "http://127.0.0.1:4434",
  TOKEN_ISSUER: "https://auth.example.com",
  SIGNING_KEY_KEK: "00".repeat(32),
  WEBHOOK_SECRET: "w".repeat(32),
  ADMIN_API_TOKEN: "a".repeat(32),
};

const fails = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("auth-service configuration", () => {
  it("parses a complete environment into typed values with defaults", () => {
    const c = loadConfig(good);
    expect(c.token).toEqual({ issuer: "https://auth.example.com", audience: ["gatehouse"], ttlSec: 300, alg: "RS256" });
    expect(c.publicPort).toBe(7410);
    expect(c.kek).toHaveLength(32);
    expect(c.permissions.member).toContain("org:read");
    expect(c.logSync).toBe(false);
    expect(loadConfig({ ...good, LOG_SYNC: "true" }).logSync).toBe(true);
  });

  it("names every missing or bad variable", () => {
    expect(fails({ ...good, DATABASE_URL: undefined })).toMatch(/DATABASE_URL/);
    expect(fails({ ...good, DATABASE_URL: "mysql://x/y" })).toMatch(/DATABASE_URL: must be a postgres/);
    expect(fails({ ...good, TOKEN_TTL_SECONDS: "99999" })).toMatch(/TOKEN_TTL_SECONDS/);
    expect(fails({ ...good, TOKEN_ALG: "HS256" })).toMatch(/TOKEN_ALG/);
    expect(fails({ ...good, LOG_SYNC: "yes" })).toMatch(/LOG_SYNC/);
    expect(fails({ ...good, SIGNING_KEY_KEK: "short" })).toMatch(/SIGNING_KEY_KEK/);
    expect(fails({ ...good, WEBHOOK_SECRET: "tooshort" })).toMatch(/WEBHOOK_SECRET: must be at least 32/);
    expect(fails({ ...good, CORS_ALLOWED_ORIGINS: "*" })).toMatch(/CORS_ALLOWED_ORIGINS/);
    expect(fails({ ...good, CORS_ALLOWED_ORIGINS: "null" })).toMatch(/CORS_ALLOWED_ORIGINS/);
    expect(fails({ ...good, CORS_ALLOWED_ORIGINS: "https://app.example.com/path" })).toMatch(/CORS_ALLOWED_ORIGINS/);
    expect(fails({ ...good, PERMISSIONS_JSON: "{" })).toMatch(/PERMISSIONS_JSON: not valid JSON/);
    expect(fails({ ...good, PERMISSIONS_JSON: '{"owner":["x"],"admin":[],"member":[],"god":[]}' })).toMatch(
      /PERMISSIONS_JSON/,
    );
    expect(fails({ ...good, AUTH_PUBLIC_PORT: "8000", AUTH_ADMIN_PORT: "8000" })).toMatch(/AUTH_ADMIN_PORT/);
    expect(fails({ ...good, LOCKOUT_REPORT_TOKEN: "short" })).toMatch(/LOCKOUT_REPORT_TOKEN: must be at least 32/);
    expect(fails({ ...good, LOCKOUT_REPORT_TOKEN: good.ADMIN_API_TOKEN })).toMatch(/LOCKOUT_REPORT_TOKEN: must differ/);
    expect(loadConfig({ ...good, LOCKOUT_REPORT_TOKEN: "l".repeat(32) }).lockoutReportToken).toBe("l".repeat(32));
    // Redis in any of its three shapes (@gatehouse/redis), reported with the other mistakes.
    expect(fails({ ...good, REDIS_URL: "http://x" })).toMatch(/REDIS_URL: must be a redis:\/\/ URL/);
    expect(fails({ ...good, REDIS_URL: "", REDIS_SENTINELS: "s-0:26379", TOKEN_ALG: "x" })).toMatch(
      /TOKEN_ALG[\s\S]*REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/,
    );
    expect(fails({ ...good, REDIS_CLUSTER_NODES: "a:1" })).toMatch(/REDIS_CLUSTER_NODES: set only one of/);
    expect(loadConfig({ ...good, REDIS_URL: undefined, REDIS_CLUSTER_NODES: "10.0.0.1:7000" }).redis).toEqual({
      mode: "cluster",
      nodes: [{ host: "10.0.0.1", port: 7000 }],
    });
    const many = fails({});
    for (const v of ["DATABASE_URL", "REDIS_URL", "KRATOS_PUBLIC_URL", "TOKEN_ISSUER", "WEBHOOK_SECRET"])
      expect(many).toContain(v);
  });

  it("the process refuses to start on bad config with the variable named and no stack trace", async () => {
    const main = resolve(import.meta.dirname, "../src/main.ts");
    const r = await promisify(execFile)(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", ...good, TOKEN_TTL_SECONDS: "nope" },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TOKEN_TTL_SECONDS/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});

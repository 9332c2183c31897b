import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { trustChecker } from "../src/client/trust.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { routesFile } from "./harness.ts";

const good = {
  ROUTES_FILE: "/tmp/x.yaml",
  AUTH_SERVICE_URL: "http://127.0.0.1:7410",
  KRATOS_PUBLIC_URL: "http://127.0.0.1:7433",
};

describe("gateway configuration", () => {
  it("names the bad variable", () => {
    const bad = (env: Record<string, string | undefined>) => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("expected ConfigError");
    };
    expect(bad({ ...good, ROUTES_FILE: undefined })).toMatch(/ROUTES_FILE/);
    expect(bad({ ...good, AUTH_SERVICE_URL: "nope" })).toMatch(/AUTH_SERVICE_URL/);
    expect(bad({ ...good, TRUSTED_PROXIES: "10.0.0.0/33" })).toMatch(/TRUSTED_PROXIES/);
    expect(bad({ ...good, TRUSTED_PROXIES: "banana" })).toMatch(/TRUSTED_PROXIES/);
    expect(bad({ ...good, BRUTE_FORCE_MAX_FAILURES: "0" })).toMatch(/BRUTE_FORCE_MAX_FAILURES/);
    expect(bad({ ...good, LOGIN_URL: "https://app.example.com/auth/login" })).toMatch(/ALLOWED_RETURN_HOSTS/);
    expect(bad({ ...good, METRICS_PORT: "metrics" })).toMatch(/METRICS_PORT/);
    expect(bad({ ...good, GATEWAY_PORT: "7400", METRICS_PORT: "7400" })).toMatch(/METRICS_PORT: must differ/);
    expect(loadConfig({ ...good, METRICS_PORT: "7431" }).METRICS_PORT).toBe(7431);
    // Lock reports: the URL and the narrow token together, never the operator's token.
    expect(bad({ ...good, AUTH_ADMIN_URL: "http://127.0.0.1:7411" })).toMatch(
      /AUTH_ADMIN_URL: set it and LOCKOUT_REPORT_TOKEN/,
    );
    expect(bad({ ...good, AUTH_ADMIN_URL: "http://127.0.0.1:7411", LOCKOUT_REPORT_TOKEN: "short" })).toMatch(
      /LOCKOUT_REPORT_TOKEN: must be at least 32/,
    );
    expect(loadConfig(good).METRICS_PORT).toBeUndefined();
    expect(bad({ ...good, ACCESS_LOG: "yes please" })).toMatch(/ACCESS_LOG/);
    expect(bad({ ...good, LOG_SYNC: "sometimes" })).toMatch(/LOG_SYNC/);
    // Redis is optional here; when set, in any of its three shapes (@gatehouse/redis).
    expect(loadConfig(good).redis).toBeUndefined();
    expect(bad({ ...good, REDIS_SENTINELS: "s-0:26379,s-1:nope" })).toMatch(
      /REDIS_SENTINELS: "s-1:nope" is not host:port[\s\S]*REDIS_SENTINEL_NAME: required/,
    );
    expect(loadConfig({ ...good, REDIS_SENTINELS: "s-0", REDIS_SENTINEL_NAME: "gh" }).redis).toEqual({
      mode: "sentinel",
      sentinels: [{ host: "s-0", port: 26379 }],
      name: "gh",
    });
    expect(loadConfig(good).ACCESS_LOG).toBe(false);
    expect(loadConfig({ ...good, ACCESS_LOG: "true" }).ACCESS_LOG).toBe(true);
    expect(bad({ ...good, FORWARD_AUTH_PROXY: "haproxy", TRUSTED_PROXIES: "10.0.0.0/8" })).toMatch(
      /FORWARD_AUTH_PROXY/,
    );
    expect(bad({ ...good, FORWARD_AUTH_PROXY: "traefik" })).toMatch(
      /TRUSTED_PROXIES: required with FORWARD_AUTH_PROXY/,
    );
    expect(loadConfig({ ...good, FORWARD_AUTH_PROXY: "caddy", TRUSTED_PROXIES: "10.0.0.0/8" }).FORWARD_AUTH_PROXY).toBe(
      "caddy",
    );
    expect(loadConfig(good).FORWARD_AUTH_PROXY).toBeUndefined();
  });

  it("trusted proxies match by CIDR, IPv4 and IPv6", () => {
    const t = trustChecker(["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    expect(t("10.1.2.3")).toBe(true);
    expect(t("::ffff:10.1.2.3")).toBe(true);
    expect(t("11.0.0.1")).toBe(false);
    expect(t("127.0.0.1")).toBe(true);
    expect(t("127.0.0.2")).toBe(false);
    expect(t("fd12::1")).toBe(true);
    expect(t("fe80::1")).toBe(false);
    expect(t(undefined)).toBe(false);
  });

  it("the process refuses a bad routes file at start with the file and field named", async () => {
    const file = routesFile("routes:\n  - name: x\n    match: { path: /a*b }\n    upstream: http://127.0.0.1:9\n");
    const r = await promisify(execFile)(process.execPath, [resolve(import.meta.dirname, "../src/main.ts")], {
      env: { PATH: process.env.PATH ?? "", ...good, ROUTES_FILE: file },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/match\.path/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});

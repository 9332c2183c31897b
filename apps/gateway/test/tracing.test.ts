// Tracing as the gateway takes it: OTEL_* parsed with the rest of its configuration (a
// bad one stops it, named), and nothing of the OpenTelemetry SDK loaded while it is off.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";

const good = {
  ROUTES_FILE: "/tmp/x.yaml",
  AUTH_SERVICE_URL: "http://127.0.0.1:7410",
  KRATOS_PUBLIC_URL: "http://127.0.0.1:7433",
};

describe("gateway tracing", () => {
  it("a bad variable stops the service with its name, and never echoes a header's value", () => {
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig({ ...good, ...env });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("expected ConfigError");
    };
    expect(bad({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(bad({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL: only "http\/protobuf"/);
    expect(bad({ OTEL_TRACES_SAMPLER: "sometimes" })).toMatch(/OTEL_TRACES_SAMPLER/);
    expect(bad({ OTEL_TRACES_SAMPLER_ARG: "2" })).toMatch(/OTEL_TRACES_SAMPLER_ARG/);
    const headers = bad({ OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%ZZsecret-value" });
    expect(headers).toMatch(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(headers).not.toContain("secret-value");
    expect(loadConfig(good).tracing).toBeUndefined();
    expect(loadConfig({ ...good, OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).tracing?.serviceName).toBe("gateway");
  });

  it("with tracing off, a service loads none of the SDK; with it on, it does", async () => {
    const loaded = (otel: Record<string, string>) => sdkModulesLoadedByGateway(otel);
    expect(await loaded({})).toEqual([]);
    // The same probe sees them when tracing is on (so the empty list above means something).
    const on = await loaded({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
    expect(on.some((m) => m.includes("@opentelemetry/sdk-trace"))).toBe(true);
    expect(on.some((m) => m.includes("import-in-the-middle"))).toBe(true);
  });
});

/**
 * Starts and stops the gateway in a child process whose module loader records every
 * module it resolves; returns those of the OpenTelemetry SDK and its loader hook.
 */
async function sdkModulesLoadedByGateway(otel: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-tracing-"));
  const routes = join(dir, "routes.yaml");
  writeFileSync(routes, "routes:\n  - name: x\n    match: { path: /x/** }\n    upstream: http://127.0.0.1:9\n");
  const env = {
    GATEWAY_PORT: "0",
    ROUTES_FILE: routes,
    AUTH_SERVICE_URL: "http://127.0.0.1:9",
    KRATOS_PUBLIC_URL: "http://127.0.0.1:9",
    LOG_LEVEL: "silent",
    ...otel,
  };
  expect(loadConfig(env).tracing !== undefined).toBe(Object.keys(otel).length > 0);
  const main = pathToFileURL(resolve(import.meta.dirname, "../src/main.ts")).href;
  const probe = `
    import { registerHooks } from "node:module";
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) {
      const r = next(specifier, context);
      if (/@opentelemetry|import-in-the-middle|require-in-the-middle/.test(r.url)) seen.add(r.url);
      return r;
    } });
    const { start } = await import(${JSON.stringify(main)});
    const s = await start();
    await s.stop();
    console.log(JSON.stringify([...seen]));
    process.exit(0);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", probe], {
    env: { PATH: process.env.PATH ?? "", ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split("\n").pop() ?? "[]") as string[];
}

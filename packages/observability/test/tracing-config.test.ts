// The OTEL_* variables as every service parses them, and what tracing leaves out of spans.
import { describe, expect, it } from "vitest";
import { traceContext, withTraceHeaders } from "../src/trace-context.ts";
import { scrubUrl, spanName } from "../src/tracing.ts";
import { tracingConfig, tracingEnv } from "../src/tracing-config.ts";

const parse = (env: Record<string, string>) => tracingConfig(tracingEnv.parse(env), "svc");
describe("tracing configuration (OTEL_*)", () => {
  it("is off without an endpoint, and when disabled or sampling nothing", () => {
    expect(parse({})).toBeUndefined();
    // "" is unset, as the spec says (a compose file passes an unset variable through as "").
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_TRACES_SAMPLER_ARG: "" })).toBeUndefined();
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(parse({ ...on, OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(parse({ ...on, OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
    expect(parse({ ...on, OTEL_TRACES_SAMPLER: "always_off" })).toBeUndefined();
  });

  it("reads the standard variables", () => {
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })).toEqual({
      serviceName: "svc",
      tracesUrl: "http://collector:4318/v1/traces",
      headers: {},
      resourceAttributes: {},
      sampler: "parentbased_always_on",
      ratio: 1,
    });
    const c = parse({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://vendor.example/otlp/traces",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Basic%20abc,x-tenant=a",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=b",
      OTEL_SERVICE_NAME: "edge",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=staging",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    });
    expect(c).toMatchObject({
      serviceName: "edge",
      tracesUrl: "https://vendor.example/otlp/traces",
      headers: { authorization: "Basic abc", "x-tenant": "b" },
      resourceAttributes: { "deployment.environment.name": "staging" },
      sampler: "parentbased_traceidratio",
      ratio: 0.25,
    });
  });

  it("query strings and URL credentials never reach a span", () => {
    expect(scrubUrl("http://127.0.0.1:4433/self-service/recovery?token=abc#x")).toBe(
      "http://127.0.0.1:4433/self-service/recovery",
    );
    expect(scrubUrl("https://user:pw@host/p?q=1")).toBe("https://host/p");
    expect(scrubUrl("http://host/plain")).toBe("http://host/plain");
    expect(spanName("GET", "/self-service/verification?code=123456")).toBe("GET /self-service/verification");
    expect(spanName("POST", `/${"a".repeat(100)}`)).toBe(`POST /${"a".repeat(79)}…`);
  });

  it("the gateway's proxied requests carry the current trace, not the client's, only when tracing is on", () => {
    const headers = ["Host", "x", "traceparent", "00-client", "TraceState", "c=1", "accept", "*/*"];
    expect(withTraceHeaders(headers)).toBe(headers);
    traceContext.headers = () => ({ traceparent: "00-ours" });
    try {
      expect(withTraceHeaders(headers)).toEqual(["Host", "x", "accept", "*/*", "traceparent", "00-ours"]);
    } finally {
      delete traceContext.headers;
    }
  });
});

// The OpenTelemetry variables every service reads (the standard OTEL_* names, so a
// collector's or a platform's usual settings apply), parsed with the service's own
// configuration. Tracing is on only when an OTLP endpoint is set: with none, nothing
// of the SDK is loaded (see ./tracing.ts, which only a traced service imports).
import { z } from "zod";

const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

// As the OpenTelemetry spec says: a variable set to "" is unset (a chart or a compose
// file can then pass OTEL_EXPORTER_OTLP_ENDPOINT through, empty for "no tracing").
function unsetWhenEmpty<T extends Record<string, z.ZodType>>(
  shape: T,
): { [K in keyof T]: z.ZodPipe<z.ZodTransform, T[K]> } {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = z.preprocess((x) => (x === "" ? undefined : x), v);
  return out as { [K in keyof T]: z.ZodPipe<z.ZodTransform, T[K]> };
}

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), "must be an http:// or https:// URL");

// "key1=value1,key2=value2", values percent-encoded (the OpenTelemetry spec's format).
// Messages never repeat a value: headers carry a collector's credentials.
const keyValues = z.string().transform((s, ctx) => {
  const out: Record<string, string> = {};
  for (const part of s.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    if (eq < 1 || key === "") {
      ctx.addIssue({ code: "custom", message: "must be key=value pairs separated by commas" });
      return z.NEVER;
    }
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      ctx.addIssue({ code: "custom", message: `the value of ${key} is not valid percent-encoding` });
      return z.NEVER;
    }
  }
  return out;
});

// Only OTLP over HTTP with protobuf bodies is built in (what Jaeger, the Collector and
// every vendor's endpoint accept); saying so beats exporting nothing.
const protocol = z.literal("http/protobuf", { message: 'only "http/protobuf" is supported' }).optional();
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** The OTEL_* variables, to `.extend()` a service's own environment schema with. */
export const tracingEnv = z.object(
  unsetWhenEmpty({
    OTEL_SDK_DISABLED: bool.default(false),
    OTEL_TRACES_EXPORTER: z.enum(["otlp", "none"], { message: 'must be "otlp" or "none"' }).default("otlp"),
    // The collector's base URL; traces go to <it>/v1/traces.
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
    // The full traces URL, when it is not <base>/v1/traces.
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_HEADERS: keyValues.optional(),
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValues.optional(),
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
    OTEL_RESOURCE_ATTRIBUTES: keyValues.optional(),
    OTEL_TRACES_SAMPLER: z
      .enum(SAMPLERS, { message: `must be one of ${SAMPLERS.join(", ")}` })
      .default("parentbased_always_on"),
    // The ratio of the *traceidratio samplers, 0 to 1.
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  }),
);
export type TracingEnv = z.infer<typeof tracingEnv>;

export interface TracingConfig {
  serviceName: string;
  /** Where spans are POSTed (OTLP/HTTP, protobuf). */
  tracesUrl: string;
  /** Sent with every export (a collector's credentials, say). */
  headers: Record<string, string>;
  resourceAttributes: Record<string, string>;
  sampler: SamplerName;
  /** For the *traceidratio samplers. */
  ratio: number;
}

/**
 * The tracing settings of a service, or undefined when tracing is off: no endpoint,
 * OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or a sampler that keeps nothing.
 */
export function tracingConfig(env: TracingEnv, defaultServiceName: string): TracingConfig | undefined {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base && `${base.replace(/\/+$/, "")}/v1/traces`);
  if (!tracesUrl || env.OTEL_SDK_DISABLED || env.OTEL_TRACES_EXPORTER === "none") return undefined;
  if (env.OTEL_TRACES_SAMPLER === "always_off") return undefined;
  return {
    serviceName: env.OTEL_SERVICE_NAME ?? env.OTEL_RESOURCE_ATTRIBUTES?.["service.name"] ?? defaultServiceName,
    tracesUrl,
    headers: { ...env.OTEL_EXPORTER_OTLP_HEADERS, ...env.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    resourceAttributes: env.OTEL_RESOURCE_ATTRIBUTES ?? {},
    sampler: env.OTEL_TRACES_SAMPLER,
    ratio: env.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

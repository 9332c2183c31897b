// OpenTelemetry tracing for a service, exported over OTLP/HTTP. Imported (dynamically)
// only by a service whose configuration turned tracing on, and before the modules it
// instruments are loaded: the service's entry starts tracing, then imports the rest.
//
// What is traced: incoming HTTP requests (node:http servers), outgoing undici/fetch
// calls (the guard's pool to the auth-service, the Kratos client) with W3C
// traceparent injected, Postgres queries (pg) and Redis commands (ioredis) made while
// handling a request. Outgoing node:http is left to the caller (traceContext): the
// gateway sends flat header lists, which the http instrumentation would rewrite.
//
// What is never recorded: headers (no instrumentation is told to capture any),
// query strings (scrubbed from every URL attribute as a span ends: Kratos' links
// carry flow ids, codes and tokens there), Redis arguments (the command name only),
// SQL parameters (pg records the statement text, with its $n placeholders).
import { createRequire } from "node:module";
import { context, DiagLogLevel, diag, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type Span,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { register as registerImportHooks } from "import-in-the-middle/register-hooks.mjs";
import { traceContext } from "./trace-context.ts";
import type { SamplerName, TracingConfig } from "./tracing-config.ts";

export interface Tracing {
  /** Exports what is buffered (for at most SHUTDOWN_MS), then stops; later calls wait for the first. */
  shutdown(): Promise<void>;
}

// A collector that does not answer must not hold up a service's exit.
const EXPORT_TIMEOUT_MS = 5_000;
const SHUTDOWN_MS = 2_000;

// Instrumented packages that are CommonJS imported from ESM: their import goes
// through import-in-the-middle's loader hook (in-thread, only for these names).
const HOOKED_PACKAGES = ["pg", "pg-pool", "ioredis"];

// Probes and scrapes would be most of the traces and say nothing.
const UNTRACED_PATHS = /^\/(health|healthz|metrics)(\/|$|\?)/;

let started: Tracing | undefined;

/** Starts tracing for this process (once; later calls return the same handle). */
export function startTracing(cfg: TracingConfig): Tracing {
  if (started) return started;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...cfg.resourceAttributes, "service.name": cfg.serviceName }),
    sampler: sampler(cfg.sampler, cfg.ratio),
    spanProcessors: [
      new QueryScrubber(),
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: cfg.tracesUrl, headers: cfg.headers, timeoutMillis: EXPORT_TIMEOUT_MS }),
      }),
    ],
  });
  diag.setLogger(warnings(cfg.serviceName), DiagLogLevel.WARN);
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  registerImportHooks({ include: HOOKED_PACKAGES });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        disableOutgoingRequestInstrumentation: true,
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.test(req.url ?? ""),
        requestHook: (span, req) => {
          if ("url" in req) span.updateName(spanName(req.method, req.url));
        },
      }),
      new UndiciInstrumentation({
        requireParentforSpans: true,
        requestHook: (span, req) => span.updateName(spanName(req.method, req.path)),
      }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  // node:http is a built-in: no loader hook sees it. Requiring it now runs the
  // instrumentation's patch (of Server.prototype, which every import shares).
  createRequire(import.meta.url)("node:http");

  traceContext.headers = () => {
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    return carrier;
  };
  let stopping: Promise<void> | undefined;
  started = {
    shutdown() {
      stopping ??= new Promise<void>((done) => {
        const timer = setTimeout(done, SHUTDOWN_MS).unref();
        provider.shutdown().then(
          () => {
            clearTimeout(timer);
            done();
          },
          () => done(),
        );
      });
      return stopping;
    },
  };
  return started;
}

/**
 * The SDK's own warnings (a collector that refuses or does not answer) as JSON lines
 * on stderr, at most one per 10 s: a collector that is down must not flood the logs.
 */
function warnings(service: string) {
  let last = 0;
  const write = (level: number) => (message: string) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    process.stderr.write(`${JSON.stringify({ level, time: now, service, msg: `tracing: ${message}` })}\n`);
  };
  const ignore = () => {};
  return { error: write(50), warn: write(40), info: ignore, debug: ignore, verbose: ignore };
}

/**
 * "GET /v1/me" rather than the conventions' bare "GET": a trace read by a person names
 * its steps. The path only (no query string), at most 80 characters.
 */
export function spanName(method: string | undefined, url: string | undefined): string {
  const path = (url ?? "").split(/[?#]/, 1)[0] ?? "";
  return `${method ?? "?"} ${path.length > 80 ? `${path.slice(0, 80)}…` : path}`.trim();
}

function sampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

// URL attributes of the stable and the older HTTP conventions.
const FULL_URLS = ["url.full", "http.url"];
const TARGETS = ["http.target"];

/** Removes query strings (and URL credentials) from a span's attributes before it is exported. */
export class QueryScrubber implements SpanProcessor {
  onStart(): void {}
  onEnding(span: Span): void {
    const a = span.attributes;
    if (a["url.query"] !== undefined) span.setAttribute("url.query", "REDACTED");
    for (const k of FULL_URLS) {
      const v = a[k];
      if (typeof v === "string") span.setAttribute(k, scrubUrl(v));
    }
    for (const k of TARGETS) {
      const v = a[k];
      if (typeof v === "string" && v.includes("?")) span.setAttribute(k, v.slice(0, v.indexOf("?")));
    }
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function scrubUrl(raw: string): string {
  const q = raw.search(/[?#]/);
  const noQuery = q === -1 ? raw : raw.slice(0, q);
  return noQuery.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

// The one thing a service's own code asks of tracing: the headers that carry the
// current trace to the next hop, for the few calls no instrumentation sees (the
// gateway's node:http proxying, whose flat header lists the http instrumentation
// would mangle). Set by startTracing; while tracing is off it stays undefined, and
// callers pay one property read.
export const traceContext: {
  /** The current trace as W3C headers (traceparent, tracestate when any). */
  headers?: () => Record<string, string>;
} = {};

const TRACE_HEADERS = new Set(["traceparent", "tracestate"]);

/**
 * `headers` (a flat [name, value, …] list) with the client's own trace headers
 * replaced by the current trace's; `headers` itself when tracing is off.
 */
export function withTraceHeaders(headers: string[]): string[] {
  const current = traceContext.headers;
  if (current === undefined) return headers;
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (!TRACE_HEADERS.has(name.toLowerCase())) out.push(name, headers[i + 1] as string);
  }
  for (const [name, value] of Object.entries(current())) out.push(name, value);
  return out;
}

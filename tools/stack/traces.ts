// Reading traces back from the stack's Jaeger (its HTTP query API, the one its UI
// uses), and printing one as a waterfall: each span's start and duration, indented
// under its parent. What `pnpm stack traces` prints, and what the tracing test and
// bench/README.md's first-request breakdown read.

export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** The span this one is a child of (W3C parent-id), when any. */
  parentId?: string;
  service: string;
  name: string;
  /** Microseconds since the epoch. */
  startUs: number;
  durationUs: number;
  /** Span attributes, and span.kind. */
  tags: Record<string, unknown>;
}

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags?: { key: string; value: unknown }[];
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

function spansOf(t: JaegerTrace): TraceSpan[] {
  return t.spans.map((s) => {
    const parent = s.references?.find((r) => r.refType === "CHILD_OF" && r.traceID === s.traceID);
    return {
      traceId: s.traceID,
      spanId: s.spanID,
      ...(parent ? { parentId: parent.spanID } : {}),
      service: t.processes[s.processID]?.serviceName ?? "?",
      name: s.operationName,
      startUs: s.startTime,
      durationUs: s.duration,
      tags: Object.fromEntries((s.tags ?? []).map((x) => [x.key, x.value])),
    };
  });
}

async function get<T>(url: string): Promise<T | undefined> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${(await r.text()).slice(0, 200)}`);
  return ((await r.json()) as { data: T }).data;
}

/** One trace's spans (empty when the collector has none of it yet). */
export async function fetchTrace(queryUrl: string, traceId: string): Promise<TraceSpan[]> {
  const data = await get<JaegerTrace[]>(`${queryUrl}/api/traces/${encodeURIComponent(traceId)}`);
  return data?.[0] ? spansOf(data[0]) : [];
}

/** The newest traces that `service` took part in, newest first. */
export async function recentTraces(queryUrl: string, service: string, limit = 20): Promise<TraceSpan[][]> {
  const q = new URLSearchParams({ service, limit: String(limit), lookback: "1h" });
  const data = (await get<JaegerTrace[]>(`${queryUrl}/api/traces?${q}`)) ?? [];
  const traces = data.map(spansOf);
  const start = (t: TraceSpan[]) => Math.min(...t.map((s) => s.startUs));
  return traces.sort((a, b) => start(b) - start(a));
}

/** The spans of a trace in tree order (each parent before its children, siblings by start), with their depth. */
export function tree(spans: readonly TraceSpan[]): { span: TraceSpan; depth: number }[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, TraceSpan[]>();
  for (const s of spans) {
    // A parent the collector has not got (the test client's, or one still in flight) makes a root.
    const key = s.parentId !== undefined && ids.has(s.parentId) ? s.parentId : undefined;
    children.set(key, [...(children.get(key) ?? []), s]);
  }
  const out: { span: TraceSpan; depth: number }[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startUs - b.startUs)) {
      out.push({ span: s, depth });
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

const ms = (us: number) => (us / 1000).toFixed(1).padStart(7);

/**
 * A trace as text, one span a line: when it started after the trace's first span and
 * how long it took (ms), its service and its name, indented under its parent.
 */
export function waterfall(spans: readonly TraceSpan[]): string[] {
  if (spans.length === 0) return [];
  const t0 = Math.min(...spans.map((s) => s.startUs));
  const lines = ["  start ms   took ms  service        span"];
  for (const { span, depth } of tree(spans)) {
    lines.push(
      `${ms(span.startUs - t0)}  ${ms(span.durationUs)}   ${span.service.padEnd(13)}  ${"  ".repeat(depth)}${span.name}`,
    );
  }
  return lines;
}

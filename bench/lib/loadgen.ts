// The load generator: a child process (forked by bench/auth-service.ts) so the
// client never shares an event loop, or a core's time slice, with the server
// under test. It runs jobs sent over IPC on undici keep-alive pools and answers
// with latencies and counts. Never used on its own.
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { Pool } from "undici";

export interface Req {
  origin: string;
  path: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
}

/** Closed loop: `connections` workers, each sending its next request when the last answered. */
export interface ClosedJob {
  kind: "closed";
  /** One request per worker, round-robin (e.g. different session tokens). */
  requests: Req[];
  connections: number;
  durationMs: number;
}
export interface ClosedResult {
  requests: number;
  non2xx: number;
  errors: number;
  elapsedMs: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  /** Load generator CPU time / wall time over the run (1 = one full core). */
  clientCpu: number;
}

/** One request at a time, in the given order: latency of each (ms) and its status. */
export interface SequenceJob {
  kind: "sequence";
  requests: Req[];
  /** Also record the CPU time these processes (all their threads) used during each request. */
  cpuPids?: number[];
}
export interface SequenceResult {
  ms: number[];
  status: number[];
  /** With cpuPids: per request, the CPU ms each of those processes used meanwhile. */
  cpuMs?: number[][];
}

/** CPU time of every thread of a process, ns (Linux /proc/<pid>/task/<tid>/schedstat). */
export function processCpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns;
}

/** `n` requests at once, over `n` connections opened beforehand; answers with each body. */
export interface BurstJob {
  kind: "burst";
  request: Req;
  n: number;
  /** A cheap GET on the same origin used to open the connections. */
  warmPath: string;
}
export interface BurstResult {
  status: number[];
  bodies: string[];
  elapsedMs: number;
}

export type Job = ClosedJob | SequenceJob | BurstJob;

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const pools = new Map<string, Pool>();
function pool(origin: string, connections = 8): Pool {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
    pools.set(origin, p);
  }
  return p;
}

async function send(p: Pool, r: Req): Promise<{ status: number; body: string }> {
  const res = await p.request({
    path: r.path,
    method: r.method,
    ...(r.headers ? { headers: r.headers } : {}),
    ...(r.body !== undefined ? { body: r.body } : {}),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/**
 * The closed loop runs on raw keep-alive sockets with the request bytes built
 * once and a minimal response parser (status line, Content-Length), so the
 * client costs a few µs per request: with two cores, an HTTP client library
 * costing as much per request as a small server would measure itself.
 */
function requestBytes(r: Req, host: string): Buffer {
  const headers = {
    host,
    ...r.headers,
    ...(r.body !== undefined ? { "content-length": String(Buffer.byteLength(r.body)) } : {}),
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\n${head}\r\n${r.body ?? ""}`, "latin1");
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

async function closed(job: ClosedJob): Promise<ClosedResult> {
  const first = job.requests[0];
  if (!first) throw new Error("closed job without requests");
  const url = new URL(first.origin);
  const port = Number(url.port);
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let non2xx = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + job.durationMs;
  const record = (ms: number) => {
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = ms;
  };
  const worker = (w: number) =>
    new Promise<void>((done) => {
      const r = job.requests[w % job.requests.length] as Req;
      const bytes = requestBytes(r, url.host);
      const sock = connect({ port, host: url.hostname, noDelay: true });
      let buf: Buffer = Buffer.alloc(0);
      let sent = 0;
      const send = () => {
        sent = performance.now();
        sock.write(bytes);
      };
      sock.on("connect", send);
      sock.on("error", () => {
        errors++;
        done();
      });
      sock.on("close", () => done());
      sock.on("data", (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const headEnd = buf.indexOf(CRLFCRLF);
          if (headEnd < 0) return;
          const head = buf.toString("latin1", 0, headEnd);
          const m = CONTENT_LENGTH.exec(head);
          if (!m) {
            errors++;
            sock.destroy();
            return;
          }
          const total = headEnd + 4 + Number(m[1]);
          if (buf.length < total) return;
          const status = Number(head.slice(9, 12));
          if (status < 200 || status > 299) non2xx++;
          buf = buf.subarray(total);
          const now = performance.now();
          record(now - sent);
          if (now < end) send();
          else sock.end();
        }
      });
    });
  await Promise.all(Array.from({ length: job.connections }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const sorted = lat.subarray(0, n).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    requests: n,
    non2xx,
    errors,
    elapsedMs,
    rps: (n / elapsedMs) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sum / n,
    clientCpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}

async function sequence(job: SequenceJob): Promise<SequenceResult> {
  const ms: number[] = [];
  const status: number[] = [];
  const cpuMs: number[][] = [];
  const pids = job.cpuPids ?? [];
  for (const r of job.requests) {
    const p = pool(r.origin);
    const c0 = pids.map(processCpuNs);
    const t0 = performance.now();
    const res = await send(p, r);
    ms.push(performance.now() - t0);
    if (pids.length) cpuMs.push(pids.map((pid, i) => (processCpuNs(pid) - (c0[i] as number)) / 1e6));
    status.push(res.status);
  }
  return { ms, status, ...(pids.length ? { cpuMs } : {}) };
}

async function burst(job: BurstJob): Promise<BurstResult> {
  const p = new Pool(job.request.origin, { connections: job.n, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    await Promise.all(
      Array.from({ length: job.n }, () => send(p, { origin: job.request.origin, path: job.warmPath, method: "GET" })),
    );
    const t0 = performance.now();
    const out = await Promise.all(Array.from({ length: job.n }, () => send(p, job.request)));
    return { status: out.map((o) => o.status), bodies: out.map((o) => o.body), elapsedMs: performance.now() - t0 };
  } finally {
    await p.close();
  }
}

if (process.send) {
  process.on("message", (msg: { id: number; job: Job }) => {
    const run =
      msg.job.kind === "closed" ? closed(msg.job) : msg.job.kind === "sequence" ? sequence(msg.job) : burst(msg.job);
    run.then(
      (result) => process.send?.({ id: msg.id, result }),
      (e: Error) => process.send?.({ id: msg.id, error: e.stack ?? e.message }),
    );
  });
  process.on("disconnect", () => {
    for (const p of pools.values()) void p.destroy();
    process.exit(0);
  });
  process.send({ ready: true });
}

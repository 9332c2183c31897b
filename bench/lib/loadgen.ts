// The load generator: a child process (forked by bench/auth-service.ts and
// bench/gateway.ts) so the client never shares an event loop, or a core's time
// slice, with the server under test. It runs jobs sent over IPC on keep-alive
// connections (raw sockets for the closed and paced loops, undici pools for the
// rest) and answers with latencies and counts. Never used on its own.
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
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

/**
 * Open loop at a fixed rate: request k is due at start + k / ratePerSec and goes out
 * on the first idle one of `connections` keep-alive connections (if none is idle it
 * waits, and counts as late when it leaves more than 5 ms after its time).
 * Latency is measured from when it was sent. Request k is
 * `requests[order[k % order.length]]`, or round-robin without `order`.
 */
export interface PacedJob {
  kind: "paced";
  requests: Req[];
  order?: number[];
  ratePerSec: number;
  connections: number;
  durationMs: number;
}
export interface PacedResult extends ClosedResult {
  /** Requests that left more than 5 ms after they were due (the server, or the client, could not keep up). */
  late: number;
  /** Requests sent per entry of `requests`. */
  sentPerRequest: number[];
  /** Late requests per second of the schedule. */
  lateBySecond: number[];
  /** With `order`: latency of the first request of each entry (ms), and of the others. */
  firstSight?: { n: number; p50: number; p99: number };
  repeats?: { n: number; p50: number; p99: number };
}

export type Job = ClosedJob | SequenceJob | BurstJob | PacedJob;

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
const CHUNKED = /\r\ntransfer-encoding:[ \t]*chunked/i;
const CRLF = Buffer.from("\r\n");

/**
 * Where a chunked body that starts at `from` ends (just past its last CRLF), or -1
 * while it is incomplete. Trailers are not expected (none of the servers sends any).
 */
function chunkedEnd(buf: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const eol = buf.indexOf(CRLF, at);
    if (eol < 0) return -1;
    const size = Number.parseInt(buf.toString("latin1", at, eol), 16);
    if (!Number.isFinite(size)) return Number.NaN;
    if (size === 0) return buf.length >= eol + 4 ? eol + 4 : -1;
    at = eol + 2 + size + 2;
    if (buf.length < at) return -1;
  }
}

/**
 * Feeds a keep-alive socket's bytes to `onResponse(status)` once per complete
 * response (status line + a Content-Length or chunked body); anything else is an
 * error (the socket is destroyed).
 */
function onResponses(sock: Socket, onResponse: (status: number) => void, onError: () => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const headEnd = buf.indexOf(CRLFCRLF);
      if (headEnd < 0) return;
      const head = buf.toString("latin1", 0, headEnd);
      const m = CONTENT_LENGTH.exec(head);
      const total = m ? headEnd + 4 + Number(m[1]) : CHUNKED.test(head) ? chunkedEnd(buf, headEnd + 4) : Number.NaN;
      if (Number.isNaN(total)) {
        onError();
        sock.destroy();
        return;
      }
      if (total < 0 || buf.length < total) return;
      const status = Number(head.slice(9, 12));
      buf = buf.subarray(total);
      onResponse(status);
    }
  });
}

/** Latencies (ms) in a growable Float64Array. */
function latencies() {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  return {
    record(ms: number) {
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
    },
    get n() {
      return n;
    },
    summary(elapsedMs: number) {
      const sorted = lat.subarray(0, n).sort();
      let sum = 0;
      for (const v of sorted) sum += v;
      return {
        requests: n,
        elapsedMs,
        rps: (n / elapsedMs) * 1000,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        mean: sum / n,
      };
    },
  };
}

function tail(l: ReturnType<typeof latencies>): { n: number; p50: number; p99: number } {
  const { requests: n, p50, p99 } = l.summary(1);
  return { n, p50, p99 };
}

async function closed(job: ClosedJob): Promise<ClosedResult> {
  const first = job.requests[0];
  if (!first) throw new Error("closed job without requests");
  const url = new URL(first.origin);
  const port = Number(url.port);
  const lat = latencies();
  let non2xx = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + job.durationMs;
  const worker = (w: number) =>
    new Promise<void>((done) => {
      const r = job.requests[w % job.requests.length] as Req;
      const bytes = requestBytes(r, url.host);
      const sock = connect({ port, host: url.hostname, noDelay: true });
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
      onResponses(
        sock,
        (status) => {
          if (status < 200 || status > 299) non2xx++;
          const now = performance.now();
          lat.record(now - sent);
          if (now < end) send();
          else sock.end();
        },
        () => errors++,
      );
    });
  await Promise.all(Array.from({ length: job.connections }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return {
    ...lat.summary(elapsedMs),
    non2xx,
    errors,
    clientCpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}

async function paced(job: PacedJob): Promise<PacedResult> {
  const first = job.requests[0];
  if (!first) throw new Error("paced job without requests");
  const url = new URL(first.origin);
  const port = Number(url.port);
  const bytes = job.requests.map((r) => requestBytes(r, url.host));
  const sentPerRequest = job.requests.map(() => 0);
  const order = job.order;
  const interval = 1000 / job.ratePerSec;
  const lat = latencies();
  // With `order`: the first request of each entry (e.g. a session's first, a cache miss) apart from the rest.
  const firstLat = latencies();
  const repeatLat = latencies();
  let non2xx = 0;
  let errors = 0;
  let late = 0;
  const lateBySecond = Array.from({ length: Math.ceil(job.durationMs / 1000) }, () => 0);
  let k = 0; // next request to send
  let inflight = 0;
  type Conn = { sock: Socket; sent: number; busy: boolean; first: boolean };
  const idle: Conn[] = [];
  const socks: Socket[] = [];
  // Open the connections before the clock starts.
  await Promise.all(
    Array.from(
      { length: job.connections },
      () =>
        new Promise<void>((ready, fail) => {
          const sock = connect({ port, host: url.hostname, noDelay: true });
          const conn: Conn = { sock, sent: 0, busy: false, first: false };
          socks.push(sock);
          sock.once("connect", () => {
            idle.push(conn);
            ready();
          });
          sock.on("error", (e) => {
            errors++;
            fail(e);
          });
          // A connection the server closed is gone; its request (if any) is an error.
          sock.on("close", () => {
            const i = idle.indexOf(conn);
            if (i >= 0) idle.splice(i, 1);
            if (conn.busy) {
              conn.busy = false;
              inflight--;
              errors++;
              pump();
            }
          });
          onResponses(
            sock,
            (status) => {
              if (status < 200 || status > 299) non2xx++;
              const ms = performance.now() - conn.sent;
              lat.record(ms);
              if (order) (conn.first ? firstLat : repeatLat).record(ms);
              conn.busy = false;
              inflight--;
              idle.push(conn);
              pump();
            },
            () => errors++,
          );
        }),
    ),
  );
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + job.durationMs;
  let timer: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  function pump(): void {
    const now = performance.now();
    while (idle.length > 0) {
      const due = start + k * interval;
      if (due > now || due >= end) break;
      const conn = idle.pop() as Conn;
      if (now - due > 5) {
        late++;
        const sec = Math.floor((due - start) / 1000);
        lateBySecond[sec] = (lateBySecond[sec] ?? 0) + 1;
      }
      const i = order ? (order[k % order.length] as number) : k % bytes.length;
      conn.sent = now;
      conn.busy = true;
      conn.first = sentPerRequest[i] === 0;
      inflight++;
      sentPerRequest[i] = (sentPerRequest[i] ?? 0) + 1;
      conn.sock.write(bytes[i] as Buffer);
      k++;
    }
    const next = start + k * interval;
    if (next >= end || (idle.length === 0 && inflight === 0)) {
      if (inflight === 0) finish();
      return;
    }
    if (timer === undefined && idle.length > 0) {
      timer = setTimeout(
        () => {
          timer = undefined;
          pump();
        },
        Math.max(0, next - performance.now()),
      );
    }
  }
  pump();
  await finished;
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  clearTimeout(timer);
  for (const s of socks) s.end();
  return {
    ...lat.summary(elapsedMs),
    non2xx,
    errors,
    clientCpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
    late,
    sentPerRequest,
    lateBySecond,
    ...(order ? { firstSight: tail(firstLat), repeats: tail(repeatLat) } : {}),
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

// Only as the forked load generator itself: a module that merely imports percentile()
// may run in a process forked with IPC (a vitest worker) whose messages are not ours.
if (import.meta.main && process.send) {
  process.on("message", (msg: { id: number; job: Job }) => {
    const job = msg.job;
    const run =
      job.kind === "closed"
        ? closed(job)
        : job.kind === "paced"
          ? paced(job)
          : job.kind === "sequence"
            ? sequence(job)
            : burst(job);
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

// A bounded load generator of keep-alive HTTP/1.1 clients on raw sockets, for tests of a
// shutdown under load. Raw sockets, because the question is exactly what an HTTP client
// library hides: was a request written on a connection that then closed or reset
// before its answer was complete (lost), or did the connection close while no request
// was outstanding (clean: a client sends its next request on a new connection)?
//
// Each client sends a request, reads its answer completely (Content-Length or chunked),
// and sends the next on the same connection, until the budget is spent or stop() is
// called. An answer with `Connection: close` ends the connection after it (as the
// server says); the client then connects again. A refused connection means the
// instance is gone: that client stops (its next request was never sent).
import { connect, type Socket } from "node:net";
import { expect } from "vitest";
import type { ChildService } from "./private-services.ts";

export interface LoadReport {
  /** Requests written to a connection. */
  sent: number;
  /** Complete answers, by status. */
  statuses: Record<number, number>;
  answered: number;
  /** Answers that said Connection: close. */
  closeAnswers: number;
  /** Connections the server closed while no request was outstanding on them. */
  cleanCloses: number;
  /** Connections refused (the listener is gone). */
  refused: number;
  /** Connection resets and other socket errors (ECONNREFUSED at connect excepted). */
  resets: string[];
  /** Requests written whose answer never came complete. */
  lost: string[];
}

export interface LoadOptions {
  port: number;
  host?: string;
  clients: number;
  /** At most this many requests in all. */
  maxRequests: number;
  /** The raw request (HTTP/1.1, keep-alive) to send as request number `n`. */
  request: (n: number) => string;
}

export interface Load {
  report: LoadReport;
  /** Resolves once `n` answers have arrived (or every client has stopped). */
  answered(n: number): Promise<void>;
  /** Stops sending; resolves when every client has stopped. */
  stop(): Promise<LoadReport>;
  /** Resolves when every client has stopped by itself (budget spent, or refused). */
  done: Promise<LoadReport>;
}

interface Parsed {
  status: number;
  close: boolean;
  /** Bytes of `buf` the answer took. */
  length: number;
}

/** One complete answer at the start of `buf`, or undefined while it is incomplete. */
function parseAnswer(buf: Buffer): Parsed | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(head[0]?.split(" ")[1]);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const close = /(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? "");
  let at = end + 4;
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    for (;;) {
      const eol = buf.indexOf("\r\n", at);
      if (eol < 0) return undefined;
      const size = Number.parseInt(buf.subarray(at, eol).toString("latin1"), 16);
      if (size === 0) {
        // No trailers expected: the terminating empty line follows.
        if (buf.length < eol + 4) return undefined;
        return { status, close, length: eol + 4 };
      }
      at = eol + 2 + size + 2;
      if (buf.length < at) return undefined;
    }
  }
  const length = at + Number(headers.get("content-length") ?? 0);
  return buf.length < length ? undefined : { status, close, length };
}

export function keepAliveLoad(o: LoadOptions): Load {
  const report: LoadReport = {
    sent: 0,
    statuses: {},
    answered: 0,
    closeAnswers: 0,
    cleanCloses: 0,
    refused: 0,
    resets: [],
    lost: [],
  };
  let stopping = false;
  let running = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const notify = () => {
    for (const w of [...waiters]) {
      if (report.answered >= w.n || running === 0) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  let allStopped: () => void = () => {};
  const done = new Promise<LoadReport>((r) => {
    allStopped = () => r(report);
  });

  const client = (id: number) => {
    running++;
    const finish = () => {
      running--;
      notify();
      if (running === 0) allStopped();
    };
    const open = () => {
      if (stopping || report.sent >= o.maxRequests) return finish();
      const socket: Socket = connect({ port: o.port, host: o.host ?? "127.0.0.1" });
      let connected = false;
      let outstanding = false;
      let told = false; // the server said Connection: close
      let buf: Buffer = Buffer.alloc(0);
      const send = () => {
        if (stopping || report.sent >= o.maxRequests) {
          socket.end();
          return;
        }
        outstanding = true;
        socket.write(o.request(report.sent++));
      };
      socket.on("connect", () => {
        connected = true;
        send();
      });
      socket.on("data", (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        for (;;) {
          const a = parseAnswer(buf);
          if (!a) return;
          buf = buf.subarray(a.length);
          outstanding = false;
          report.answered++;
          report.statuses[a.status] = (report.statuses[a.status] ?? 0) + 1;
          notify();
          if (a.close) {
            report.closeAnswers++;
            told = true;
            socket.end();
            return;
          }
          send();
        }
      });
      let failed: string | undefined;
      socket.on("error", (e: NodeJS.ErrnoException) => {
        if (!connected && e.code === "ECONNREFUSED") {
          report.refused++;
          failed = "refused";
          return;
        }
        failed = e.code ?? e.message;
        report.resets.push(`client ${id}: ${failed}${outstanding ? " with a request outstanding" : ""}`);
      });
      socket.on("close", () => {
        if (outstanding) report.lost.push(`client ${id}: connection closed (${failed ?? "FIN"}) before the answer`);
        else if (connected && !told && !failed) report.cleanCloses++;
        // Refused: the instance is gone; anything else: try a new connection.
        if (failed === "refused") finish();
        else open();
      });
    };
    open();
  };
  for (let i = 0; i < o.clients; i++) client(i);

  return {
    report,
    done,
    answered: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        notify();
      }),
    stop() {
      stopping = true;
      return done;
    },
  };
}

export interface RawConnection {
  socket: Socket;
  /** Everything read so far. */
  read(): string;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
}

/** A raw TCP connection that collects what it reads (to send a request in parts, or hold one open). */
export function rawConnection(port: number, host = "127.0.0.1"): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let data = "";
    socket.on("data", (d: Buffer) => {
      data += d.toString();
    });
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve({ socket, read: () => data, closed });
    });
  });
}

/** True once a new connection to `port` is refused (the listener has closed). */
export function connectionRefused(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, host);
    s.once("connect", () => {
      s.destroy();
      r(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => r(e.code === "ECONNREFUSED"));
  });
}

/** Polls until a new connection to `port` is refused: a drain has begun. */
export async function untilRefused(port: number, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await connectionRefused(port))) {
    if (Date.now() > end) throw new Error(`port ${port} still accepts connections after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The child's exit code, once it has exited. */
export function exitOf(svc: ChildService): Promise<number | null> {
  return new Promise((r) => {
    if (svc.exited() !== undefined) r(Number(svc.exited()));
    else svc.child.once("exit", (code) => r(code));
  });
}

/** A child service's JSON log lines whose msg is `msg`. */
export function loggedLines(svc: ChildService, msg: string): Record<string, unknown>[] {
  return svc
    .output()
    .split("\n")
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The drain contract both services keep, checked the same way for each: SIGTERM while
 * 8 keep-alive clients send `request`; readiness (on `readyPort`, asked with a head still
 * arriving at the signal) answers 503 draining with Connection: close; no reset, no lost
 * request, every client moved off and then refused; the process exits 0 by itself within
 * the grace period, having forced nothing.
 */
export async function expectCleanDrain(
  svc: ChildService,
  o: { port: number; readyPort: number; host: string; graceSec: number; request: (n: number) => string; name: string },
): Promise<void> {
  const load = keepAliveLoad({ port: o.port, clients: 8, maxRequests: 20_000, request: o.request });
  await load.answered(300);
  const probe = await rawConnection(o.readyPort);
  probe.socket.write(`GET /health/ready HTTP/1.1\r\nHost: ${o.host}\r\n`);
  const exited = exitOf(svc);
  const atSignal = load.report.answered;
  const t0 = performance.now();
  svc.child.kill("SIGTERM");
  await untilRefused(o.port);
  probe.socket.write("\r\n");
  await probe.closed;
  expect(probe.read()).toMatch(/^HTTP\/1\.1 503 [\s\S]*Connection: close[\s\S]*"status":"draining"/i);

  const code = await exited;
  const exitMs = performance.now() - t0;
  const report = await load.done;
  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(o.graceSec * 1000);
  expect(report.resets).toEqual([]);
  expect(report.lost).toEqual([]);
  expect(Object.keys(report.statuses)).toEqual(["200"]);
  expect(report.answered).toBe(report.sent);
  // Every client was moved off (told to close, or its idle connection closed), then refused.
  expect(report.closeAnswers + report.cleanCloses).toBeGreaterThanOrEqual(8);
  expect(report.refused).toBe(8);
  const drained = loggedLines(svc, "drained");
  expect(drained).toEqual([expect.objectContaining({ forced: 0 })]);
  if (process.env.DRAIN_FIGURES)
    console.log(
      `${o.name} drain: ${report.answered - atSignal} answers after the signal, drained in ${drained[0]?.ms} ms, exit after ${Math.round(exitMs)} ms`,
      report,
    );
}

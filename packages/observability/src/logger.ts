// The services' pino logger: JSON lines on standard output, written in batches.
//
// Writing each line to stdout as it is logged cost ~15 µs of CPU per request in the
// auth-service's bench. pino's own buffered destination (SonicBoom with minLength)
// still cost ~3–4 µs per line here (its per-write bookkeeping, not the syscall: a
// 16 KB write to a file is ~11 µs). So lines are collected in an array and handed to
// a synchronous SonicBoom as one string per batch (64 lines or 16 KB), at least once
// a second, and when the process exits; SonicBoom keeps doing what it is good at
// (partial writes, EAGAIN on a full pipe). `sync` writes each line as it comes.
import pino, { type DestinationStream, type Logger } from "pino";

export interface ServiceLoggerOptions {
  service: string;
  level: string;
  /** One write per line instead of batches. */
  sync?: boolean;
  /** Paths censored as "[redacted]" wherever they appear in a logged object (defence in depth). */
  redact?: string[];
}

const BATCH_LINES = 64;
const BATCH_CHARS = 16 * 1024;
const FLUSH_MS = 1_000;

// One timer and one exit hook for every batched destination of the process (tests
// create many loggers; a listener each would pile up).
const live = new Set<BatchedDestination>();
let flushing = false;
function flushAll(): void {
  for (const d of live) d.flushSync();
}
function startFlushing(): void {
  if (flushing) return;
  flushing = true;
  setInterval(flushAll, FLUSH_MS).unref();
  // "exit" runs synchronously after process.exit(), an uncaught error or the last
  // callback: nothing is lost on a stop that exits; a hard kill loses at most a second.
  process.on("exit", flushAll);
}

/** A destination that batches lines in memory and writes them synchronously, in order. */
export class BatchedDestination implements DestinationStream {
  readonly #out: { write(s: string): unknown };
  #lines: string[] = [];
  #chars = 0;

  constructor(out: { write(s: string): unknown }) {
    this.#out = out;
    live.add(this);
    startFlushing();
  }

  write(line: string): void {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#lines.length >= BATCH_LINES || this.#chars >= BATCH_CHARS) this.flushSync();
  }

  flushSync(): void {
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.join("");
    this.#lines = [];
    this.#chars = 0;
    this.#out.write(chunk);
  }
}

export function createServiceLogger(o: ServiceLoggerOptions, destination?: DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level: o.level,
    base: { service: o.service },
    ...(o.redact?.length ? { redact: { paths: o.redact, censor: "[redacted]" } } : {}),
  };
  const stdout = (): DestinationStream => {
    const direct = pino.destination({ dest: 1, sync: true });
    return o.sync ? direct : new BatchedDestination(direct);
  };
  return pino(opts, destination ?? stdout());
}

/** One access-log line: what happened to a request, never a header, cookie, body or query string. */
export interface AccessLine {
  request_id: string;
  method: string;
  /** The path without its query string. */
  path: string;
  route: string;
  status: number;
  ms: number;
  /** The client's address, where the service knows it. */
  client?: string;
}

/**
 * Writes access lines to `log`'s destination, in pino's line format and with its
 * "info" level check, without going through pino's generic serializer: the fields are
 * few and fixed, and on a proxy's hot path pino's path cost more than the rest of the
 * line (~10 µs of CPU per request in bench/gateway-ab.ts, against ~3 this way).
 */
export function accessLineWriter(log: Logger): (line: AccessLine) => void {
  const stream = (log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const service = JSON.stringify(String(log.bindings().service ?? ""));
  const str = JSON.stringify;
  return (a) => {
    if (stream === undefined || !log.isLevelEnabled("info")) return;
    const client = a.client === undefined ? "" : `,"client":${str(a.client)}`;
    stream.write(
      `{"level":30,"time":${Date.now()},"service":${service},"request_id":${str(a.request_id)},"method":${str(a.method)},"path":${str(a.path)},"route":${str(a.route)},"status":${a.status},"ms":${a.ms}${client},"msg":"request"}\n`,
    );
  };
}

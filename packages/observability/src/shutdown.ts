// Graceful shutdown of node:http listeners, the same for every service.
//
// On SIGTERM an instance is leaving: clients (a load balancer, an ingress controller's
// upstream pool, a guard's keep-alive agent) must move to another instance without a
// reset and without losing a request. HTTP/1.1 has one clean way to move a client off a
// persistent connection: answer its next request with `Connection: close`. Closing an
// idle keep-alive connection under a client is not clean: a request it sends at that
// moment meets a reset (what `server.close()` does at once, by closing every idle
// connection). So a drain:
//
//   1. marks the instance draining: readiness answers 503 from now on;
//   2. stops accepting (the listening socket closes; existing connections stay);
//   3. answers every request from now on, and those in flight whose answer has not
//      begun, with `Connection: close`, and closes the connection after the answer;
//   4. after `idleLingerMs`, closes the connections still idle (a client that kept one
//      open without using it; a client under load has used it by then and been told
//      to close), and keeps closing those that become idle;
//   5. at the deadline, destroys whatever is left (a request that would not finish, a
//      websocket or another upgraded connection) and resolves.
//
// `terminateOnSignals` runs a service's stop function on SIGTERM/SIGINT and exits, at
// the latest when the grace period is over.
import type { Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

export interface DrainLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DrainOptions {
  /**
   * From the start of the drain to the exit, at most (SHUTDOWN_GRACE_SECONDS). The
   * connections are force-closed a little earlier (`deadlineMs`), so that what the
   * service closes after them (its pools and clients) fits in the same period.
   */
  graceMs: number;
  /** How long a connection idle at the start may still bring one more request before it is closed. */
  idleLingerMs?: number;
  log?: DrainLog;
}

export interface DrainResult {
  /** How long the drain took. */
  ms: number;
  /** Connections still open at the deadline, destroyed then. */
  forced: number;
}

export const DEFAULT_IDLE_LINGER_MS = 1_000;

/** When the connections are force-closed: 1 s before the end of the grace period (a quarter of it, when shorter). */
export function connectionDeadlineMs(graceMs: number): number {
  return graceMs - Math.min(1_000, graceMs / 4);
}

export class HttpDrain {
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #opts: DrainOptions;
  #draining = false;
  #done: Promise<DrainResult> | undefined;

  constructor(opts: DrainOptions) {
    this.#opts = opts;
  }

  /** True from the start of the drain: readiness answers 503. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Connections open now (upgraded ones included). */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Drains `server` with the others. Add it before it accepts connections. */
  add(server: Server): this {
    this.#servers.push(server);
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    return this;
  }

  /** Starts the drain (once; later calls return the same promise). */
  drain(): Promise<DrainResult> {
    this.#done ??= this.#run();
    return this.#done;
  }

  async #run(): Promise<DrainResult> {
    const t0 = performance.now();
    this.#draining = true;
    const { graceMs, log } = this.#opts;
    const linger = Math.min(this.#opts.idleLingerMs ?? DEFAULT_IDLE_LINGER_MS, graceMs / 4);
    const listening = this.#servers.filter((s) => s.listening);
    log?.info({ connections: this.#sockets.size, grace_ms: graceMs }, "draining");

    for (const s of this.#servers) {
      // Before the service's own handler: whatever it writes, the answer says Connection: close,
      // and node closes the connection once it is sent.
      s.prependListener("request", closeAfterAnswer);
    }
    // The same for the requests in flight whose answer has not begun. `_httpMessage` is
    // node's own record of a connection's current answer (closeIdleConnections reads it
    // too); without it, such a connection is closed as idle after the linger instead.
    for (const socket of this.#sockets) {
      const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
      if (res && !res.headersSent) res.setHeader("Connection", "close");
    }
    // net.Server's close: stop accepting, keep the connections (http.Server's would
    // also close the idle ones at once, the reset this avoids).
    const closed = Promise.all(
      listening.map((s) => new Promise<void>((r) => NetServer.prototype.close.call(s, () => r()))),
    );

    let idleSweep: NodeJS.Timeout | undefined;
    const lingerTimer = setTimeout(() => {
      const sweep = () => {
        for (const s of this.#servers) s.closeIdleConnections();
      };
      sweep();
      idleSweep = setInterval(sweep, 100);
    }, linger);
    let forced = 0;
    let deadline: NodeJS.Timeout | undefined;
    const atDeadline = new Promise<void>((r) => {
      deadline = setTimeout(() => {
        forced = this.#sockets.size;
        if (forced > 0) log?.warn({ connections: forced }, "grace period over: closing the connections left");
        for (const s of this.#servers) s.closeAllConnections();
        // Upgraded connections (websockets) are no longer the http server's: destroy them too.
        for (const socket of this.#sockets) socket.destroy();
        r();
      }, connectionDeadlineMs(graceMs));
    });
    await Promise.race([closed, atDeadline]);
    clearTimeout(lingerTimer);
    clearInterval(idleSweep);
    clearTimeout(deadline);
    const ms = Math.round(performance.now() - t0);
    log?.info({ ms, forced }, "drained");
    return { ms, forced };
  }
}

function closeAfterAnswer(_req: unknown, res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader("Connection", "close");
}

export interface TerminationOptions {
  /** Exit at the latest this long after the first signal, whatever stop() is doing. */
  graceMs: number;
  log?: { error(obj: object, msg: string): void; info(obj: object, msg: string): void };
  signals?: readonly NodeJS.Signals[];
  /** process.exit, unless a test replaces it. */
  exit?: (code: number) => void;
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT and exits 0 when it resolves (1 when it
 * rejects). A second signal, or the end of the grace period, exits at once with 1.
 */
export function terminateOnSignals(stop: (signal: string) => Promise<unknown>, o: TerminationOptions): () => void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const signals = o.signals ?? (["SIGTERM", "SIGINT"] as const);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      o.log?.error({ signal }, "second signal: exiting now");
      exit(1);
      return;
    }
    stopping = true;
    setTimeout(() => {
      o.log?.error({ signal, grace_ms: o.graceMs }, "grace period over before the stop finished: exiting");
      exit(1);
    }, o.graceMs).unref();
    stop(signal).then(
      () => exit(0),
      (e: Error) => {
        o.log?.error({ err: e.message }, "stop failed");
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}

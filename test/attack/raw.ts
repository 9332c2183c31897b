// Raw HTTP over TCP, for requests no HTTP client would send: bad framing, invalid
// bytes, early closes. Every exchange is bounded in time and stops by itself.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface RawCase {
  name: string;
  /** Written in order; a number pauses that many ms (a slow or stalled client). */
  parts: (string | Buffer | number)[];
  /** Close our side right after writing (a client that goes away mid-request). */
  closeAfterWrite?: boolean;
}

export interface RawAnswer {
  /** The first bytes received (up to 8 KiB), latin1. */
  head: string;
  status: number | undefined;
  bytes: number;
  /** The server closed the connection (or reset it) before our deadline. */
  closed: boolean;
}

/**
 * Sends one raw exchange to 127.0.0.1:port; resolves within `deadlineMs` whatever
 * happens, or once the server has been quiet for `idleMs` after answering (a
 * keep-alive server leaves the socket open).
 */
export function rawExchange(port: number, c: RawCase, deadlineMs = 1_200, idleMs = 150): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const socket: Socket = connect({ host: "127.0.0.1", port });
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(idle);
      socket.destroy();
      const head = Buffer.concat(chunks).toString("latin1");
      // The final answer's status: interim ones (100 Continue) come first.
      const m = /^(?:HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)*HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ head, status: m ? Number(m[1]) : undefined, bytes, closed });
    };
    const timer = setTimeout(() => finish(false), deadlineMs);
    let idle: NodeJS.Timeout | undefined;
    socket.on("data", (d: Buffer) => {
      bytes += d.length;
      if (bytes <= 8192) chunks.push(d);
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), idleMs);
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", async () => {
      for (const part of c.parts) {
        if (typeof part === "number") await new Promise((r) => setTimeout(r, part));
        else if (!socket.destroyed) socket.write(part);
      }
      if (c.closeAfterWrite) socket.destroy();
    });
  });
}

/** Runs `cases` against `port`, `parallel` at a time. */
export async function rawExchanges(
  port: number,
  cases: readonly RawCase[],
  parallel = 16,
): Promise<Map<string, RawAnswer>> {
  const out = new Map<string, RawAnswer>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const c = cases[next++] as RawCase;
        out.set(c.name, await rawExchange(port, c));
      }
    }),
  );
  return out;
}

/** A stack trace or a framework's debug page in an answer: internals leaking to a client. */
export function leaksInternals(head: string): boolean {
  return /\n\s+at [^\n]+:\d+:\d+|node:internal|Error: [^\n]*\n\s+at |<pre>[^<]*Error/.test(head);
}

/**
 * An upstream that misbehaves in every way an HTTP server can, chosen by path, on
 * raw TCP so that nothing Node would refuse to write stops it.
 */
export async function misbehavingUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const answer = (path: string, socket: Socket) => {
    const write = (s: string) => socket.writable && socket.write(s);
    switch (path) {
      case "/bad/trailer":
        return socket.end("HTTP/1.1 200 OK\r\nTrailer: X-T\r\nContent-Length: 2\r\n\r\nok");
      case "/bad/trailer-chunked":
        return socket.end(
          "HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
        );
      case "/bad/half-body":
        write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
        return setTimeout(() => socket.destroy(), 20);
      case "/bad/half-chunk":
        write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
        return setTimeout(() => socket.destroy(), 20);
      case "/bad/chunk-size":
        return socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
      case "/bad/reset":
        return socket.resetAndDestroy();
      case "/bad/close":
        return socket.end();
      case "/bad/garbage":
        return socket.end("SSH-2.0-OpenSSH_9.0\r\n\r\n");
      case "/bad/huge-headers":
        return socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`);
      case "/bad/double-length":
        return socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nok");
      case "/bad/length-and-chunked":
        return socket.end(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        );
      case "/bad/switching":
        return socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nxx");
      case "/bad/early-hints":
        return socket.end(
          "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
      case "/bad/connection-listed":
        return socket.end("HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nContent-Length: 2\r\n\r\nok");
      case "/bad/invalid-header":
        return socket.end("HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok");
      case "/bad/status":
        return socket.end("HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nok");
      case "/bad/stall":
        return write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01");
      default:
        return socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    }
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
    socket.on("data", (d: Buffer) => {
      if (buf.includes("\r\n\r\n")) return;
      buf += d.toString("latin1");
      if (!buf.includes("\r\n\r\n")) return;
      const path = /^[A-Z]+ (\S+)/.exec(buf)?.[1]?.split("?")[0] ?? "/";
      answer(path, socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

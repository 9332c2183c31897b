import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectionRefused, keepAliveLoad, rawConnection as raw } from "../../../test/support/keepalive-load.ts";
import { HttpDrain, terminateOnSignals } from "../src/shutdown.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A server whose /hold/<n> answers when release(n) is called, every other path at once. */
async function server(): Promise<{ server: Server; port: number; release(n: string): void }> {
  const held = new Map<string, () => void>();
  const s = createServer((req, res) => {
    const m = /^\/hold\/(\w+)/.exec(req.url ?? "");
    if (m?.[1]) {
      held.set(m[1], () => res.end("released"));
      return;
    }
    res.end("ok");
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return {
    server: s,
    port: (s.address() as AddressInfo).port,
    release: (n) => held.get(n)?.(),
  };
}

const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((r) => setTimeout(r, 10));
};

describe("HttpDrain", () => {
  it("answers a request on a kept-alive connection with Connection: close, finishes the one in flight, refuses new connections", async () => {
    const { server: s, port, release } = await server();
    const drain = new HttpDrain({ graceMs: 30_000, idleLingerMs: 60_000 }).add(s);
    const idle = await raw(port);
    idle.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => idle.read().includes("ok"));
    expect(idle.read()).toMatch(/Connection: keep-alive/i);
    const busy = await raw(port);
    busy.socket.write("GET /hold/a HTTP/1.1\r\nHost: x\r\n\r\n");
    // A request whose head is still arriving when the drain begins.
    const partial = await raw(port);
    partial.socket.write("GET /late HTTP/1.1\r\nHost: x\r\n");
    await new Promise((r) => setTimeout(r, 50));

    const drained = drain.drain();
    expect(drain.draining).toBe(true);
    expect(await connectionRefused(port)).toBe(true);

    idle.socket.write("GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    await idle.closed;
    expect(idle.read().split("HTTP/1.1 200").length).toBe(3);
    expect(idle.read()).toMatch(/Connection: close\r\n[\s\S]*ok$/i);

    partial.socket.write("\r\n");
    await partial.closed;
    expect(partial.read()).toMatch(/^HTTP\/1\.1 200[\s\S]*Connection: close[\s\S]*ok$/i);

    release("a");
    await busy.closed;
    expect(busy.read()).toMatch(/^HTTP\/1\.1 200[\s\S]*Connection: close[\s\S]*released$/i);
    expect(await drained).toMatchObject({ forced: 0 });
  });

  it("closes a connection still idle after the linger, and cuts what is left at the deadline", async () => {
    const { server: s, port } = await server();
    const drain = new HttpDrain({ graceMs: 2_000, idleLingerMs: 100 }).add(s);
    const idle = await raw(port);
    idle.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => idle.read().includes("ok"));
    const stuck = await raw(port);
    stuck.socket.write("GET /hold/never HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 50));
    const drained = drain.drain();
    await idle.closed;
    await until(() => drain.connections === 1);
    const result = await drained;
    await stuck.closed;
    expect(result.forced).toBe(1);
    expect(stuck.read()).toBe("");
  });

  it("under keep-alive load: no reset, no lost request, every client moved off with Connection: close", async () => {
    const { server: s, port } = await server();
    const drain = new HttpDrain({ graceMs: 10_000 }).add(s);
    const load = keepAliveLoad({
      port,
      clients: 8,
      maxRequests: 50_000,
      request: (n) => `GET /n/${n} HTTP/1.1\r\nHost: x\r\n\r\n`,
    });
    await load.answered(500);
    const result = await drain.drain();
    // Every client stops by itself: its next connection is refused.
    const report = await load.done;
    expect(report.resets).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(Object.keys(report.statuses)).toEqual(["200"]);
    expect(report.answered).toBe(report.sent);
    // Each client was told to close (unless it was idle past the linger), then refused.
    expect(report.closeAnswers + report.cleanCloses).toBe(8);
    expect(report.refused).toBe(8);
    expect(result.forced).toBe(0);
  });
});

describe("terminateOnSignals", () => {
  it("exits 0 once stop() resolves, 1 on a second signal", async () => {
    const codes: number[] = [];
    let finish: (() => void) | undefined;
    const off = terminateOnSignals(() => new Promise<void>((r) => (finish = r)), {
      graceMs: 60_000,
      signals: ["SIGUSR2"],
      exit: (c) => void codes.push(c),
    });
    try {
      process.kill(process.pid, "SIGUSR2");
      await until(() => finish !== undefined);
      process.kill(process.pid, "SIGUSR2");
      await until(() => codes.length === 1);
      finish?.();
      await until(() => codes.length === 2);
      expect(codes).toEqual([1, 0]);
    } finally {
      off();
    }
  });
});

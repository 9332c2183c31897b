// SIGTERM drains the gateway, the real process (a child), under load from keep-alive
// clients: readiness 503 at once, no new connections, every request sent answered,
// clients moved off with Connection: close rather than reset, a websocket closed at
// the deadline, and the process exits by itself within SHUTDOWN_GRACE_SECONDS.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  exitOf,
  expectCleanDrain,
  loggedLines,
  rawConnection,
  untilRefused,
} from "../../../test/support/keepalive-load.ts";
import { type ChildService, childService } from "../../../test/support/private-services.ts";
import { freePort } from "../../../test/support/redis.ts";
import { echoUpstream, routesFile } from "./harness.ts";

let up: Awaited<ReturnType<typeof echoUpstream>>;
let routes: string;
beforeAll(async () => {
  up = await echoUpstream();
  routes = routesFile(`
routes:
  - name: load
    match: { path: /load/** }
    upstream: ${up.url}
    auth: { anonymous: true, accept: [session] }
  - name: ws
    match: { path: /ws/** }
    upstream: ${up.url}
    websocket: true
    auth: { anonymous: true, accept: [session] }
`);
});
afterAll(() => up?.close());

async function gateway(graceSec: number): Promise<{ svc: ChildService; port: number }> {
  const s = inject("stack");
  const port = await freePort();
  const svc = await childService(
    "apps/gateway/src/main.ts",
    {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: String(port),
      ROUTES_FILE: routes,
      AUTH_SERVICE_URL: s.AUTH_SERVICE_URL ?? "",
      KRATOS_PUBLIC_URL: s.KRATOS_PUBLIC_URL ?? "",
      REDIS_URL: s.REDIS_URL ?? "",
      SHUTDOWN_GRACE_SECONDS: String(graceSec),
      LOG_SYNC: "true",
    },
    async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok,
  );
  return { svc, port };
}

/** The gateway's log lines with this message. */
/** `p`, or an error naming `what` (with the gateway's log) when it has not settled within `ms`. */
function within<T>(svc: ChildService, p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms\n${svc.output().slice(-3000)}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((r) => setTimeout(r, 10));
};

describe("gateway: SIGTERM drains", () => {
  it("under keep-alive load: readiness 503 at once, no reset, no lost request, exits by itself within the grace period", async () => {
    const graceSec = 10;
    const { svc, port } = await gateway(graceSec);
    try {
      await expectCleanDrain(svc, {
        name: "gateway",
        port,
        readyPort: port,
        host: "gw",
        graceSec,
        request: (n) =>
          n % 2
            ? `GET /load/get/${n} HTTP/1.1\r\nHost: gw\r\n\r\n`
            : `POST /load/post/${n} HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`,
      });
    } finally {
      await svc.stop();
    }
  });

  it("a websocket stays open through the drain and is closed at the deadline; an upgrade asked for meanwhile is refused", async () => {
    const graceSec = 5;
    const { svc, port } = await gateway(graceSec);
    try {
      const key = randomBytes(16).toString("base64");
      const ws = await rawConnection(port);
      ws.socket.write(
        `GET /ws/chat HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      await within(
        svc,
        until(() => ws.read().includes("\r\n\r\n")),
        "the upgrade's answer",
      );
      expect(ws.read()).toMatch(/^HTTP\/1\.1 101 /);
      expect(ws.read()).toContain(accept);
      const upstream = [...up.sockets];
      expect(upstream.length).toBe(1);
      for (const u of upstream) u.resume(); // so that its end is read
      // An upgrade whose head is still arriving when the signal comes.
      const late = await rawConnection(port);
      late.socket.write(`GET /ws/late HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);

      const exited = exitOf(svc);
      svc.child.kill("SIGTERM");
      await untilRefused(port);
      late.socket.write(`Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await within(svc, late.closed, "the answer to an upgrade during the drain");
      expect(late.read()).toMatch(/^HTTP\/1\.1 503 [\s\S]*Connection: close/);
      // Still open while the drain waits for it (it is what keeps the drain going)…
      expect(ws.socket.destroyed).toBe(false);
      await within(svc, ws.closed, "the websocket's close");
      expect(await within(svc, exited, "the exit")).toBe(0);
      // …until the deadline closes it, both sides.
      expect(loggedLines(svc, "grace period over: closing the connections left")).toEqual([
        expect.objectContaining({ connections: 1 }),
      ]);
      expect(loggedLines(svc, "drained")).toEqual([expect.objectContaining({ forced: 1 })]);
      await within(
        svc,
        until(() => upstream.every((u) => u.readableEnded || u.destroyed)),
        "the upstream side's end",
      );
    } finally {
      await svc.stop();
    }
  });
});

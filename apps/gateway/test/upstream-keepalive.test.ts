// An upstream that closes an idle keep-alive connection just as the gateway reuses it
// (common behind servers with short keep-alive timeouts) must not cost the client a
// 502: a request without a body is sent again on a fresh connection.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routesFile, startGateway } from "./harness.ts";

let upstream: Server;
let gw: Awaited<ReturnType<typeof startGateway>>;
let connections = 0;

beforeAll(async () => {
  // Raw TCP: answers the first request on each connection with keep-alive, then resets
  // the connection when a second request arrives on it.
  upstream = createServer((socket: Socket) => {
    connections++;
    let served = 0;
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      if (!d.toString("latin1").includes("\r\n\r\n")) return;
      served++;
      if (served === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok");
      else socket.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const port = (upstream.address() as { port: number }).port;
  gw = await startGateway(
    routesFile(`
routes:
  - name: flaky
    match: { path: /flaky/** }
    upstream: http://127.0.0.1:${port}
    auth: { anonymous: true, accept: [session] }
`),
  );
});
afterAll(async () => {
  await gw?.stop();
  await new Promise<void>((r) => upstream.close(() => r()));
});

describe("a keep-alive connection the upstream drops", () => {
  it("a GET that met a dropped connection is sent again on a fresh one: the client sees 200", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${gw.url}/flaky/x${i}`);
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(connections).toBeGreaterThan(1); // the reset connections were really reused and replaced
  });

  it("a POST with a body is not sent twice: the client gets the 502 and may decide itself", async () => {
    await (await fetch(`${gw.url}/flaky/warm`)).arrayBuffer();
    const r = await fetch(`${gw.url}/flaky/post`, {
      method: "POST",
      body: "x=1",
      headers: { "content-type": "text/plain" },
    });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: string }).error).toBe("bad_gateway");
  });
});

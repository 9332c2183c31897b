// GET /metrics: on the public port by default, on its own port (METRICS_PORT) when
// configured, so a deployment never shows its traffic figures at the edge.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let up: Awaited<ReturnType<typeof echoUpstream>>;
let shared: Awaited<ReturnType<typeof startGateway>>;
let separate: Awaited<ReturnType<typeof startGateway>>;

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  up = await echoUpstream();
  const routes = routesFile(`
routes:
  - name: public
    match: { path: /public/** }
    upstream: ${up.url}
    auth: { anonymous: true, accept: [session] }
`);
  shared = await startGateway(routes);
  separate = await startGateway(routes, { METRICS_PORT: String(await freePort()) });
});
afterAll(async () => {
  await shared?.stop();
  await separate?.stop();
  await up?.close();
});

const countOf = (text: string, route: string, status: string) =>
  Number(
    new RegExp(
      `^gatehouse_gateway_request_duration_seconds_count\\{route="${route}",status="${status}"\\} (\\d+)$`,
      "m",
    ).exec(text)?.[1] ?? 0,
  );

describe("gateway metrics", () => {
  it("without METRICS_PORT, the public port answers GET /metrics with the request series", async () => {
    expect((await fetch(`${shared.url}/public/a`)).status).toBe(200);
    expect((await fetch(`${shared.url}/public/b`)).status).toBe(200);
    const r = await fetch(`${shared.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(countOf(await r.text(), "public", "200")).toBe(2);
  });

  it("with METRICS_PORT, only that port serves them; on the public port /metrics is an ordinary path", async () => {
    expect(separate.metricsPort).toBeGreaterThan(0);
    expect((await fetch(`${separate.url}/public/a`)).status).toBe(200);
    const m = `http://127.0.0.1:${separate.metricsPort}`;
    const r = await fetch(`${m}/metrics`);
    expect(r.status).toBe(200);
    expect(countOf(await r.text(), "public", "200")).toBe(1);
    // No route matches /metrics here: the public port's ordinary 404.
    const pub = await fetch(`${separate.url}/metrics`, { headers: { accept: "application/json" } });
    expect(pub.status).toBe(404);
    expect(await pub.json()).toMatchObject({ error: "not_found" });
    // The metrics port serves nothing else, and only reads.
    const other = await fetch(`${m}/public/a`);
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: "not_found", request_id: expect.any(String) });
    expect((await fetch(`${m}/metrics`, { method: "POST" })).status).toBe(405);
  });
});

// The baseline of the gateway comparison: a plain node:http server handing every
// request to http-proxy-middleware (the gateway's own proxy library and version)
// with the gateway's keep-alive agent settings, and nothing else: no guard, no
// routing, no header rewriting. Forked by bench/gateway.ts as
// `raw-proxy.ts <port> <upstream origin>`; reports { port } over IPC.
import { Agent, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { loadProxyMiddleware } from "./hpm.ts";

const createProxyMiddleware = await loadProxyMiddleware();
const target = process.argv[3];
if (!target) throw new Error("usage: raw-proxy.ts <port> <upstream origin>");
// As apps/gateway/src/server.ts: keep-alive upstream, 512 sockets.
const agent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
const proxy = createProxyMiddleware({ target, agent, xfwd: false });

const server = createServer(
  { requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 65_000 },
  (req: IncomingMessage, res: ServerResponse) => {
    void proxy(req, res);
  },
);
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on("disconnect", () => process.exit(0));
// A normal exit on SIGTERM too, so that a --cpu-prof profile gets written.
process.on("SIGTERM", () => process.exit(0));

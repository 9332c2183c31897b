// The upstream behind the proxies, and the plain node:http hello-world baseline
// of the forward-auth comparison: any request gets a small JSON object, on
// keep-alive connections. Forked by bench/gateway.ts with its port as argv[2];
// reports { port } over IPC when listening.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from(JSON.stringify({ hello: "world", items: [1, 2, 3], ok: true }));
const headers = { "content-type": "application/json; charset=utf-8", "content-length": String(body.length) };

const server = createServer(
  { keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 60_000 },
  (req, res) => {
    // Drain a request body, if any, before answering (keeps the connection reusable).
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  },
);
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on("disconnect", () => process.exit(0));
// A normal exit on SIGTERM too, so that a --cpu-prof profile gets written.
process.on("SIGTERM", () => process.exit(0));

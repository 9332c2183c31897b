// An API gateway: the guard in front of http-proxy-middleware. Only allowed requests
// reach the upstream, carrying the Gatehouse JWT and X-User-* headers instead of the
// browser's Kratos cookie; identity headers the client sent are dropped.
//
//   AUTH_SERVICE_URL=http://127.0.0.1:7410 UPSTREAM_URL=http://127.0.0.1:8080 node examples/gateway.ts
//
// Without UPSTREAM_URL it starts a tiny echo upstream of its own, so you can see
// what the upstream receives: `curl -H "X-Session-Token: ory_st_…" http://127.0.0.1:3001/api/echo`.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createGuard } from "@gatehouse/guard";
import { guardedProxy } from "@gatehouse/guard/proxy";
import express from "express";

async function echoUpstream(): Promise<string> {
  const upstream = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ path: req.url, headers: req.headers }, null, 2));
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstream.unref();
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
}

const guard = createGuard({
  authServiceUrl: process.env.AUTH_SERVICE_URL ?? "http://127.0.0.1:7410",
  audience: "gatehouse",
  accept: ["session", "jwt"],
});

const api = guardedProxy({
  guard,
  rule: {}, // any signed-in caller; e.g. { roles: ["owner", "admin"] } to restrict
  target: process.env.UPSTREAM_URL ?? (await echoUpstream()),
  forward: { jwt: true, identityHeaders: true, kratosCookie: false },
  proxyOptions: { xfwd: true, proxyTimeout: 10_000 },
});

const app = express();
// Mount before any body parser: the proxy streams the request body as is.
app.use("/api", api);

const server = app.listen(Number(process.env.PORT ?? "3001"), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

process.on("SIGTERM", () => {
  server.close(() => {
    api.close();
    void guard.close();
  });
});

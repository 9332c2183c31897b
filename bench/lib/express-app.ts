// The Express 5 servers of bench/gateway.ts, one mode per process:
//   proxy        Express + http-proxy-middleware to BENCH_UPSTREAM (keep-alive agent)
//   guard-proxy  the same with the guard in front: gatehouse().requireAuth(), then the proxy
//   hello        GET /hello → a small JSON object
//   jwt          the same with the guard in front, accepting only a Gatehouse JWT:
//                gatehouse().middleware({ accept: ["jwt"] })
//   whoami       Express asking Kratos' whoami (BENCH_KRATOS) for every request, then the
//                proxy: the least a session check can cost (bench/peer.ts' floor)
// The guard (packages/guard, Express adapter, default options: in-process session
// cache, verified-token cache on) talks to the auth-service at BENCH_AUTH_URL.
// Run as `express-app.ts <mode> <port>`; reports { port, version } over IPC.
import type { Agent as HttpAgent, IncomingMessage, Server, ServerResponse } from "node:http";
import { Agent } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { gatehouse } from "../../packages/guard/src/adapters/express.ts";
import { loadProxyMiddleware } from "./hpm.ts";

type Handler = (req: IncomingMessage, res: ServerResponse & { json(body: unknown): void }, next: () => void) => void;
interface ExpressApp {
  use(handler: Handler | ((...args: never[]) => unknown)): void;
  get(path: string, ...handlers: (Handler | ((...args: never[]) => unknown))[]): void;
  listen(port: number, host: string, cb: () => void): Server;
}

const require = createRequire(new URL("../../packages/guard/package.json", import.meta.url));
const express = require("express") as () => ExpressApp;

const mode = process.argv[2];
const port = Number(process.argv[3] ?? 0);
const upstream = process.env.BENCH_UPSTREAM ?? "";
const authUrl = process.env.BENCH_AUTH_URL ?? "";
const kratos = process.env.BENCH_KRATOS ?? "";

const guard = () => gatehouse({ authServiceUrl: authUrl, audience: "gatehouse", issuer: authUrl });
const proxy = async () => {
  const createProxyMiddleware = await loadProxyMiddleware();
  // Keep-alive upstream, as the gateway and the raw proxy.
  const agent: HttpAgent = new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
  return createProxyMiddleware({ target: upstream, agent, xfwd: false });
};
/** X-Session-Token → Kratos whoami; 401 unless Kratos says 200. */
const whoami: Handler = (req, res, next) => {
  const token = req.headers["x-session-token"];
  fetch(`${kratos}/sessions/whoami`, { headers: { "x-session-token": String(token ?? "") } }).then(
    async (r) => {
      await r.arrayBuffer();
      if (r.status === 200) return next();
      res.statusCode = 401;
      res.json({ error: "unauthenticated" });
    },
    () => {
      res.statusCode = 503;
      res.json({ error: "unavailable" });
    },
  );
};
const hello: Handler = (_req, res) => {
  res.json({ hello: "world", items: [1, 2, 3], ok: true });
};

const app = express();
switch (mode) {
  case "proxy":
    app.use(await proxy());
    break;
  case "guard-proxy":
    app.use(guard().requireAuth());
    app.use(await proxy());
    break;
  case "whoami":
    app.use(whoami);
    app.use(await proxy());
    break;
  case "hello":
    app.get("/hello", hello);
    break;
  case "jwt":
    app.get("/hello", guard().middleware({ accept: ["jwt"] }), hello);
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
const server = app.listen(port, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port, version: require("express/package.json").version });
});
// As the other bench servers (and the auth-service's listeners).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 30_000;
process.on("disconnect", () => process.exit(0));
// A normal exit on SIGTERM too, so that a --cpu-prof profile gets written.
process.on("SIGTERM", () => process.exit(0));

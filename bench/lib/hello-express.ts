// The baseline server: a plain Express 5 hello-world (the auth-service's own
// Express, resolved from its package), POST answering a small JSON object, with
// the same keep-alive and timeout settings as the auth-service's listeners.
// Forked by bench/auth-service.ts; reports its port over IPC.
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

interface Res {
  json(body: unknown): void;
}
interface ExpressApp {
  post(path: string, handler: (req: unknown, res: Res) => void): void;
  listen(port: number, host: string, cb: () => void): Server;
}

const require = createRequire(new URL("../../apps/auth-service/package.json", import.meta.url));
const express = require("express") as () => ExpressApp;

const app = express();
app.post("/hello", (_req, res) => {
  res.json({ hello: "world", token_type: "Bearer", expires_in: 300 });
});
const server = app.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port, version: require("express/package.json").version });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 30_000;
process.on("disconnect", () => process.exit(0));

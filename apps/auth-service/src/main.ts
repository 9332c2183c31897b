// Starts the public and admin listeners; drains in-flight requests on SIGTERM.
import { randomUUID } from "node:crypto";
import { createServer, type RequestListener, type Server } from "node:http";
import type { DestinationStream } from "pino";
import { createApp, createLogger } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { adminApp } from "./http/admin.ts";
import { publicApp } from "./http/public.ts";

export async function start(env: NodeJS.ProcessEnv = process.env, opts: { logDestination?: DestinationStream } = {}) {
  const cfg = loadConfig(env);
  const log = createLogger(cfg, opts.logDestination);
  const app = await createApp(cfg, log);
  const listen = (handler: RequestListener, port: number) =>
    new Promise<Server>((res, rej) => {
      const s = createServer(handler)
        .listen(port, cfg.host, () => res(s))
        .on("error", rej);
      // Malformed requests Node rejects before Express sees them (oversized headers,
      // bad framing, smuggling attempts) still get the JSON error shape.
      s.on("clientError", (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) return socket.destroy();
        const tooBig = err.code === "HPE_HEADER_OVERFLOW";
        const status = tooBig ? 431 : 400;
        const body = JSON.stringify({
          error: tooBig ? "headers_too_large" : "bad_request",
          message: tooBig ? "request headers too large" : "malformed HTTP request",
          request_id: randomUUID(),
        });
        socket.end(
          `HTTP/1.1 ${status} ${tooBig ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      s.keepAliveTimeout = 65_000;
      s.headersTimeout = 66_000;
      s.requestTimeout = 30_000;
    });
  const pub = await listen(publicApp(app), cfg.publicPort);
  const adm = await listen(adminApp(app), cfg.adminPort);
  log.info({ public: cfg.publicPort, admin: cfg.adminPort }, "auth-service listening");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining");
    // close() stops accepting, closes idle keep-alive connections and waits for
    // requests in flight; dependencies are closed only after that.
    const closed = (s: Server) => new Promise<void>((r) => s.close(() => r()));
    const force = setTimeout(() => {
      pub.closeAllConnections();
      adm.closeAllConnections();
    }, 10_000);
    await Promise.all([closed(pub), closed(adm)]);
    clearTimeout(force);
    await app.close();
    log.info("stopped");
  };
  return { app, stop, publicServer: pub, adminServer: adm };
}

if (import.meta.main) {
  try {
    const s = await start();
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.on(sig, () => {
        void s.stop(sig).then(() => process.exit(0));
      });
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`auth-service: ${e.message}`);
      process.exit(2);
    }
    console.error(`auth-service: failed to start: ${(e as Error).message}`);
    process.exit(1);
  }
}

// The public and admin listeners, from a parsed configuration (main.ts is the entry). On SIGTERM both drain (readiness 503, no new
// connections, requests in flight finished, keep-alive clients told Connection: close)
// and the process exits within SHUTDOWN_GRACE_SECONDS (@gatehouse/observability/shutdown).
import { randomUUID } from "node:crypto";
import { createServer, type RequestListener, type Server } from "node:http";
import { HttpDrain } from "@gatehouse/observability/shutdown";
import type { Tracing } from "@gatehouse/observability/tracing";
import { describeRedis } from "@gatehouse/redis";
import type { DestinationStream } from "pino";
import { createApp, createLogger } from "./app.ts";
import type { AuthConfig } from "./config.ts";
import { adminApp } from "./http/admin.ts";
import { publicApp } from "./http/public.ts";

export async function run(cfg: AuthConfig, opts: { logDestination?: DestinationStream; tracing?: Tracing } = {}) {
  const log = createLogger(cfg, opts.logDestination);
  const app = await createApp(cfg, log);
  const drain = new HttpDrain({ graceMs: cfg.shutdownGraceMs, log });
  const listen = (handler: RequestListener, port: number) =>
    new Promise<Server>((res, rej) => {
      const s = createServer(handler);
      drain.add(s);
      s.listen(port, cfg.host, () => res(s)).on("error", rej);
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
  log.info({ public: cfg.publicPort, admin: cfg.adminPort, redis: describeRedis(cfg.redis) }, "auth-service listening");
  let stopped: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopped ??= (async () => {
      log.info({ signal }, "stopping");
      app.draining = true;
      // Dependencies are closed only once no request can need them any more.
      await drain.drain();
      await app.close();
      // The spans of the last requests, exported before the process goes.
      await opts.tracing?.shutdown();
      log.info("stopped");
    })();
    return stopped;
  };
  return { app, stop, publicServer: pub, adminServer: adm, log, graceMs: cfg.shutdownGraceMs };
}

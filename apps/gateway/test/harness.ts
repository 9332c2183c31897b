// Test harness: a real upstream echo server that records what reaches it, a routes
// file, and the gateway started in this process against the real test stack.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { start } from "../src/main.ts";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The request body as received (set once it has been read). */
  body?: string;
}

export async function echoUpstream(): Promise<{
  url: string;
  seen: Seen[];
  sockets: Set<Socket>;
  close(): Promise<void>;
  server: Server;
}> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const entry: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    seen.push(entry);
    if (req.url?.startsWith("/slow")) return; // never answers: the gateway must time out
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      entry.body = Buffer.concat(chunks).toString();
      const body = JSON.stringify({ url: req.url, method: req.method, body: entry.body });
      res.writeHead(200, { "content-type": "application/json", "set-cookie": "upstream=1; Path=/" });
      res.end(body);
    });
  });
  // A minimal websocket endpoint: completes the handshake and keeps the socket open.
  server.on("upgrade", (req, socket: Socket) => {
    seen.push({ method: "UPGRADE", url: req.url ?? "", headers: req.headers });
    const key = String(req.headers["sec-websocket-key"] ?? "");
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    sockets,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function routesFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "gw-routes-"));
  const file = join(dir, "routes.yaml");
  writeFileSync(file, yaml);
  return file;
}

export async function startGateway(routes: string, env: Record<string, string> = {}) {
  const s = inject("stack");
  const logLines: string[] = [];
  const gw = await start(
    {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: "0",
      ROUTES_FILE: routes,
      AUTH_SERVICE_URL: s.AUTH_SERVICE_URL,
      KRATOS_PUBLIC_URL: s.KRATOS_PUBLIC_URL,
      REDIS_URL: s.REDIS_URL,
      LOGIN_URL: `http://app.${s.GATEHOUSE_DOMAIN}/auth/login`,
      ALLOWED_RETURN_HOSTS: `app.${s.GATEHOUSE_DOMAIN},api.${s.GATEHOUSE_DOMAIN}`,
      TRUSTED_PROXIES: "127.0.0.1/32,::1",
      LOG_LEVEL: "debug",
      ACCESS_LOG: "true",
      ...env,
    },
    { logDestination: { write: (l: string) => void logLines.push(l) } },
  );
  return { ...gw, url: `http://127.0.0.1:${gw.port}`, logLines };
}

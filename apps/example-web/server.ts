// Production server: one Next.js instance (one build, one process, one memory
// footprint) listening on two ports, the app (WEB_PORT) and the marketing site
// (MARKETING_PORT). middleware.ts tells them apart by the Host header.
//
//   WEB_URL=… MARKETING_URL=… KRATOS_PUBLIC_URL=… KRATOS_BROWSER_URL=… AUTH_SERVICE_URL=… \
//   GATEWAY_URL=… WEB_PORT=7401 MARKETING_PORT=7402 node server.ts
//
// WEB_SITES=app or WEB_SITES=marketing opens only that listener: the Helm chart runs
// the marketing site as its own, smaller Deployment (same image, same configuration).
//
// Builds first when no build of the current sources exists (scripts/build.ts).
// `node server.ts --dev` runs Next's development server instead (no build, reloads).
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import next from "next";
import { ConfigError, webConfig } from "./lib/config.ts";
import { APP_DIR, ensureBuild, throwawayTsconfig } from "./scripts/build.ts";

function port(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  const n = raw ? Number(raw) : fallback;
  if (!Number.isInteger(n) || n < min || n > 65_535) {
    console.error(`${name} must be ${min === 0 ? "a number" : "a port number"}, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

try {
  webConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`example-web: ${e.message}`);
    process.exit(2);
  }
  throw e;
}

const host = process.env.WEB_HOST || "127.0.0.1";
const webPort = port("WEB_PORT", 7401);
const marketingPort = port("MARKETING_PORT", 7402);
const sites = (process.env.WEB_SITES || "app,marketing").split(",").map((s) => s.trim());
if (sites.length === 0 || sites.some((s) => s !== "app" && s !== "marketing") || new Set(sites).size !== sites.length) {
  console.error(`WEB_SITES must be "app", "marketing" or "app,marketing", got "${process.env.WEB_SITES}"`);
  process.exit(2);
}
const listeners = [
  ...(sites.includes("app") ? [{ port: webPort, label: "web" }] : []),
  ...(sites.includes("marketing") ? [{ port: marketingPort, label: "marketing" }] : []),
];

const dev = process.argv.includes("--dev");
process.env.NEXT_TELEMETRY_DISABLED = "1";
let status: string;
if (dev) {
  mkdirSync(join(APP_DIR, ".next"), { recursive: true });
  process.env.EXAMPLE_WEB_DIST_DIR = ".next/dev";
  process.env.EXAMPLE_WEB_TSCONFIG = ".next/tsconfig.dev.json";
  writeFileSync(join(APP_DIR, ".next/tsconfig.dev.json"), throwawayTsconfig());
  status = "development mode";
} else {
  const build = await ensureBuild((l) => console.log(`[build] ${l}`));
  process.env.EXAMPLE_WEB_DIST_DIR = build.distDir;
  status = `${build.built ? `built in ${(build.ms / 1000).toFixed(1)} s` : "cached build"} ${build.distDir}`;
}

// Where Next fetches a page server-side after a server action redirects (what
// `next start` sets too): this process's own first listener (the app's, when it has one).
process.env.__NEXT_PRIVATE_ORIGIN ??= `http://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${listeners[0]?.port}`;

const app = next({ dev, dir: APP_DIR });
await app.prepare();
const handle = app.getRequestHandler();
const upgrade = dev ? app.getUpgradeHandler() : undefined;

// Who the client is, as this app tells the services it calls (the gateway counts
// sign-in attempts per address): the peer, or with TRUST_PROXY_HOPS=n behind n
// proxies, the address the nearest of them saw. A client's own X-Forwarded-For is
// never believed beyond that (Next.js would otherwise pass it on as it came).
const trustedHops = port("TRUST_PROXY_HOPS", 0, 0);
function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? "";
  if (trustedHops === 0) return peer;
  const chain = String(req.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return chain[chain.length - trustedHops] ?? chain[0] ?? peer;
}

function listen(p: number, label: string): Promise<Server> {
  const server = createServer((req, res) => {
    req.headers["x-forwarded-for"] = clientAddress(req);
    handle(req, res).catch((e: unknown) => {
      console.error(`${label}: ${(e as Error).message}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("content-type", "text/plain; charset=utf-8");
      }
      res.end("Something went wrong on our side. Please try again.");
    });
  });
  server.keepAliveTimeout = 65_000;
  // Development: Next's hot reloading talks over a WebSocket on the same port.
  if (upgrade) server.on("upgrade", (req, socket, head) => void upgrade(req, socket, head));
  return new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(p, host, () => res(server));
  });
}

const servers: Server[] = [];
for (const l of listeners) servers.push(await listen(l.port, l.label));
const c = webConfig();
const origins: Record<string, string> = { web: `app ${c.webUrl}`, marketing: `marketing ${c.marketingUrl}` };
console.log(
  `example-web ready (${status}): ${listeners.map((l) => `${origins[l.label]} → ${host}:${l.port}`).join(", ")}`,
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await app.close().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

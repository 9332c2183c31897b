// The entry points of the conformance suite, one runner each. Every runner serves the
// same three routes (public: anonymous; private: any signed-in caller; admin: owners
// and admins) with the same guard settings (the test stack's auth-service, login at
// app.<domain>/auth/login) and the same forwarding (the JWT and identity headers;
// not the client's Kratos cookie, session token or API key), and reports what a
// client got back and what the code behind it saw, in the same terms. Adding an
// entry point (an SDK in another language, say) means adding one runner here.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { routesFile, startGateway } from "../../apps/gateway/test/harness.ts";
import { gatehouse } from "../../packages/guard/src/adapters/express.ts";
import { createNextGuard, type Rule } from "../../packages/guard/src/adapters/next.ts";
import { guardedProxy } from "../../packages/guard/src/adapters/proxy.ts";
import { createGuard, type GuardOptions } from "../../packages/guard/src/index.ts";
import type { Route } from "./cases.ts";

export interface Sent {
  method: string;
  path: string;
  headers: readonly (readonly [string, string])[];
}

export interface Seen {
  status: number;
  /** Answer headers, lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** For an allowed request: the request headers the code behind the entry point got (lower-case names). */
  downstream?: Record<string, string>;
  /** For an allowed request: who the code behind was told the caller is (a principal object or identity headers). */
  identity?: { subject?: string | undefined; email?: string | undefined; role?: string | undefined } | undefined;
}

export interface Runner {
  readonly name: string;
  /**
   * Whether the entry point hands the request on with the guard's headers (a proxy, the
   * Next.js middleware); false for a middleware in the app itself (Express), which
   * gives the principal as an object and leaves the credentials to the app.
   */
  readonly forwards: boolean;
  readonly host: string;
  start(): Promise<void>;
  send(s: Sent): Promise<Seen>;
  stop(): Promise<void>;
}

export const PATHS: Record<Route, string> = { public: "/public/x", private: "/private/x", admin: "/admin/x" };
export const RULES: Record<Route, Rule> = {
  public: { anonymous: true },
  private: {},
  admin: { roles: ["owner", "admin"] },
};
const routeOf = (path: string): Route | undefined =>
  (Object.keys(PATHS) as Route[]).find((r) => path === `/${r}` || path.startsWith(`/${r}/`));

export function guardOptions(stack: Record<string, string>): GuardOptions {
  const domain = stack.GATEHOUSE_DOMAIN as string;
  return {
    authServiceUrl: stack.AUTH_SERVICE_URL as string,
    audience: "gatehouse",
    login: { url: `http://app.${domain}/auth/login`, allowedReturnHosts: [`app.${domain}`, `api.${domain}`] },
  };
}

const lower = (h: IncomingMessage["headers"]) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;
const closeAll = (...servers: (Server | undefined)[]) =>
  Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          if (!s) return r();
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );

/** The code behind a proxy: answers with the request headers it got. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ headers: lower(req.headers) }));
  });
}

/** One request, as sent (header names and order kept), on its own connection. */
function send(port: number, s: Sent): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: "127.0.0.1", port, method: s.method, path: s.path, headers: s.headers.flat(), agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: lower(res.headers), body }));
      },
    );
    r.on("error", reject);
    r.end();
  });
}

/** What a proxying entry point's code behind saw: the echo's headers, identity as the guard's headers say it. */
function fromEcho(seen: Seen): Seen {
  if (seen.status !== 200) return seen;
  const headers = (JSON.parse(seen.body) as { headers: Record<string, string> }).headers;
  const subject = headers["x-user-id"];
  return {
    ...seen,
    downstream: headers,
    identity:
      subject === undefined ? undefined : { subject, email: headers["x-user-email"], role: headers["x-user-roles"] },
  };
}

/** The gateway's proxied routes (routes file), in front of the echo. */
export function gatewayRunner(domain: string): Runner {
  let upstream: Server | undefined;
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  return {
    name: "gateway",
    forwards: true,
    host: `api.${domain}`,
    async start() {
      upstream = await listen(echo);
      const u = `http://127.0.0.1:${portOf(upstream)}`;
      const route = (r: Route, auth: string, priority = 0) =>
        `  - { name: ${r}, match: { path: /${r}/** }, priority: ${priority}, upstream: ${u}, auth: ${auth} }`;
      const yaml = [
        "routes:",
        route("public", "{ anonymous: true, accept: [session, jwt] }"),
        route("private", "{ accept: [session, jwt] }"),
        route("admin", "{ accept: [session, jwt], roles: [owner, admin] }"),
      ].join("\n");
      gateway = await startGateway(routesFile(yaml), { LOG_LEVEL: "warn", ACCESS_LOG: "false" });
    },
    async send(s) {
      return fromEcho(await send(gateway?.port ?? 0, s));
    },
    async stop() {
      await gateway?.stop();
      await closeAll(upstream);
    },
  };
}

/** The Express entry: gatehouse() middleware on each route; the handler answers with req.auth and req.headers. */
export function expressRunner(domain: string, stack: Record<string, string>): Runner {
  let server: Server | undefined;
  const auth = gatehouse(guardOptions(stack));
  return {
    name: "express",
    forwards: false,
    host: `api.${domain}`,
    async start() {
      const app = express();
      for (const r of Object.keys(PATHS) as Route[]) {
        app.use(`/${r}`, auth.middleware(RULES[r]), (req, res) => {
          const a = req.auth;
          res.json({
            headers: lower(req.headers),
            ...(a ? { auth: { subject: a.subject, email: a.email, role: a.role } } : {}),
          });
        });
      }
      server = await listen(app);
    },
    async send(s) {
      const seen = await send(portOf(server as Server), s);
      if (seen.status !== 200) return seen;
      const body = JSON.parse(seen.body) as { headers: Record<string, string>; auth?: Seen["identity"] };
      return { ...seen, downstream: body.headers, identity: body.auth };
    },
    async stop() {
      await closeAll(server);
      await auth.close();
    },
  };
}

/** The http-proxy-middleware entry: guardedProxy() per route in an Express app, in front of the echo. */
export function proxyRunner(domain: string, stack: Record<string, string>): Runner {
  let upstream: Server | undefined;
  let server: Server | undefined;
  const guard = createGuard(guardOptions(stack));
  const proxies: ReturnType<typeof guardedProxy>[] = [];
  return {
    name: "proxy",
    forwards: true,
    host: `api.${domain}`,
    async start() {
      upstream = await listen(echo);
      const app = express();
      for (const r of Object.keys(PATHS) as Route[]) {
        const p = guardedProxy({ guard, rule: RULES[r], target: `http://127.0.0.1:${portOf(upstream)}` });
        proxies.push(p);
        app.use(`/${r}`, p);
      }
      server = await listen(app);
    },
    async send(s) {
      return fromEcho(await send(portOf(server as Server), s));
    },
    async stop() {
      await closeAll(server, upstream);
      for (const p of proxies) p.close();
      await guard.close();
    },
  };
}

/**
 * The Next.js entry (createNextGuard, the Edge-safe core on fetch) as a middleware
 * calls it: a Web Request in, a Response or the rewritten request headers out. A
 * node:http server stands in for Next's: it hands the middleware the request and,
 * when it lets it through, answers with the headers the page would get.
 */
export function nextRunner(domain: string, stack: Record<string, string>): Runner {
  let server: Server | undefined;
  const guard = createNextGuard({
    ...guardOptions(stack),
    forward: { kratosCookie: false, sessionToken: false, apiKey: false },
  });
  async function middleware(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method ?? "GET", headers });
    const route = routeOf(new URL(request.url).pathname);
    if (route === undefined) return void res.writeHead(404).end();
    const { response, requestHeaders } = await guard.check(request, RULES[route], { clientAddress: "127.0.0.1" });
    if (response) {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ headers: Object.fromEntries(requestHeaders ?? new Headers()) }));
  }
  return {
    name: "next",
    forwards: true,
    host: `app.${domain}`,
    async start() {
      server = await listen((req, res) => {
        middleware(req, res).catch(() => res.writeHead(500).end());
      });
    },
    async send(s) {
      return fromEcho(await send(portOf(server as Server), s));
    },
    async stop() {
      await closeAll(server);
      await guard.close();
    },
  };
}

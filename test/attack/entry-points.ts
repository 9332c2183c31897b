// The entry points of the standing attack suite (entry-points.test.ts), one small
// runner each. A runner takes what a client sends (an Attempt: method, a target the
// runner knows or a raw request target, headers in order and spelling, duplicates
// included) and says what happened, in the same terms at every entry point:
//
//   outcome   allowed | unauthenticated | forbidden | refused | not_found | redirect | error
//   form      how a refusal looked (JSON, or a redirect to the login)
//   identity  who the code behind the entry point was told the caller is
//   servedProtected  whether the protected resource was served at all
//   downstream       what reached the code behind it, as text, to search for spoofed values
//
// Adding an entry point means adding one runner here. Requests are raw HTTP/1.1 over
// TCP (one connection each, Connection: close), so header names keep their spelling
// and order, duplicates stay duplicates, and request targets are sent byte for byte.
import { connect } from "node:net";
import type { Seen } from "../../apps/gateway/test/harness.ts";
import { rawExchange } from "./raw.ts";

// --- the wire -----------------------------------------------------------------------

export interface Wire {
  method: string;
  /** The request target, sent as latin1 bytes. */
  target: string;
  headers: readonly (readonly [string, string])[];
  body?: string;
}

export interface WireAnswer {
  /** Undefined when the connection closed (or the deadline passed) without a status line. */
  status: number | undefined;
  headers: Map<string, string[]>;
  body: string;
}

const header = (a: WireAnswer, name: string) => a.headers.get(name)?.[0];

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < body.length) {
    const eol = body.indexOf("\r\n", i);
    if (eol === -1) break;
    const size = Number.parseInt(body.subarray(i, eol).toString("latin1").split(";")[0] ?? "", 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** One request on its own connection; resolves with whatever came back before the close or the deadline. */
export function send(port: number, w: Wire, deadlineMs = 20_000): Promise<WireAnswer> {
  const lines = [`${w.method} ${w.target} HTTP/1.1`, ...w.headers.map(([n, v]) => `${n}: ${v}`), "Connection: close"];
  if (w.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(w.body)}`);
  const bytes = Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), Buffer.from(w.body ?? "")]);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(bytes));
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const head = (end === -1 ? all : all.subarray(0, end)).toString("latin1");
      const [statusLine = "", ...headerLines] = head.split("\r\n");
      const headers = new Map<string, string[]>();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      let body: Buffer = end === -1 ? Buffer.alloc(0) : all.subarray(end + 4);
      if (/chunked/i.test(headers.get("transfer-encoding")?.join(",") ?? "")) body = dechunk(body);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      resolve({ status: m ? Number(m[1]) : undefined, headers, body: body.toString("utf8") });
    };
    const timer = setTimeout(finish, deadlineMs);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("close", finish);
    socket.on("error", finish);
  });
}

// --- what a client tries, and what happened ------------------------------------------

export type Target = "public" | "protected" | "admin";

export interface Attempt {
  method?: string;
  /** A target the runner knows, or a raw request target built from the runner's paths. */
  target: Target | ((p: Paths) => string);
  headers?: readonly (readonly [string, string])[];
  body?: string;
  /** A browser's top-level page load (Accept: text/html, Sec-Fetch-Mode: navigate). */
  navigation?: boolean;
}

export type Outcome = "allowed" | "unauthenticated" | "forbidden" | "refused" | "not_found" | "redirect" | "error";

export interface Identity {
  subject?: string | undefined;
  email?: string | undefined;
  role?: string | undefined;
}

export interface Result {
  status: number | undefined;
  outcome: Outcome;
  /** How an unauthenticated answer looked: JSON for API callers, the login page for browsers. */
  form?: "json" | "login-redirect";
  /** Who the code behind the entry point was told the caller is (allowed answers where it shows). */
  identity?: Identity | undefined;
  /** The protected (or admin) resource was served. */
  servedProtected: boolean;
  /** Everything that reached the code behind the entry point, as text. */
  downstream: string;
  /** A short account for failure messages. */
  summary: string;
}

export interface Paths {
  /** An anonymous page or route next to the protected one. */
  public: string;
  /** Needs any signed-in caller. */
  protected: string;
}

export interface EntryPoint {
  /** Short key the case table's per-entry expectations use: gateway, decisions:<proxy>, express, next. */
  readonly key: string;
  readonly name: string;
  /** Credentials this entry point's protected route takes as a sign-in. */
  readonly accepts: readonly ("session" | "jwt")[];
  readonly paths: Paths;
  /** A route only owners and admins pass, if the entry point has one. */
  readonly admin?: { method: string; path: string; body?: string };
  run(a: Attempt): Promise<Result>;
  /** Raw bytes on the proxied route (smuggling), with the upstream requests they caused. Proxies only. */
  raw?(
    build: (host: string, p: Paths) => (string | Buffer | number)[],
    requestId: string,
  ): Promise<{ status: number | undefined; upstream: Seen[]; allUpstream: readonly Seen[] }>;
}

let seq = 0;
export const uniqueId = (prefix: string) =>
  `${prefix}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

function targetOf(
  ep: Pick<EntryPoint, "paths" | "admin">,
  a: Attempt,
): { method: string; target: string; body?: string } {
  if (a.target === "admin") {
    if (!ep.admin) throw new Error("this entry point has no admin route");
    return {
      method: a.method ?? ep.admin.method,
      target: ep.admin.path,
      ...(ep.admin.body ? { body: ep.admin.body } : {}),
    };
  }
  const target = typeof a.target === "function" ? a.target(ep.paths) : ep.paths[a.target];
  return { method: a.method ?? "GET", target, ...(a.body !== undefined ? { body: a.body } : {}) };
}

const BROWSER = [
  ["Accept", "text/html,application/xhtml+xml"],
  ["Sec-Fetch-Mode", "navigate"],
] as const;
const API = [["Accept", "application/json"]] as const;
const clientHeaders = (a: Attempt) => [...(a.navigation ? BROWSER : API), ...(a.headers ?? [])];

function loginRedirect(status: number | undefined, location: string | undefined): boolean {
  if (status === undefined || status < 300 || status > 399 || !location) return false;
  try {
    return new URL(location, "http://x.invalid").pathname === "/auth/login";
  } catch {
    return false;
  }
}

/** The common part of reading an answer; runners add identity and servedProtected. */
function classify(a: WireAnswer): Pick<Result, "status" | "outcome" | "form"> {
  const s = a.status;
  if (loginRedirect(s, header(a, "location"))) return { status: s, outcome: "unauthenticated", form: "login-redirect" };
  if (s === undefined) return { status: s, outcome: "refused" }; // closed without an answer
  if (s >= 200 && s < 300) return { status: s, outcome: "allowed" };
  if (s === 401) return { status: s, outcome: "unauthenticated", form: "json" };
  if (s === 403) return { status: s, outcome: "forbidden" };
  if (s === 404) return { status: s, outcome: "not_found" };
  if (s >= 300 && s < 400) return { status: s, outcome: "redirect" };
  if (s === 400 || s === 413 || s === 414 || s === 431) return { status: s, outcome: "refused" };
  return { status: s, outcome: "error" };
}

const summary = (a: WireAnswer, extra = "") =>
  `${a.status ?? "closed"} ${header(a, "location") ?? ""} ${a.body.slice(0, 160).replace(/\s+/g, " ")} ${extra}`.trim();

// --- how a permissive server might read a path ----------------------------------------

/**
 * Every path a lenient server could make of `target`: percent-decoded (repeatedly,
 * overlong UTF-8 for "." and "/" included), backslashes as slashes, with or without
 * ";" parameters and what follows a NUL, dot segments resolved or not, slashes collapsed,
 * trailing dots dropped, lower-cased. Used to tell whether what an upstream received
 * could be the protected resource.
 */
export function lenientReadings(target: string): string[] {
  let p =
    target
      .replace(/^[a-z]+:\/\/[^/]*/i, "")
      .split("?")[0]
      ?.split("#")[0] ?? "";
  for (let i = 0; i < 3; i++) {
    p = p
      .replace(/%c0%ae|%e0%80%ae|\u00c0\u00ae/gi, ".")
      .replace(/%c0%af|%e0%80%af|\u00c0\u00af/gi, "/")
      .replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  }
  p = p.replaceAll("\\", "/");
  const out = new Set<string>();
  for (const nul of [true, false]) {
    for (const params of [true, false]) {
      let q = nul ? (p.split("\0")[0] ?? "") : p.replaceAll("\0", "");
      if (params) q = q.replace(/;[^/]*/g, "");
      const segs: string[] = [];
      for (const raw of q.split("/")) {
        const s = raw.replace(/\.+$/, (dots) => (raw === dots ? dots : ""));
        if (s === "" || s === ".") continue;
        if (s === "..") segs.pop();
        else segs.push(s.toLowerCase());
      }
      out.add(`/${segs.join("/")}`);
      // And read as it stands, dot segments not resolved: a router that matches the
      // raw path (Express) serves /private/x/../../public/x as /private.
      out.add(
        `/${q
          .split("/")
          .filter((s) => s !== "" && s !== ".")
          .join("/")
          .toLowerCase()}`,
      );
    }
  }
  return [...out];
}

const under = (target: string, areas: readonly string[]) =>
  lenientReadings(target).some((r) => areas.some((a) => r === a || r.startsWith(`${a}/`)));

// --- runners -------------------------------------------------------------------------

const GATEWAY_PATHS: Paths = { public: "/public/x", protected: "/private/x" };
const GATEWAY_ADMIN = { method: "GET", path: "/admin/x" };
/** The routes file of the gateway these runners expect (upstream: an echo that records what reaches it). */
export const gatewayRoutes = (upstream: string) => `
routes:
  - name: admin
    match: { path: /admin/** }
    priority: 10
    upstream: ${upstream}
    auth: { accept: [session, jwt], roles: [owner, admin] }
  - name: private
    match: { path: /private/** }
    upstream: ${upstream}
    auth: { accept: [session, jwt] }
  - name: public
    match: { path: /public/** }
    upstream: ${upstream}
    auth: { anonymous: true, accept: [session, jwt] }
  - name: public-delete
    match: { path: /public/**, methods: [DELETE] }
    priority: 20
    upstream: ${upstream}
    auth: { accept: [session, jwt], roles: [owner, admin] }
`;
const PROTECTED_AREAS = ["/private", "/admin"];

/** Identity as HTTP headers say it (the gateway's upstream request, a forward-auth answer). */
function identityFromHeaders(get: (name: string) => string | undefined): Identity | undefined {
  const subject = get("x-user-id");
  if (subject === undefined) return undefined;
  return { subject, email: get("x-user-email"), role: get("x-user-roles") };
}

/** The gateway's proxied routes, in front of an echo upstream that records every request it gets. */
export function gatewayProxy(gateway: { port: number }, upstream: { seen: Seen[] }, domain: string): EntryPoint {
  // Read when a request is sent: the gateway may start after this runner is made.
  const host = () => `api.${domain}:${gateway.port}`;
  const ep: EntryPoint = {
    key: "gateway",
    name: "gateway (proxied route)",
    accepts: ["session", "jwt"],
    paths: GATEWAY_PATHS,
    admin: GATEWAY_ADMIN,
    async run(a) {
      const t = targetOf(ep, a);
      const id = uniqueId("gw");
      const answer = await send(gateway.port, {
        method: t.method,
        target: t.target,
        headers: [["Host", host()], ["X-Request-Id", id], ...clientHeaders(a)],
        ...(t.body !== undefined ? { body: t.body } : {}),
      });
      const reached = upstream.seen.filter((s) => s.headers["x-request-id"] === id);
      const c = classify(answer);
      const seen = reached[0];
      const one = (n: string) => {
        const v = seen?.headers[n];
        return Array.isArray(v) ? v.join(", ") : v;
      };
      return {
        ...c,
        ...(c.outcome === "allowed" && seen ? { identity: identityFromHeaders(one) } : {}),
        servedProtected: reached.some((s) => under(s.url, PROTECTED_AREAS)),
        downstream: JSON.stringify(reached.map((s) => ({ method: s.method, url: s.url, headers: s.headers }))),
        summary: summary(answer, `upstream saw ${reached.map((s) => `${s.method} ${s.url}`).join(", ") || "nothing"}`),
      };
    },
    async raw(build, requestId) {
      const before = upstream.seen.length;
      const r = await rawExchange(gateway.port, { name: requestId, parts: build(host(), GATEWAY_PATHS) }, 3_000, 300);
      // Give an upstream request the gateway may still be sending a moment to arrive.
      await new Promise((res) => setTimeout(res, 100));
      const after = upstream.seen.slice(before);
      return {
        status: r.status,
        upstream: after.filter((s) => s.headers["x-request-id"] === requestId),
        allUpstream: after,
      };
    },
  };
  return ep;
}

/**
 * The gateway's /decisions as Envoy's ext_authz (HTTP) calls it, configured as
 * deploy/README.md shows (no Envoy build is reachable here, so this is the request
 * Envoy would send): the original method and Host, the path after /decisions, and
 * only the allowed headers. The proxy then serves the client's request if the answer
 * is 2xx, with the answer's identity headers: that is what "allowed" and
 * "downstream" mean here. nginx, Traefik and Caddy run for real (realProxy).
 */
export function envoyExtAuthz(gateway: { port: number }, domain: string): EntryPoint {
  const appHost = `app.${domain}`;
  const ep: EntryPoint = {
    key: "decisions:envoy",
    name: "gateway /decisions (Envoy ext_authz, as Envoy would call it)",
    accepts: ["session", "jwt"],
    paths: GATEWAY_PATHS,
    admin: GATEWAY_ADMIN,
    async run(a) {
      const t = targetOf(ep, a);
      const client = clientHeaders(a);
      const allowedHeaders = ["cookie", "authorization", "x-session-token", "x-api-key"];
      const answer = await send(gateway.port, {
        method: t.method,
        target: `/decisions${t.target}`,
        headers: [["Host", appHost], ...client.filter(([n]) => allowedHeaders.includes(n.toLowerCase()))],
      });
      const c = classify(answer);
      const allowed = c.outcome === "allowed";
      return {
        ...c,
        ...(allowed ? { identity: identityFromHeaders((n) => header(answer, n)) } : {}),
        servedProtected: allowed && under(t.target, PROTECTED_AREAS),
        downstream: allowed ? JSON.stringify([...answer.headers]) : "",
        summary: summary(answer),
      };
    },
  };
  return ep;
}

/**
 * A real nginx, Traefik or Caddy running its documented configuration (test/support/proxies.ts)
 * in front of the gateway's /decisions and the echo upstream, which records what
 * reached it. `publicPath` is the route anyone may open: the gateway's anonymous
 * route, reached through the decision ("/public/x"), or the proxy's route without a
 * decision ("/static/x", nginx and Caddy).
 */
export function realProxy(
  proxy: { port: number },
  upstream: { seen: Seen[] },
  domain: string,
  name: string,
  publicPath: string,
): EntryPoint {
  const host = `app.${domain}`;
  const paths: Paths = { public: publicPath, protected: GATEWAY_PATHS.protected };
  const withoutDecision = publicPath !== GATEWAY_PATHS.public;
  const ep: EntryPoint = {
    key: `proxy:${name}${withoutDecision ? ":static" : ""}`,
    name: `${name} in front of /decisions (${withoutDecision ? "a route without a decision" : "the anonymous route"})`,
    accepts: ["session", "jwt"],
    paths,
    admin: GATEWAY_ADMIN,
    async run(a) {
      const t = targetOf(ep, a);
      const id = uniqueId("px");
      const answer = await send(proxy.port, {
        method: t.method,
        target: t.target,
        headers: [["Host", host], ["X-Request-Id", id], ...clientHeaders(a)],
        ...(t.body !== undefined ? { body: t.body } : {}),
      });
      const reached = upstream.seen.filter((s) => s.headers["x-request-id"] === id);
      const c = classify(answer);
      const seen = reached[0];
      const one = (n: string) => {
        const v = seen?.headers[n];
        return Array.isArray(v) ? v.join(", ") : v;
      };
      return {
        ...c,
        ...(c.outcome === "allowed" && seen ? { identity: identityFromHeaders(one) } : {}),
        servedProtected: reached.some((s) => under(s.url, PROTECTED_AREAS)),
        downstream: JSON.stringify(reached.map((s) => ({ method: s.method, url: s.url, headers: s.headers }))),
        summary: summary(answer, `upstream saw ${reached.map((s) => `${s.method} ${s.url}`).join(", ") || "nothing"}`),
      };
    },
  };
  return ep;
}

/** The example API (Express with the guard): GET /v1/me says who the guard let in. */
export function expressApi(port: number, domain: string): EntryPoint {
  const host = `api.${domain}:${port}`;
  const ep: EntryPoint = {
    key: "express",
    name: "example API (Express guard)",
    accepts: ["session", "jwt"],
    paths: { public: "/health/alive", protected: "/v1/me" },
    admin: { method: "POST", path: "/v1/projects", body: JSON.stringify({ name: "attack suite" }) },
    async run(a) {
      const t = targetOf(ep, a);
      const answer = await send(port, {
        method: t.method,
        target: t.target,
        headers: [
          ["Host", host],
          ...clientHeaders(a),
          ...(t.body !== undefined ? ([["Content-Type", "application/json"]] as const) : []),
        ],
        ...(t.body !== undefined ? { body: t.body } : {}),
      });
      const c = classify(answer);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(answer.body) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      // GET /v1/me: {id, email, role, …}; POST /v1/projects: {project: {created_by, …}}.
      const project = body.project as { created_by?: string } | undefined;
      const me = typeof body.id === "string" ? body : undefined;
      const identity: Identity | undefined = me
        ? { subject: String(me.id), email: me.email as string | undefined, role: me.role as string | undefined }
        : project
          ? { subject: project.created_by }
          : undefined;
      const allowed = c.outcome === "allowed";
      return {
        ...c,
        ...(allowed && identity ? { identity } : {}),
        servedProtected: allowed && (me !== undefined || project !== undefined || Array.isArray(body.projects)),
        downstream: allowed ? answer.body : "",
        summary: summary(answer),
      };
    },
  };
  return ep;
}

/**
 * The Next.js app's middleware (the web app of the stack). /dashboard is guarded; the
 * page renders the viewer the middleware's JWT names, so a 200 shows who got in.
 */
export function nextMiddleware(port: number, domain: string): EntryPoint {
  const host = `app.${domain}:${port}`;
  const ep: EntryPoint = {
    key: "next",
    name: "web app (Next.js middleware)",
    accepts: ["session"],
    paths: { public: "/auth/error", protected: "/dashboard" },
    async run(a) {
      const t = targetOf(ep, a);
      const answer = await send(port, {
        method: t.method,
        target: t.target,
        headers: [["Host", host], ...clientHeaders(a)],
        ...(t.body !== undefined ? { body: t.body } : {}),
      });
      const c = classify(answer);
      const email = /data-testid="viewer-email"[^>]*>([^<]*)</.exec(answer.body)?.[1];
      const role = /data-testid="role"[^>]*>([^<]*)</.exec(answer.body)?.[1];
      const allowed = c.outcome === "allowed";
      return {
        ...c,
        ...(allowed && email !== undefined ? { identity: { email, role } } : {}),
        servedProtected: allowed && email !== undefined,
        downstream: allowed ? answer.body : "",
        summary: summary(answer, email ? `viewer ${email}` : ""),
      };
    },
  };
  return ep;
}

// Helpers for the guard's tests: the real test stack (auth-service, Kratos, Redis),
// real signed-in users, and small real HTTP servers (a counting passthrough proxy in
// front of the auth-service, upstream echo servers). Stubs are only used where a
// test needs a dependency to misbehave, and are named as such.
import "./provided-context.ts";
import { createHmac, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { inject } from "vitest";
import { Browser } from "../../../test/support/browser.ts";
import { joinOrganization } from "../../../test/support/invitations.ts";
import {
  PASSWORD,
  registerApi,
  stack,
  startBrowserFlow,
  submitBrowserFlow,
  uniqueEmail,
} from "../../../test/support/kratos.ts";
import type { GuardOptions, GuardRequest } from "../src/index.ts";

export interface StackEnv {
  authUrl: string;
  adminUrl: string;
  adminToken: string;
  redisUrl: string;
  kratosPublic: string;
  kratosBrowser: string;
  domain: string;
  /** The app's host name as browsers see it (allowed as return_to). */
  appHost: string;
}

export function stackEnv(): StackEnv {
  const env = inject("stack");
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`test stack did not provide ${k}`);
    return v;
  };
  const domain = need("GATEHOUSE_DOMAIN");
  return {
    authUrl: need("AUTH_SERVICE_URL"),
    adminUrl: need("AUTH_ADMIN_URL"),
    adminToken: need("ADMIN_API_TOKEN"),
    redisUrl: need("REDIS_URL"),
    kratosPublic: need("KRATOS_PUBLIC_URL"),
    kratosBrowser: need("KRATOS_BROWSER_URL"),
    domain,
    appHost: `app.${domain}`,
  };
}

/** Guard options for the real stack; login goes to Kratos' browser login endpoint. */
export function stackGuardOptions(overrides: Partial<GuardOptions> = {}): GuardOptions {
  const s = stackEnv();
  return {
    authServiceUrl: s.authUrl,
    audience: "gatehouse",
    login: {
      url: `${s.kratosBrowser}/self-service/login/browser`,
      allowedReturnHosts: [s.appHost],
    },
    ...overrides,
  };
}

export interface TestUser {
  email: string;
  identityId: string;
  sessionToken: string;
}

/** A user registered through Kratos' API flow (native app): has a session token. */
export async function newUser(prefix = "guard"): Promise<TestUser> {
  const email = uniqueEmail(prefix);
  const r = await registerApi(stack(), { email, name: { first: "Guard", last: "Test" } });
  if (r.status !== 200 || !r.body.session_token || !r.body.identity)
    throw new Error(`registration failed: ${r.status}`);
  return { email, identityId: r.body.identity.id, sessionToken: r.body.session_token };
}

/** A user registered through Kratos' browser flow: returns the Cookie header a browser sends to the app. */
export async function newBrowserUser(prefix = "guard-browser"): Promise<{ email: string; cookie: string }> {
  const s = stack();
  const b = new Browser();
  const email = uniqueEmail(prefix);
  const { flow } = await startBrowserFlow(b, s, "registration");
  const r = await submitBrowserFlow(b, flow, {
    method: "password",
    password: PASSWORD,
    traits: { email, name: { first: "Browser", last: "User" } },
  });
  if (r.status !== 200) throw new Error(`browser registration failed: ${r.status} ${r.text.slice(0, 200)}`);
  const cookie = await b.jar.getCookieString(`http://app.${s.domain}/`);
  if (!/ory_kratos_session=/.test(cookie)) throw new Error("no Kratos session cookie after registration");
  return { email, cookie };
}

async function authCall(path: string, init: { token?: string; json?: unknown; method?: string } = {}) {
  const s = stackEnv();
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token) headers["x-session-token"] = init.token;
  const r = await fetch(`${s.authUrl}${path}`, {
    method: init.method ?? "POST",
    headers,
    body: JSON.stringify(init.json ?? {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** A Gatehouse JWT for the user, straight from the auth-service. */
export async function exchangeToken(user: TestUser): Promise<string> {
  const r = await authCall("/v1/token", { token: user.sessionToken });
  if (r.status !== 200) throw new Error(`token exchange failed: ${r.status}`);
  return r.body.access_token as string;
}

/** Makes the user owner of a new organization; returns its id. */
export async function onboard(user: TestUser, name = "Guarded Inc"): Promise<string> {
  const r = await authCall("/v1/onboarding", { token: user.sessionToken, json: { name } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`onboarding failed: ${r.status}`);
  return (r.body.organization as { id: string }).id;
}

/** Makes `member` a member of the organization: the owner invites them, they accept. */
export async function addMember(owner: TestUser, orgId: string, member: TestUser, role: "admin" | "member") {
  const s = stackEnv();
  await joinOrganization({ authUrl: s.authUrl, kratosAdmin: stack().kratosAdmin }, owner, orgId, member, role);
}

export async function revokeSession(sessionId: string): Promise<void> {
  const s = stackEnv();
  const r = await fetch(`${s.adminUrl}/admin/sessions/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ session_id: sessionId }),
  });
  if (r.status !== 200) throw new Error(`revoke failed: ${r.status} ${await r.text()}`);
}

/** A request as the guard sees it. */
export function req(url: string, headers: Record<string, string> = {}, method = "GET"): GuardRequest {
  return { method, url, headers: new Headers(headers) };
}

export const BROWSER_NAV = {
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "sec-fetch-mode": "navigate",
  "sec-fetch-dest": "document",
};

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<RunningServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await listen(() => {});
  await s.close();
  return s.port;
}

export interface CountingProxy extends RunningServer {
  /** Requests seen, as "METHOD /path". */
  seen: string[];
  count(pathPrefix?: string): number;
  reset(): void;
  /** "pass" forwards; "fail" answers 503 itself (the real service stays up behind it). */
  mode: "pass" | "fail";
}

/**
 * A real passthrough proxy in front of the auth-service that counts what reaches
 * it: pointing a guard at it shows exactly how many upstream calls a scenario costs.
 */
export async function countingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const state = { seen: [] as string[], mode: "pass" as "pass" | "fail" };
  const running = await listen((req, res) => {
    state.seen.push(`${req.method} ${req.url}`);
    if (state.mode === "fail") {
      res.writeHead(503, { "content-type": "text/plain" }).end("down");
      return;
    }
    const upstream = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  // Accessors, not Object.assign (which would copy the getters' current values).
  return Object.defineProperties(running, {
    seen: { get: () => state.seen },
    count: { value: (prefix = "") => state.seen.filter((s) => s.split(" ")[1]?.startsWith(prefix)).length },
    reset: {
      value: () => {
        state.seen.length = 0;
      },
    },
    mode: {
      get: () => state.mode,
      set: (m: "pass" | "fail") => {
        state.mode = m;
      },
    },
  }) as CountingProxy;
}

// --- JWT forging (node:crypto, so nothing from the code under test is involved) ---

export const b64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

/** Signs a compact JWS by hand: any header, any payload, RS256/ES256/HS256/none. */
export function signJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject | Buffer | string | undefined,
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const alg = header.alg;
  if (String(alg).toLowerCase() === "none") return `${input}.`;
  if (alg === "HS256")
    return `${input}.${createHmac("sha256", key as Buffer | string)
      .update(input)
      .digest("base64url")}`;
  if (alg === "RS256") return `${input}.${sign("sha256", Buffer.from(input), key as KeyObject).toString("base64url")}`;
  if (alg === "ES256") {
    return `${input}.${sign("sha256", Buffer.from(input), { key: key as KeyObject, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
  }
  throw new Error(`signJws: unsupported alg ${String(alg)}`);
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h ?? "", "base64url").toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p ?? "", "base64url").toString()) as Record<string, unknown>,
  };
}

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export function rsaKey(kid: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" } };
}

/** Claims the way the auth-service mints them. */
export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "http://stub-issuer.test",
    aud: "gatehouse",
    sub: "11111111-1111-4111-8111-111111111111",
    sid: "22222222-2222-4222-8222-222222222222",
    jti: b64url(String(Math.random())),
    iat: now,
    nbf: now,
    exp: now + 300,
    ver: 1,
    email: "stub@example.org",
    email_verified: true,
    teams: [],
    perms: [],
    aal: "aal1",
    amr: ["password"],
    ...overrides,
  };
}

/**
 * Sends a raw HTTP/1.1 request, header lines exactly as given (duplicates and odd
 * spellings included, which fetch and http.request would normalise away).
 */
export async function rawRequest(
  port: number,
  requestLine: string,
  headerLines: string[],
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { connect } = await import("node:net");
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      socket.write(
        `${requestLine}\r\n${[`Host: 127.0.0.1:${port}`, ...headerLines, "Connection: close"].join("\r\n")}\r\n\r\n`,
      );
    });
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", ...rest] = data.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = rest.join("\r\n\r\n");
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        let out = "";
        let rem = body;
        for (;;) {
          const nl = rem.indexOf("\r\n");
          const size = Number.parseInt(rem.slice(0, nl), 16);
          if (!size) break;
          out += rem.slice(nl + 2, nl + 2 + size);
          rem = rem.slice(nl + 2 + size + 2);
        }
        body = out;
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
  });
}

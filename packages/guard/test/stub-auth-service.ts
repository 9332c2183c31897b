// A STUB auth-service for fault injection and for what the real one cannot do yet
// (API keys): it serves a JWKS and POST /v1/token like the real service, but answers
// whatever the test sets `mode` to (500, 429 with Retry-After, never, …). Tokens it
// mints are signed with its own RSA key, published in its JWKS.
import type { IncomingHttpHeaders } from "node:http";
import { claims, listen, type RunningServer, rsaKey, signJws, type TestKey } from "./support.ts";

export type StubMode = "ok" | "500" | "502" | "503" | "503-retry" | "429" | "hang" | "html-200" | "403-aal";

export interface StubAuthService extends RunningServer {
  key: TestKey;
  /** The stub's URL: its tokens' issuer. */
  issuer: string;
  mode: StubMode;
  jwksDown: boolean;
  /** Headers and body of every POST /v1/token. */
  tokenRequests: { headers: IncomingHttpHeaders; body: string }[];
  jwksRequests: number;
  /** Credential (session token, cookie value or API key) → claims to mint for it. */
  accounts: Map<string, Record<string, unknown>>;
  /** A token signed with the stub's trusted key. */
  mint(overrides?: Record<string, unknown>, header?: Record<string, unknown>): string;
}

function credentialOf(h: IncomingHttpHeaders): string | undefined {
  const auth = h.authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) return auth.slice(7);
  const token = h["x-session-token"];
  if (typeof token === "string") return token;
  const cookie = h.cookie;
  if (typeof cookie === "string") return /ory_kratos_session=([^;]+)/.exec(cookie)?.[1];
  return undefined;
}

export async function startStubAuthService(): Promise<StubAuthService> {
  const key = rsaKey("stub-key-1");
  const state = {
    mode: "ok" as StubMode,
    jwksDown: false,
    tokenRequests: [] as { headers: IncomingHttpHeaders; body: string }[],
    jwksRequests: 0,
    accounts: new Map<string, Record<string, unknown>>(),
  };
  let issuer = "";
  const mint = (overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    signJws(
      { alg: "RS256", kid: key.kid, typ: "at+jwt", ...header },
      claims({ iss: issuer, ...overrides }),
      key.privateKey,
    );

  const running = await listen((req, res) => {
    if (req.method === "GET" && req.url === "/.well-known/jwks.json") {
      state.jwksRequests++;
      if (state.jwksDown) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [key.publicJwk] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/token") {
      res.writeHead(404).end();
      return;
    }
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      state.tokenRequests.push({ headers: req.headers, body });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));
      switch (state.mode) {
        case "hang":
          return; // never answers; the socket stays open until the test closes the server
        case "500":
        case "502":
        case "503":
          json(Number(state.mode), { error: "dependency_unavailable" });
          return;
        case "503-retry":
          json(503, { error: "dependency_unavailable" }, { "retry-after": "7" });
          return;
        case "429":
          json(429, { error: "rate_limited" }, { "retry-after": "12" });
          return;
        case "html-200":
          res.writeHead(200, { "content-type": "text/html" }).end("<html>maintenance</html>");
          return;
        case "403-aal":
          json(403, { error: "aal2_required", message: "this session needs a second factor" });
          return;
        case "ok": {
          const cred = credentialOf(req.headers);
          const account = cred === undefined ? undefined : state.accounts.get(cred);
          if (account === undefined) {
            json(401, { error: "unauthenticated", message: "no valid session" });
            return;
          }
          json(200, { access_token: mint(account), token_type: "Bearer", expires_in: 300 });
          return;
        }
      }
    });
  });
  issuer = running.url;
  return Object.defineProperties(running, {
    key: { value: key },
    issuer: { value: issuer },
    mint: { value: mint },
    mode: {
      get: () => state.mode,
      set: (m: StubMode) => {
        state.mode = m;
      },
    },
    jwksDown: {
      get: () => state.jwksDown,
      set: (v: boolean) => {
        state.jwksDown = v;
      },
    },
    tokenRequests: { get: () => state.tokenRequests },
    jwksRequests: { get: () => state.jwksRequests },
    accounts: { get: () => state.accounts },
  }) as StubAuthService;
}

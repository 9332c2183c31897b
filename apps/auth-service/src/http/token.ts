// POST /v1/token: the request handling in front of the exchange (../exchange/).
//
// issueToken() is the endpoint: which credential, the cross-site check, the body,
// then the exchange. tokenDoor() is its only front door. Every guard and frontend
// calls this endpoint, mostly with a warm cache, and through Express's router and
// request/response objects a warm exchange cost ~2.4× the CPU of this door
// (bench/README.md), so the door sits on plain node:http in front of the Express app
// (public.ts) and does what that app does before a route: the request id, the access
// log and metrics, helmet's headers, the same cors and JSON-body middleware instances.
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { parse as parseQuery } from "node:querystring";
import { requestIdFrom } from "@gatehouse/contracts";
import type { App } from "../app.ts";
import {
  apiKeyFrom,
  assertAllowedOrigin,
  credentialDigestOf,
  sessionCredential,
  type WithHeaders,
} from "./credentials.ts";
import { ApiError, failure, writeError } from "./errors.ts";
import { hasBody, type Middleware, whenFinished } from "./middleware.ts";
import { type RateLimiter, takeForCaller } from "./rate-limit.ts";
import { REQUEST } from "./routes.ts";
import { parseValue } from "./validate.ts";

// Built once (routes.ts): schema construction showed up as ~15% of CPU on the warm token path.
const TOKEN_BODY = REQUEST.token;

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
}

/**
 * The endpoint: an API key, or a Kratos session (cookie or X-Session-Token) for the
 * organization named in the body or the query (default: the caller's first one).
 * Throws ApiError (or what the exchange throws; toApiError maps it).
 */
export async function issueToken(
  app: App,
  allowedOrigins: ReadonlySet<string>,
  limiter: RateLimiter,
  req: WithHeaders & { body: unknown; queryOrganization: unknown; clientAddress: string | undefined },
): Promise<TokenResponse> {
  const body = parseValue(TOKEN_BODY, req.body);
  const apiKey = apiKeyFrom(req);
  const cred = sessionCredential(req, app.cfg.kratos.cookieName);
  takeForCaller(limiter, {
    credentialDigest: credentialDigestOf(apiKey, cred),
    clientAddress: req.clientAddress,
  });
  if (apiKey !== undefined) {
    if (cred) throw new ApiError("bad_request", "send either an API key or a session, not both");
    if (body.organization_id)
      throw new ApiError("bad_request", "an API key is bound to its organization; organization_id is not accepted");
    const out = await app.apiKeys.exchange(apiKey);
    return { access_token: out.accessToken, token_type: "Bearer", expires_in: out.expiresIn };
  }
  if (!cred) throw new ApiError("unauthenticated", "send the Kratos session cookie or X-Session-Token");
  if (cred.kind === "cookie") assertAllowedOrigin(req, allowedOrigins);
  const orgId = body.organization_id ?? (typeof req.queryOrganization === "string" ? req.queryOrganization : undefined);
  const out = await app.exchange.exchange(cred, orgId);
  return { access_token: out.accessToken, token_type: "Bearer", expires_in: out.expiresIn };
}

export interface TokenDoorDeps {
  app: App;
  allowedOrigins: ReadonlySet<string>;
  limiter: RateLimiter;
  /** The headers helmet sets on every answer (fixedHeaders), sent by the door without running helmet each time. */
  security: readonly (readonly [string, string])[];
  /** The Express app's cors middleware (the same instance): its headers for an allowed Origin. */
  cors: Middleware;
  /** The Express app's JSON-body middleware (jsonBody), for the bodies readJson leaves to it. */
  body: readonly Middleware[];
  /** The end client (see endClient in rate-limit.ts). */
  clientAddress: (req: IncomingMessage) => string | undefined;
}

/** Whether Express would route the request to POST /v1/token: paths match in any case, with an optional trailing slash. */
export function isTokenRequest(req: IncomingMessage): boolean {
  if (req.method !== "POST") return false;
  const url = req.url ?? "";
  const q = url.indexOf("?");
  return /^\/v1\/token\/?$/i.test(q === -1 ? url : url.slice(0, q));
}

/** JSON in UTF-8, uncompressed: what readJson reads; anything else goes to the body middleware. */
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;

/**
 * The handler of every POST /v1/token (isTokenRequest). Two shortcuts, each kept
 * because an A/B showed it matters (bench/README.md): helmet's headers are computed
 * once and every header of an answer goes out in one writeHead; a plain JSON body is
 * read by readJson, other bodies by the Express app's body-parser.
 */
export function tokenDoor(deps: TokenDoorDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { app, limiter, allowedOrigins } = deps;
  const security = deps.security.flat();
  const logWhenFinished = whenFinished(app.log, app.metrics, "public");

  /** A plain JSON body by readJson, any other through the Express app's body middleware. */
  function readBody(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<unknown> {
    const encoding = req.headers["content-encoding"];
    const plain = encoding === undefined || encoding.toLowerCase() === "identity";
    if (plain && PLAIN_JSON.test(req.headers["content-type"] ?? "")) return readJson(req, app.cfg.bodyLimitBytes);
    return runAll(deps.body, req, res).then(() => req.body);
  }

  async function answer(req: IncomingMessage, res: ServerResponse, headers: string[]): Promise<void> {
    const body = hasBody(req.headers) ? await readBody(req, res) : undefined;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const out = await issueToken(app, allowedOrigins, limiter, {
      headers: req.headers,
      body,
      queryOrganization: q === -1 ? undefined : parseQuery(url.slice(q + 1)).organization_id,
      clientAddress: deps.clientAddress(req),
    });
    const text = JSON.stringify(out);
    headers.push(
      "Cache-Control",
      "no-store",
      "Content-Type",
      "application/json; charset=utf-8",
      "Content-Length",
      String(Buffer.byteLength(text)),
    );
    res.writeHead(200, headers);
    res.end(text);
  }

  return (req, res) => {
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    const headers = ["X-Request-Id", requestId, ...security];
    logWhenFinished(res, { method: "POST", path: "/v1/token", requestId: () => requestId, route: () => "/v1/token" });
    const fail = (e: unknown) => {
      const err = failure(app.log, e, requestId);
      if (res.headersSent) return res.end();
      for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(headers[i] as string, headers[i + 1] as string);
      writeError(res, err, requestId);
    };
    try {
      runNow(deps.cors, req, res);
    } catch (e) {
      return fail(e);
    }
    answer(req, res, headers).catch(fail);
  };
}

/** Runs middleware in order; resolves when the last calls next(), rejects with an error one passes (falsy: none). */
async function runAll(mws: readonly Middleware[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const mw of mws) await new Promise<void>((ok, fail) => mw(req, res, (e) => (e ? fail(e) : ok())));
}

/** Runs a middleware that finishes synchronously (helmet, cors); throws what it passes to next(). */
function runNow(mw: Middleware, req: IncomingMessage, res: ServerResponse): void {
  let done = false;
  let error: unknown;
  mw(req, res, (e) => {
    done = true;
    error = e;
  });
  if (error) throw error;
  if (!done) throw new Error("the middleware did not finish synchronously");
}

/**
 * The headers a middleware sets on every answer whatever the request (helmet: none of
 * its headers depends on one), from one run on a real response that is never sent.
 */
export function fixedHeaders(mw: Middleware): [string, string][] {
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  runNow(mw, req, res);
  return Object.entries(res.getHeaders()).map(([name, v]) => [name, Array.isArray(v) ? v.join(", ") : String(v)]);
}

/**
 * Reads and parses a JSON body as express.json({strict: true}) does: at most `limit`
 * bytes (413 past it, also when Content-Length says so up front), an object or an
 * array at the top (400 otherwise), an empty body reads as {}.
 */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new ApiError("payload_too_large", "request body too large"));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (e: ApiError) => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.resume(); // drain the rest so the connection can be reused
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(new ApiError("payload_too_large", "request body too large"));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8").trim();
      if (text === "" || text === "{}") return resolve({});
      if (text[0] !== "{" && text[0] !== "[") {
        return reject(new ApiError("invalid_json", "request body is not valid JSON"));
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ApiError("invalid_json", "request body is not valid JSON"));
      }
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", () => fail(new ApiError("bad_request", "request aborted")));
  });
}

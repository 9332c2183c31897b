// POST /v1/token: the request handling in front of the exchange (../exchange/).
//
// issueToken() is the endpoint itself: which credential, the cross-site check,
// the body, then the exchange. Two front doors call it:
//  - tokenLane(), on plain node:http, takes every ordinary request. Every guard and
//    frontend calls this endpoint, mostly with a warm cache; through Express and
//    its middleware a warm request cost ~4× the CPU of an Express hello-world
//    (bench/README.md). The lane runs the same steps as that middleware, without
//    the framework: the request id, the access log and metrics (the same
//    functions), helmet's headers (captured from helmet once), the headers the
//    cors middleware sends on a non-preflight request, the JSON body; the rate
//    limit is issueToken's own. test/token-endpoint.test.ts holds the two doors to
//    the same answers and headers.
//  - the Express route (public.ts) takes what the lane leaves: other spellings of the
//    path (/v1/token/, /V1/TOKEN), compressed bodies, other charsets, a body without
//    a content type. Express' own parsing answers those as it always did.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { requestIdFrom } from "@gatehouse/contracts";
import { z } from "zod";
import type { App } from "../app.ts";
import {
  apiKeyFrom,
  assertAllowedOrigin,
  credentialDigestOf,
  sessionCredential,
  type WithHeaders,
} from "./credentials.ts";
import { ApiError, failure, writeError } from "./errors.ts";
import { hasBody, whenFinished } from "./middleware.ts";
import { type RateLimiter, takeForCaller } from "./rate-limit.ts";
import { parseValue } from "./validate.ts";

// Built once: schema construction showed up as ~15% of CPU on the warm token path.
const TOKEN_BODY = z.object({ organization_id: z.string().uuid().optional() }).strict();

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

/** JSON in UTF-8, as the lane reads it: no parameter but an optional utf-8 charset. */
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;

export interface TokenLaneDeps {
  app: App;
  allowedOrigins: ReadonlySet<string>;
  limiter: RateLimiter;
  /** Response headers helmet sets on every response (see staticHeaders). */
  securityHeaders: readonly (readonly [string, string])[];
  /** The end client (see endClient in rate-limit.ts). */
  clientAddress: (req: IncomingMessage) => string | undefined;
}

/** Returns a handler that answers the request and returns true, or returns false to leave it to Express. */
export function tokenLane(deps: TokenLaneDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { app, limiter, allowedOrigins } = deps;
  const limit = app.cfg.bodyLimitBytes;
  const security = deps.securityHeaders.flat();
  const logWhenFinished = whenFinished(app.log, app.metrics, "public");

  /** Every answer's headers: request id, helmet's, and what the cors middleware sends for a non-preflight request. */
  function commonHeaders(req: IncomingMessage, requestId: string): string[] {
    const headers = ["X-Request-Id", requestId, ...security];
    // cors({origin: allowlist, credentials: true}): an allowed Origin is echoed with
    // credentials; any other Origin (or none) gets no CORS header at all.
    const origin = req.headers.origin;
    if (origin !== undefined && allowedOrigins.has(origin)) {
      headers.push("Access-Control-Allow-Origin", origin, "Vary", "Origin", "Access-Control-Allow-Credentials", "true");
    }
    return headers;
  }

  async function run(req: IncomingMessage, res: ServerResponse, query: string, headers: string[]): Promise<void> {
    let body: unknown;
    if (hasBody(req.headers)) body = await readJson(req, limit);
    const queryOrganization = query === "" ? undefined : parseQuery(query).organization_id;
    const out = await issueToken(app, allowedOrigins, limiter, {
      headers: req.headers,
      body,
      queryOrganization,
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
    // One writeHead with every header: cheaper than a setHeader per header.
    res.writeHead(200, headers);
    res.end(text);
  }

  return (req, res) => {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== "/v1/token") return false;
    const encoding = req.headers["content-encoding"];
    if (encoding !== undefined && encoding.toLowerCase() !== "identity") return false;
    const type = req.headers["content-type"];
    if (type === undefined ? hasBody(req.headers) : !PLAIN_JSON.test(type)) return false;

    const requestId = requestIdFrom(req.headers["x-request-id"]);
    logWhenFinished(res, {
      method: "POST",
      path,
      requestId: () => requestId,
      route: () => "/v1/token",
    });
    const headers = commonHeaders(req, requestId);
    run(req, res, q === -1 ? "" : url.slice(q + 1), headers).catch((e: unknown) => {
      const err = failure(app.log, e, requestId);
      if (res.headersSent) {
        res.end();
        return;
      }
      for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(headers[i] as string, headers[i + 1] as string);
      writeError(res, err, requestId);
    });
    return true;
  };
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

/** The headers a header-only middleware (helmet) sets, captured once by running it against a recorder. */
export function staticHeaders(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
): [string, string][] {
  const headers = new Map<string, string>();
  let done = false;
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name, Array.isArray(value) ? value.join(", ") : String(value));
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name);
    },
    getHeader(name: string) {
      return headers.get(name);
    },
  };
  middleware(
    { headers: {}, method: "GET", url: "/" } as unknown as IncomingMessage,
    recorder as unknown as ServerResponse,
    (err) => {
      if (err !== undefined) throw err;
      done = true;
    },
  );
  if (!done) throw new Error("the middleware did not finish synchronously; its headers cannot be captured");
  return [...headers];
}

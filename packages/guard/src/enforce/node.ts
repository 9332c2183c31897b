// Where access is enforced on node:http (the gateway, the Express and the proxy
// entries): decide → answer a refusal, or rewrite the request for what comes next
// (its headers and rawHeaders alike) and hand it on.
//
//   enforce(guard, exchange, request, access, allowed)
//     guard.decide(request, access.rule)          core/guard.ts: extract → authenticate → authorize
//     refusal  → sendAnswer(res, answerOf(…))    answer.ts: the one error body, WWW-Authenticate, request id
//     allowed  → forwardHeaders(req.rawHeaders, access.forward, …)
//                                                 forward.ts: the one header strip/add
//                → applied to req (headers and rawHeaders), unless the exchange builds
//                  its upstream request itself from the list (the gateway)
//                → allowed(exchange, decision, headers)
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { ErrorCode } from "@gatehouse/contracts";
import type { CompiledRule } from "../core/authorize.ts";
import type { Guard } from "../core/guard.ts";
import type { AllowDecision, Decision, GuardRequest } from "../core/types.ts";
import { type Answer, answerOf, errorAnswer, requestIdFrom } from "./answer.ts";
import { type Forwarding, forwardHeaders, type Stated } from "./forward.ts";

/** A route's (or a middleware's) compiled access: who may pass, and what goes on with them. */
export interface Access {
  readonly rule: CompiledRule;
  readonly forward: Forwarding;
}

/** One request being enforced. Entry points extend it with what their `allowed` step needs. */
export interface Exchange extends Stated {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * The entry point sends the rewritten header list itself (a proxy building its own
   * upstream request): `req` is left as it came. Otherwise (a middleware handing `req` on)
   * the rewrite is applied to req.headers and req.rawHeaders alike.
   */
  readonly buildsUpstream?: boolean;
  /** Sees every decision (metrics); optional. */
  onDecision?(decision: Decision): void;
}

/** What an entry point does with an allowed request; `headers` is what goes on (flat list). */
export type Allowed<E extends Exchange> = (
  e: E,
  decision: AllowDecision,
  headers: readonly string[],
) => void | Promise<void>;

/**
 * Decides about `request` (the GuardRequest for `e.req`) under `access`: a refusal is
 * answered on `e.res`; an allowed request is rewritten in place (access.forward) and
 * handed to `allowed`. Synchronous for a cached credential; a promise otherwise.
 * Throws (or rejects) only on a bug: the caller turns that into its 500.
 */
export function enforce<E extends Exchange>(
  guard: Pick<Guard, "decide" | "cookieName">,
  e: E,
  request: GuardRequest,
  access: Access,
  allowed: Allowed<E>,
): void | Promise<void> {
  const decided = guard.decide(request, access.rule);
  if (decided instanceof Promise) return decided.then((d) => settle(guard.cookieName, e, access, allowed, d));
  return settle(guard.cookieName, e, access, allowed, decided);
}

function settle<E extends Exchange>(
  cookieName: string,
  e: E,
  access: Access,
  allowed: Allowed<E>,
  decision: Decision,
): void | Promise<void> {
  e.onDecision?.(decision);
  if (decision.kind !== "allow") return respond(e.req, e.res, decision, e.requestId);
  const headers = forwardHeaders(e.req.rawHeaders, access.forward, decision, cookieName, e);
  if (e.buildsUpstream !== true) applyHeaders(e.req, headers);
  return allowed(e, decision, headers);
}

/** The request's X-Request-Id when sane, else a fresh one (answer.ts). */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return requestIdFrom(typeof given === "string" ? given : undefined);
}

/** Writes a deny or redirect decision. */
export function respond(
  req: IncomingMessage,
  res: ServerResponse,
  decision: Exclude<Decision, { kind: "allow" }>,
  requestId: string = requestIdOf(req),
): void {
  sendAnswer(res, answerOf(decision, requestId), req.method === "HEAD");
}

/** An entry point's own refusal (no route, a bad path, an upstream down), as the guard's look. */
export function sendError(
  res: ServerResponse,
  status: number,
  error: ErrorCode,
  message: string,
  requestId: string,
  retryAfterSec?: number,
): void {
  sendAnswer(res, errorAnswer(status, error, message, requestId, retryAfterSec), res.req?.method === "HEAD");
}

/** Writes an answer; a response already under way cannot take one, so its socket is closed. */
export function sendAnswer(res: ServerResponse, answer: Answer, head = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = answer.body;
  if (body === undefined) res.writeHead(answer.status, answer.headers).end();
  else {
    res.writeHead(answer.status, { ...answer.headers, "content-length": String(Buffer.byteLength(body)) });
    res.end(head ? undefined : body);
  }
}

/**
 * Gives a request the headers a rewrite (forward.ts) produced, in both of Node's views:
 * rawHeaders (names as sent, duplicates kept) and headers (merged).
 */
function applyHeaders(req: IncomingMessage, raw: readonly string[]): void {
  if (raw === req.rawHeaders) return;
  // rawHeaders is a plain own property, headers an accessor with a setter: both replaced.
  req.rawHeaders = raw as string[];
  req.headers = mergeHeaders(raw);
}

// Node discards duplicates of these (its documented message.headers rules).
const SINGLE = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

/** A flat header list merged as Node merges a request's: cookies with "; ", others with ", ", set-cookie a list. */
function mergeHeaders(raw: readonly string[]): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const prev = out[name];
    if (prev === undefined) out[name] = name === "set-cookie" ? [value] : value;
    else if (name === "set-cookie") (prev as string[]).push(value);
    else if (!SINGLE.has(name)) out[name] = `${prev}${name === "cookie" ? "; " : ", "}${value}`;
  }
  return out;
}

// --- the request as the guard reads it -------------------------------------------------

/**
 * Headers as the guard reads them. Built from rawHeaders because Node's req.headers
 * silently keeps only the first Authorization of several; here duplicates are
 * joined with ", " (as the Web Headers class does) and so detectable. Cookies are
 * joined with "; " (HTTP/2 sends one header per cookie).
 */
class RawHeaders {
  // A class, not an object literal with closures: built on every guarded request.
  readonly #req: IncomingMessage;
  constructor(req: IncomingMessage) {
    this.#req = req;
  }
  get(name: string): string | null {
    const lower = name.toLowerCase();
    // Node lists every header it received in req.headers: absent there, absent.
    // Only a present one is looked up in rawHeaders, where duplicates survive.
    if (this.#req.headers[lower] === undefined) return null;
    const raw = this.#req.rawHeaders;
    let joined: string | null = null;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const n = raw[i] as string;
      if (n.length !== lower.length || n.toLowerCase() !== lower) continue;
      const v = raw[i + 1] as string;
      joined = joined === null ? v : `${joined}${lower === "cookie" ? "; " : ", "}${v}`;
    }
    return joined;
  }
}

class NodeGuardRequest implements GuardRequest {
  readonly method: string;
  readonly headers: GuardRequest["headers"];
  #url: string | undefined;
  readonly #urlOf: () => string;
  readonly #req: IncomingMessage;
  readonly #clientOf: ((req: IncomingMessage) => string | undefined) | undefined;
  constructor(
    req: IncomingMessage,
    urlOf: () => string,
    method: string,
    clientOf: ((req: IncomingMessage) => string | undefined) | undefined,
  ) {
    this.method = method;
    this.headers = new RawHeaders(req);
    this.#urlOf = urlOf;
    this.#req = req;
    this.#clientOf = clientOf;
  }
  get url(): string {
    this.#url ??= this.#urlOf();
    return this.#url;
  }
  /** Read only for an exchange (a cache miss), so the trusted-proxy parsing is not paid per request. */
  get clientAddress(): string | undefined {
    return this.#clientOf ? this.#clientOf(this.#req) : this.#req.socket.remoteAddress;
  }
}

/**
 * The GuardRequest for a Node request. The absolute URL is only needed to build a
 * login redirect's return_to, so it is computed when read, not on every request.
 * `method` is the request's own unless given (forward-auth decides about the
 * original request a proxy describes). `clientOf` names the end client (default: the
 * socket's peer); an entry point behind trusted proxies passes its own resolution.
 */
export function nodeRequest(
  req: IncomingMessage,
  urlOf: () => string,
  method: string = req.method ?? "GET",
  clientOf?: (req: IncomingMessage) => string | undefined,
): GuardRequest {
  return new NodeGuardRequest(req, urlOf, method, clientOf);
}

/** Absolute URL of the request; never throws (an unusable Host becomes "localhost"). */
export function absoluteUrl(protocol: string, host: string | undefined, path: string): string {
  const p = path.startsWith("/") ? path : `/${path}`;
  try {
    return new URL(`${protocol}://${host ?? "localhost"}${p}`).href;
  } catch {
    return new URL(`${protocol}://localhost/`).href;
  }
}

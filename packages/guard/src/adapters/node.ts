// Node http plumbing shared by the Express and proxy adapters: reading headers so
// that duplicates stay visible, and editing a request's headers in place (both
// req.headers and req.rawHeaders, since downstream code may read either).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Guard } from "../core/guard.ts";
import { isIdentityHeader } from "../core/mutate.ts";
import type { Decision, GuardRequest, Rule } from "../core/types.ts";
import { denyBody, denyHeaders, redirectHeaders, requestIdFrom } from "./respond.ts";

export {
  connectionListed,
  isClientAddressHeader,
  isHopByHopHeader,
  isRoutingOverrideHeader,
  type UntrustedKind,
  untrustedKind,
} from "../core/untrusted.ts";

/**
 * Headers as the guard reads them. Built from rawHeaders because Node's req.headers
 * silently keeps only the first Authorization of several; here duplicates are
 * joined with ", " (as the Web Headers class does) and so detectable. Cookies are
 * joined with "; " (HTTP/2 sends one header per cookie).
 */
export function guardHeaders(req: IncomingMessage): GuardRequest["headers"] {
  return new RawHeaders(req);
}

// Classes, not object literals with closures and a getter: built once per request,
// on every guarded request, and an accessor literal was measurably slower to create.
class RawHeaders {
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
export function guardRequest(
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

/** Deletes headers matching `drop` from req.headers and req.rawHeaders. */
export function deleteHeaders(req: IncomingMessage, drop: (lowerName: string) => boolean): void {
  let any = false;
  for (const name of Object.keys(req.headers)) {
    if (drop(name.toLowerCase())) {
      delete req.headers[name];
      any = true;
    }
  }
  // req.headers has every name rawHeaders has (lower-cased): nothing dropped there, nothing to drop here.
  if (!any) return;
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!drop((raw[i] ?? "").toLowerCase())) kept.push(raw[i] ?? "", raw[i + 1] ?? "");
  }
  // rawHeaders is a plain own property; replacing it keeps the two views in agreement.
  if (kept.length !== raw.length) req.rawHeaders = kept;
}

/** Sets (replacing every existing spelling of) a header on the incoming request. */
export function setHeader(req: IncomingMessage, name: string, value: string): void {
  const lower = name.toLowerCase();
  deleteHeaders(req, (n) => n === lower);
  req.headers[lower] = value;
  req.rawHeaders.push(name, value);
}

/** Client-sent identity headers never get past the guard, whatever the decision. */
export function stripIdentityHeaders(req: IncomingMessage): void {
  // Almost no request carries one: look through rawHeaders (a plain array, every
  // name as sent; isIdentityHeader ignores case and remembers its answers) and edit
  // only when there is something to drop.
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (isIdentityHeader(raw[i] as string)) {
      deleteHeaders(req, isIdentityHeader);
      return;
    }
  }
}

/**
 * Runs guard.decide() and hands the decision on: at once when the credential was
 * cached (no promise, no microtask), when settled otherwise. A failure (a bug or an
 * invalid rule) goes to `fail`. The request, response and `next` are passed
 * through to module-level handlers, so the hot path creates no closures.
 */
export function whenDecided<Q, S, N>(
  guard: Pick<Guard, "decide">,
  request: GuardRequest,
  rule: Rule,
  req: Q,
  res: S,
  next: N,
  then: (req: Q, res: S, next: N, decision: Decision) => void,
  fail: (req: Q, res: S, next: N, error: unknown) => void,
): void {
  let decision: Decision | Promise<Decision>;
  try {
    decision = guard.decide(request, rule);
  } catch (error) {
    fail(req, res, next, error);
    return;
  }
  if (decision instanceof Promise)
    decision.then(
      (d) => then(req, res, next, d),
      (error: unknown) => fail(req, res, next, error),
    );
  else then(req, res, next, decision);
}

/** Writes a deny or redirect decision. */
export function sendDecision(
  req: IncomingMessage,
  res: ServerResponse,
  decision: Exclude<Decision, { kind: "allow" }>,
): void {
  if (decision.kind === "redirect") {
    res.writeHead(decision.status, redirectHeaders(decision));
    res.end();
    return;
  }
  const header = req.headers["x-request-id"];
  const requestId = requestIdFrom(Array.isArray(header) ? undefined : header);
  const body = denyBody(decision, requestId);
  res.writeHead(decision.status, { ...denyHeaders(decision, requestId), "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

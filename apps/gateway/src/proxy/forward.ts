// Sending a request on to an upstream and its answer back, on node:http, for the
// gateway's routes and its Kratos passthrough. No request, however malformed, may
// end the process: everything that can throw (writing headers Node refuses, a
// socket that dies mid-body on either side) is caught here and becomes a 502/504
// for that one request, or a closed socket when the answer had already started.
//
// Framing is ours on both sides. Hop-by-hop headers (RFC 9110 §7.6.1: Connection
// and what it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade…) are
// never copied: forwarded, `Trailer` on an unchunked message made Node throw from
// inside a pipe (outside any handler), and a chunked body relayed without its
// framing would let a client smuggle a second request to the upstream. A body is
// sent with the length Node validated, or re-chunked.
import {
  type Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import { pipeline } from "node:stream";
import { errorBody } from "@gatehouse/contracts";
import { connectionListed, isHopByHopHeader } from "@gatehouse/guard/node";
import { withTraceHeaders } from "@gatehouse/observability/trace-context";

export type UpstreamFailure = "timeout" | "unreachable" | "aborted";

export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  readonly kind: UpstreamFailure;
  /** Failed on a reused keep-alive socket before any answer: safe to send again. */
  readonly staleSocket: boolean;
  constructor(kind: UpstreamFailure, message: string, options?: { cause?: unknown; staleSocket?: boolean }) {
    super(message, options);
    this.kind = kind;
    this.staleSocket = options?.staleSocket ?? false;
  }
}

/**
 * A message's headers as a flat [name, value, …] list for the next hop: `raw` (its
 * rawHeaders, duplicates and spelling kept, unless the caller rewrote them) minus
 * hop-by-hop ones and those its Connection header names; `edit` returns the value to
 * send, or undefined to drop.
 */
export function forwardableHeaders(
  message: Pick<IncomingMessage, "rawHeaders" | "headers">,
  edit?: (name: string, value: string) => string | undefined,
  raw: readonly string[] = message.rawHeaders,
): string[] {
  const connection = message.headers.connection;
  const listed = connectionListed(Array.isArray(connection) ? connection.join(",") : connection);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHopHeader(name)) continue;
    if (listed.size > 0 && listed.has(name.toLowerCase())) continue;
    const value = edit === undefined ? (raw[i + 1] as string) : edit(name, raw[i + 1] as string);
    if (value !== undefined) out.push(name, value);
  }
  return out;
}

/**
 * A request's headers for the next hop (forwardableHeaders), with its body framed
 * by us: the length Node validated, or chunked; never the client's own headers.
 */
export function forwardableRequestHeaders(
  req: IncomingMessage,
  edit?: (name: string, value: string) => string | undefined,
  raw: readonly string[] = req.rawHeaders,
): string[] {
  const out = forwardableHeaders(
    req,
    (name, value) => {
      if (name.length === 14 && name.toLowerCase() === "content-length") return undefined;
      return edit === undefined ? value : edit(name, value);
    },
    raw,
  );
  // Node's parser accepted at most one well-formed length, and refuses length + chunked.
  const length = req.headers["content-length"];
  if (length !== undefined) out.push("content-length", length);
  else if (req.headers["transfer-encoding"] !== undefined) out.push("transfer-encoding", "chunked");
  return out;
}

/** Whether a request carries a body to stream on. */
export const hasBody = (req: IncomingMessage): boolean =>
  req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;

export interface UpstreamCall {
  origin: URL;
  agent: Agent;
  method: string;
  /** Path and query, already normalized by the caller. */
  path: string;
  /** Every header to send (flat list), framing included (see forwardableRequestHeaders). */
  headers: string[];
  /** The client's body, streamed; a Buffer when the caller read it already; undefined for none. */
  body: IncomingMessage | Buffer | undefined;
  /** No byte from the upstream for this long: 504. */
  timeoutMs: number;
}

/**
 * Sends the call and resolves with the upstream's response once its headers are
 * in; rejects with an UpstreamError (never throws). The body is consumed either way.
 * A request without a body that failed on a reused keep-alive socket (the upstream
 * closed it as we picked it: ECONNRESET/EPIPE before any answer) is sent once more on
 * a fresh one, as Node's documentation advises; it cannot have been processed.
 */
export function callUpstream(call: UpstreamCall): Promise<IncomingMessage> {
  return sendUpstream(call).catch((error: unknown) => {
    const stale = error instanceof UpstreamError && error.staleSocket && call.body === undefined;
    return stale ? sendUpstream(call) : Promise.reject(error);
  });
}

function sendUpstream(call: UpstreamCall): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let up: ClientRequest;
    try {
      up = openRequest(call);
    } catch (error) {
      // Node refused a header value or the method: nothing was sent.
      reject(new UpstreamError("unreachable", `request not sent: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const fail = settleOnce(up, call.timeoutMs, resolve, reject);
    sendBody(up, call.body, fail);
  });
}

function openRequest(call: UpstreamCall): ClientRequest {
  return httpRequest({
    protocol: call.origin.protocol,
    hostname: call.origin.hostname,
    port: call.origin.port,
    method: call.method,
    path: call.path,
    // With tracing on, the next hop continues this request's trace, not the client's.
    headers: withTraceHeaders(call.headers) as unknown as OutgoingHttpHeaders,
    agent: call.agent,
  });
}

/**
 * Settles the call once: with the upstream's response, or with an UpstreamError on a
 * timeout or a socket error (a stale keep-alive socket marked so, see callUpstream).
 * Returns the failure path, for the body's pipeline.
 */
function settleOnce(
  up: ClientRequest,
  timeoutMs: number,
  resolve: (res: IncomingMessage) => void,
  reject: (error: UpstreamError) => void,
): (kind: UpstreamFailure, error: unknown) => void {
  let settled = false;
  const fail = (kind: UpstreamFailure, error: unknown, staleSocket = false) => {
    if (settled) return;
    settled = true;
    reject(new UpstreamError(kind, (error as Error)?.message ?? String(error), { cause: error, staleSocket }));
  };
  up.setTimeout(timeoutMs, () => {
    fail("timeout", new Error(`no answer within ${timeoutMs} ms`));
    up.destroy();
  });
  up.on("error", (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    fail("unreachable", error, up.reusedSocket && (code === "ECONNRESET" || code === "EPIPE"));
  });
  up.on("response", (res) => {
    settled = true;
    // Socket-level timeouts stay armed while the body streams; the relay owns it now.
    resolve(res);
  });
  return fail;
}

function sendBody(
  up: ClientRequest,
  body: UpstreamCall["body"],
  fail: (kind: UpstreamFailure, error: unknown) => void,
): void {
  if (body === undefined) end(up);
  else if (Buffer.isBuffer(body)) end(up, body);
  else
    pipeline(body, up, (error) => {
      // The client went away mid-body (or the upstream did): nothing to send.
      if (error) fail("aborted", error);
    });
}

function end(up: ClientRequest, chunk?: Buffer): void {
  try {
    up.end(chunk);
  } catch (error) {
    up.destroy(error as Error);
  }
}

/**
 * Streams an upstream response to the client: its status, its headers minus the
 * hop-by-hop ones (or `headers`, when the caller filtered them further), then `extra`
 * (a flat list), then the body. Never throws: a header Node refuses becomes a 502
 * (nothing sent yet), a failure mid-body closes the client's socket (its length or
 * chunking tells the client the answer broke).
 */
export function relayResponse(
  upstream: IncomingMessage,
  res: ServerResponse,
  extra: readonly string[] = [],
  onError: (error: Error) => void = () => {},
  headers: string[] = forwardableHeaders(upstream),
): void {
  for (const v of extra) headers.push(v);
  try {
    res.writeHead(upstream.statusCode ?? 502, headers);
  } catch (error) {
    upstream.resume();
    onError(error as Error);
    if (!res.headersSent) badGateway(res);
    else res.destroy();
    return;
  }
  pipeline(upstream, res, (error) => {
    if (error && (error as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") onError(error);
  });
}

/** Reads a whole upstream response, at most `max` bytes (more: rejects). */
export function readResponse(upstream: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    upstream.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        upstream.destroy();
        reject(new UpstreamError("unreachable", `answer larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    upstream.on("end", () => resolve(Buffer.concat(chunks)));
    upstream.on("error", (error) => reject(new UpstreamError("aborted", error.message, { cause: error })));
    upstream.on("aborted", () => reject(new UpstreamError("aborted", "the upstream closed mid-answer")));
  });
}

function badGateway(res: ServerResponse): void {
  try {
    const body = errorBody(
      "bad_gateway",
      "the upstream answered with headers that cannot be relayed",
      String(res.getHeader("x-request-id") ?? ""),
    );
    res.writeHead(502, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

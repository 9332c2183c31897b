// Kratos' public API on the gateway's own origin (/self-service/*, /sessions/*,
// /.well-known/ory/*), so frontends need no CORS. Requests and responses pass
// through unchanged, cookies and CSRF tokens included (every Set-Cookie kept).
// The four self-service submissions are buffered (bounded) so the brute-force
// guard can see the identifier and the outcome.
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { BruteForce } from "../throttle/brute-force.ts";

export const KRATOS_PATHS = /^\/(self-service\/|sessions(\/|$)|\.well-known\/ory\/)/;
const SUBMISSION = /^\/self-service\/(login|registration|recovery|verification)$/;
const MAX_SUBMISSION = 64 * 1024;
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
];

export interface PassthroughOptions {
  kratosPublicUrl: string;
  /** Login failures (maxFailures) and submission attempts for other flows. */
  login?: BruteForce;
  attempts?: BruteForce;
  /** When Redis cannot be asked: true = let the submission through (Kratos still checks it). */
  failOpen: boolean;
  clientIp(req: IncomingMessage): string;
  log: Logger;
  sendError(res: ServerResponse, status: number, error: string, message: string, retryAfterSec?: number): void;
}

export function kratosPassthrough(o: PassthroughOptions) {
  const target = new URL(o.kratosPublicUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  interface Forwarded {
    status: number;
    setCookies: string[];
    /** Present when the answer was held back (submissions): the caller sends it. */
    held?: { headers: Record<string, string | string[]>; body: Buffer };
  }

  /**
   * Sends the request to Kratos. Ordinary requests stream straight back. A
   * submission's answer is held until the caller has counted it, so a client's next
   * attempt never races the counter of its previous one.
   */
  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer | undefined,
  ): Promise<Forwarded> {
    return new Promise((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.includes(k)) headers[k] = v;
      headers.host = target.host;
      headers["x-forwarded-host"] = req.headers.host ?? "";
      headers["x-forwarded-for"] = o.clientIp(req);
      if (body) headers["content-length"] = String(body.length);
      const up = httpRequest(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path,
          headers,
          agent,
          timeout: 10_000,
        },
        (ur) => {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.includes(k)) out[k] = v;
          const status = ur.statusCode ?? 502;
          const setCookies = ur.headers["set-cookie"] ?? [];
          if (!body) {
            res.writeHead(status, out);
            ur.pipe(res);
            ur.on("end", () => resolve({ status, setCookies }));
            ur.on("error", () => resolve({ status: 502, setCookies }));
            return;
          }
          const chunks: Buffer[] = [];
          ur.on("data", (c: Buffer) => chunks.push(c));
          ur.on("end", () => resolve({ status, setCookies, held: { headers: out, body: Buffer.concat(chunks) } }));
          ur.on("error", () => resolve({ status: 502, setCookies }));
        },
      );
      up.on("timeout", () => up.destroy(new Error("timeout")));
      up.on("error", (e) => {
        if (!res.headersSent) o.sendError(res, 502, "bad_gateway", "Kratos did not answer; retry later", 5);
        else res.destroy();
        o.log.warn({ err: e.message }, "kratos passthrough failed");
        resolve({ status: 502, setCookies: [] });
      });
      if (body) up.end(body);
      else req.pipe(up);
    });
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const m = SUBMISSION.exec(path);
    if (!m || req.method !== "POST" || !(o.login && o.attempts)) {
      await forward(req, res, path + query, undefined);
      return;
    }
    const flow = m[1] as "login" | "registration" | "recovery" | "verification";
    const body = await readBounded(req, MAX_SUBMISSION);
    if (body === "too_large") return o.sendError(res, 413, "payload_too_large", "submission too large");
    const identifier = identifierOf(flow, req.headers["content-type"], body, query);
    const guard = flow === "login" ? o.login : o.attempts;
    const ip = o.clientIp(req);
    try {
      const v = await guard.check(flow, ip, identifier);
      if (!v.allow) {
        // Same answer whether or not the account exists.
        return o.sendError(res, 429, "too_many_attempts", "too many attempts; try again later", v.retryAfterSec);
      }
      if (v.delayMs > 0) await new Promise((r) => setTimeout(r, v.delayMs));
    } catch (e) {
      o.log.warn({ err: (e as Error).message, flow }, "brute-force store unavailable");
      if (!o.failOpen)
        return o.sendError(res, 503, "dependency_unavailable", "sign-in is temporarily unavailable; retry later", 5);
    }
    const out = await forward(req, res, path + query, body);
    if (!out.held) {
      // Kratos failed: answer if nobody has yet.
      if (!res.headersSent) o.sendError(res, 502, "bad_gateway", "Kratos did not answer; retry later", 5);
      return;
    }
    try {
      if (flow === "login") {
        const ok =
          out.status === 200 || out.status === 422 || out.setCookies.some((c) => /^ory_kratos_session=[^;]+/.test(c));
        if (ok) await guard.success(flow, identifier);
        else if (out.status < 500) await guard.failure(flow, ip, identifier);
      } else if (out.status < 500) {
        await guard.failure(flow, ip, identifier);
      }
    } catch {
      /* Redis failed while counting: answer anyway (see failOpen) */
    }
    res.writeHead(out.status, out.held.headers);
    res.end(out.held.body);
  };
}

function readBounded(req: IncomingMessage, max: number): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        resolve("too_large");
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The identifier a submission is about: the login identifier or email, else the flow id (code guesses). */
export function identifierOf(
  flow: string,
  contentType: string | undefined,
  body: Buffer,
  query: string,
): string | undefined {
  let fields: Record<string, unknown> = {};
  try {
    if (/json/.test(contentType ?? "")) {
      const j = JSON.parse(body.toString()) as Record<string, unknown>;
      fields = j && typeof j === "object" ? j : {};
    } else {
      fields = Object.fromEntries(new URLSearchParams(body.toString()));
    }
  } catch {
    fields = {};
  }
  const traits = fields.traits as Record<string, unknown> | undefined;
  const pick = (v: unknown) => (typeof v === "string" && v.length > 0 && v.length <= 320 ? v : undefined);
  const id =
    flow === "login"
      ? pick(fields.identifier)
      : flow === "registration"
        ? (pick(fields["traits.email"]) ?? pick(traits?.email))
        : pick(fields.email);
  if (id) return id;
  const flowId = new URLSearchParams(query.replace(/^\?/, "")).get("flow");
  return flowId ? `flow:${flowId}` : undefined;
}

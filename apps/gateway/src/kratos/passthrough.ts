// Kratos' public API on the gateway's origin (/self-service/*, /sessions/*,
// /.well-known/ory/*), so frontends need no CORS and browsers never reach Kratos
// directly. Answers come back as Kratos gave them, cookies and CSRF tokens included
// (every Set-Cookie kept). On the way in:
//  - client headers that claim an identity or say who the client is are dropped; we
//    state the client's address ourselves (X-Forwarded-For, X-Real-IP);
//  - every `return_to` is checked by the guard's validator (return-to.ts);
//  - the four self-service submissions are read once (submission.ts), counted by the
//    brute-force guard, sent to Kratos as parsed, and their answer held until it is
//    counted; a failed login is held until the failure floor has passed;
//  - a logout done at Kratos is announced so the session's tokens stop (logout.ts).

import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import type { ErrorCode } from "@gatehouse/contracts";
import { type AllowedHost, isIdentityHeader } from "@gatehouse/guard";
import { isClientAddressHeader, requestIdFrom, sendError } from "@gatehouse/guard/node";
import type { Logger } from "pino";
import {
  callUpstream,
  forwardableHeaders,
  forwardableRequestHeaders,
  hasBody,
  readResponse,
  relayResponse,
  UpstreamError,
} from "../proxy/forward.ts";
import type { BruteForce } from "../throttle/brute-force.ts";
import type { FailureFloor } from "../throttle/failure-floor.ts";
import { type LogoutKind, logoutKind, sessionEnded } from "./logout.ts";
import { checkedReturnTo } from "./return-to.ts";
import { parseSubmission, type SelfServiceFlow, type Submission } from "./submission.ts";

export const KRATOS_PATHS = /^\/(self-service\/|sessions(\/|$)|\.well-known\/ory\/)/;
const SUBMISSION = /^\/self-service\/(login|registration|recovery|verification)$/;
const MAX_SUBMISSION = 64 * 1024;
const MAX_ANSWER = 1024 * 1024;
const TIMEOUT_MS = 10_000;

export interface PassthroughOptions {
  kratosPublicUrl: string;
  /** Login failures (maxFailures) and submission attempts for the other flows. */
  login: BruteForce;
  attempts: BruteForce;
  floor: FailureFloor;
  /** Where `return_to` may point, and the origin relative ones resolve against. */
  allowedReturnHosts: readonly AllowedHost[];
  returnBase: string | undefined;
  /** Base URL of the self-service UI ("…/auth/"): a throttled browser form goes back to `<base><flow>`. */
  uiUrl: string | undefined;
  clientIp(req: IncomingMessage): string;
  proto(req: IncomingMessage): string;
  /** Kratos' session cookie name: a browser logout's answer deletes it. */
  cookieName: string;
  /** Announces a session Kratos' own logout ended (logout.ts); none without Redis. */
  announceRevoked?: (sid: string) => Promise<void>;
  log: Logger;
}

/** Client headers Kratos never sees: identity claims, what only a proxy may say about the client, and its request id (ours replaces it). */
function dropped(name: string): boolean {
  const lower = name.toLowerCase();
  return isIdentityHeader(lower) || isClientAddressHeader(lower) || lower === "host" || lower === "x-request-id";
}

/** The request id the gateway gave this request (it set it on the response first). */
const requestIdOfAnswer = (res: ServerResponse) => requestIdFrom(String(res.getHeader("x-request-id") ?? ""));

/** A refusal, in the guard's one error form. */
function refuse(res: ServerResponse, status: number, error: ErrorCode, message: string, retryAfterSec?: number): void {
  sendError(res, status, error, message, requestIdOfAnswer(res), retryAfterSec);
}
/** Also not copied for a submission: its body is re-serialized, with our own type and length. */
function droppedForSubmission(name: string): boolean {
  const lower = name.toLowerCase();
  return dropped(lower) || lower === "content-type" || lower === "content-length" || lower === "content-encoding";
}

export function kratosPassthrough(o: PassthroughOptions) {
  const origin = new URL(o.kratosPublicUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  function headersFor(req: IncomingMessage, res: ServerResponse, submission: Submission | undefined): string[] {
    const out = submission
      ? forwardableHeaders(req, (name, value) => (droppedForSubmission(name) ? undefined : value))
      : forwardableRequestHeaders(req, (name, value) => (dropped(name) ? undefined : value));
    const ip = o.clientIp(req);
    out.push("host", origin.host, "x-forwarded-for", ip, "x-real-ip", ip, "x-forwarded-proto", o.proto(req));
    out.push("x-request-id", requestIdOfAnswer(res));
    if (req.headers.host) out.push("x-forwarded-host", req.headers.host);
    if (submission) out.push("content-type", submission.contentType, "content-length", String(submission.body.length));
    return out;
  }

  function unavailable(res: ServerResponse, e: unknown): void {
    o.log.warn({ err: (e as Error).message }, "kratos passthrough failed");
    if (res.headersSent) res.destroy();
    else if (e instanceof UpstreamError && e.kind === "aborted") res.destroy();
    else refuse(res, 502, "bad_gateway", "Kratos did not answer; retry later", 5);
  }

  /** Anything but a submission: streamed both ways. */
  async function stream(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    try {
      const answer = await callUpstream({
        origin,
        agent,
        method: req.method ?? "GET",
        path: target,
        headers: headersFor(req, res, undefined),
        body: hasBody(req) ? req : undefined,
        timeoutMs: TIMEOUT_MS,
      });
      relayResponse(answer, res, [], (e) => o.log.warn({ err: e.message }, "kratos answer broke off"));
    } catch (e) {
      unavailable(res, e);
    }
  }

  /** A form a browser posted itself (not a frontend's fetch): it should land on a page, not on JSON. */
  function browserForm(req: IncomingMessage, s: Submission): boolean {
    return s.contentType === "application/x-www-form-urlencoded" && (req.headers.accept ?? "").includes("text/html");
  }

  /** A throttled submission: 429 with Retry-After, or for a browser's form, back to the UI saying so. */
  function throttled(req: IncomingMessage, res: ServerResponse, s: Submission, retryAfterSec: number): void {
    if (browserForm(req, s) && o.uiUrl !== undefined) {
      const to = new URL(s.flow, o.uiUrl);
      if (s.flowId) to.searchParams.set("flow", s.flowId);
      to.searchParams.set("retry_after", String(retryAfterSec));
      res.writeHead(303, { location: to.href, "cache-control": "no-store", "retry-after": String(retryAfterSec) });
      res.end();
      return;
    }
    // Same answer whether or not the account exists.
    refuse(res, 429, "too_many_attempts", "too many attempts; try again later", retryAfterSec);
  }

  /** A submission read and parsed once, or undefined (answered already: too large, malformed, gone). */
  async function readSubmission(req: IncomingMessage, res: ServerResponse, flow: SelfServiceFlow, query: string) {
    const raw = await readBounded(req, MAX_SUBMISSION);
    if (raw === "too_large") return void refuse(res, 413, "payload_too_large", "submission too large");
    if (raw === "aborted") return void res.destroy();
    const headers = { contentType: req.headers["content-type"], contentEncoding: req.headers["content-encoding"] };
    const parsed = parseSubmission(flow, headers, raw, query);
    if (parsed.ok) return parsed.submission;
    const error = parsed.status === 415 ? "unsupported_media_type" : "bad_request";
    refuse(res, parsed.status, error, parsed.message);
  }

  async function submit(req: IncomingMessage, res: ServerResponse, flow: SelfServiceFlow, path: string, query: string) {
    const s = await readSubmission(req, res, flow, query);
    if (s === undefined) return;
    // Without an identifier (a code guess, say), the flow is what is being guessed at.
    const who = s.identifier ?? (s.flowId ? `flow:${s.flowId}` : undefined);
    // An email-code request is counted like the other mail-sending flows, in its own scope.
    const codeRequest = s.intent === "code_request";
    const limit = flow === "login" && !codeRequest ? o.login : o.attempts;
    const scope = codeRequest ? "login_code" : flow;
    const ip = o.clientIp(req);
    const v = await limit.check(scope, ip, who);
    if (!v.allow) return throttled(req, res, s, v.retryAfterSec);
    if (v.delayMs > 0) await new Promise((r) => setTimeout(r, v.delayMs));

    const t0 = performance.now();
    let answer: IncomingMessage;
    let body: Buffer;
    try {
      const headers = headersFor(req, res, s);
      const call = { origin, agent, method: "POST", path: path + query, headers, body: s.body, timeoutMs: TIMEOUT_MS };
      answer = await callUpstream(call);
      body = await readResponse(answer, MAX_ANSWER);
    } catch (e) {
      // Kratos still waiting on something (a social provider that hangs) past our timeout:
      // a browser's form goes to the UI's error page instead of a bare 502.
      if (browserForm(req, s) && o.uiUrl !== undefined && !res.headersSent) {
        o.log.warn({ err: (e as Error).message }, "kratos submission failed");
        res.writeHead(303, {
          location: new URL("error?reason=unavailable", o.uiUrl).href,
          "cache-control": "no-store",
        });
        return void res.end();
      }
      return unavailable(res, e);
    }
    await counted(s, scope, limit, ip, who, answer, t0);
    const headers = forwardableHeaders(answer, (name, value) =>
      name.toLowerCase() === "content-length" ? undefined : value,
    );
    headers.push("content-length", String(body.length));
    try {
      res.writeHead(answer.statusCode ?? 502, headers);
      res.end(body);
    } catch (e) {
      unavailable(res, e);
    }
  }

  /**
   * Kratos' answer to a submission, counted: every submission of the other flows and
   * every email-code request is an attempt; a login counts as a failure only when
   * Kratos checked a secret and refused it, and then also waits for the failure floor.
   */
  async function counted(
    s: Submission,
    scope: string,
    limit: BruteForce,
    ip: string,
    who: string | undefined,
    answer: IncomingMessage,
    t0: number,
  ): Promise<void> {
    const status = answer.statusCode ?? 502;
    if (s.flow !== "login" || s.intent === "code_request") {
      if (status < 500) await limit.failure(scope, ip, who);
      return;
    }
    const setCookies = answer.headers["set-cookie"] ?? [];
    const signedIn = status === 200 || status === 422 || setCookies.some((c) => /^ory_kratos_session=[^;]+/.test(c));
    if (signedIn) await limit.success(scope, who);
    else if (status < 500 && s.intent === "credential") {
      o.floor.observe(performance.now() - t0);
      await limit.failure(scope, ip, who);
      await o.floor.wait(t0);
    }
  }

  /** Which session a credential is, by asking Kratos; undefined when it cannot tell. */
  async function sessionIdOf(credential: [string, string]): Promise<string | undefined> {
    try {
      const answer = await callUpstream({
        origin,
        agent,
        method: "GET",
        path: "/sessions/whoami",
        headers: ["host", origin.host, "accept", "application/json", ...credential],
        body: undefined,
        timeoutMs: TIMEOUT_MS,
      });
      const text = (await readResponse(answer, MAX_ANSWER)).toString();
      const id = answer.statusCode === 200 ? (JSON.parse(text) as { id?: unknown }).id : undefined;
      return typeof id === "string" ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Kratos' own logout, forwarded; the session it ends is announced (see logout.ts). */
  async function logout(req: IncomingMessage, res: ServerResponse, kind: LogoutKind, target: string): Promise<void> {
    let body: Buffer | undefined;
    let credential: [string, string] | undefined;
    if (kind === "api") {
      const raw = await readBounded(req, MAX_SUBMISSION);
      if (raw === "too_large") return refuse(res, 413, "payload_too_large", "request body too large");
      if (raw === "aborted") return void res.destroy();
      body = raw;
      const token = parseSessionToken(raw);
      if (token !== undefined) credential = ["x-session-token", token];
    } else if (req.headers.cookie !== undefined) {
      credential = ["cookie", req.headers.cookie];
    }
    const sid = credential && o.announceRevoked ? await sessionIdOf(credential) : undefined;
    let answer: IncomingMessage;
    try {
      answer = await callUpstream({
        origin,
        agent,
        method: req.method ?? "GET",
        path: target,
        headers: headersFor(req, res, undefined),
        body,
        timeoutMs: TIMEOUT_MS,
      });
    } catch (e) {
      return unavailable(res, e);
    }
    if (sid !== undefined && o.announceRevoked && sessionEnded(kind, answer, o.cookieName)) {
      await o.announceRevoked(sid).catch((e: Error) => o.log.warn({ err: e.message }, "logout not announced"));
    }
    relayResponse(answer, res, [], (e) => o.log.warn({ err: e.message }, "kratos answer broke off"));
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const q = checkedReturnTo(query, o.allowedReturnHosts, o.returnBase);
    const m = SUBMISSION.exec(path);
    if (m && req.method === "POST") return submit(req, res, m[1] as SelfServiceFlow, path, q);
    const out = logoutKind(req.method, path);
    if (out !== undefined) return logout(req, res, out, path + q);
    return stream(req, res, path + q);
  };
}

function parseSessionToken(raw: Buffer): string | undefined {
  try {
    const token = (JSON.parse(raw.toString("utf8")) as { session_token?: unknown }).session_token;
    return typeof token === "string" && /^[\x21-\x7e]{1,512}$/.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

function readBounded(req: IncomingMessage, max: number): Promise<Buffer | "too_large" | "aborted"> {
  return new Promise((resolve) => {
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
    req.on("error", () => resolve("aborted"));
    req.on("aborted", () => resolve("aborted"));
  });
}

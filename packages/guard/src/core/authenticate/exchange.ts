// The one call the guard makes to the auth-service: POST /v1/token with the
// caller's credential, answered with a Gatehouse JWT. Every answer is sorted into
// "the credential is bad" (401), "authenticated but not allowed" (403) and "we could
// not find out" (429/503). Only the first may ever read as signed out: a 5xx, a
// timeout or a refused connection must never log anybody out.
import { type Transport, TransportError } from "../../transport/types.ts";
import type { Credential } from "../extract.ts";
import { GuardError, type GuardEvent } from "../types.ts";
import { errorMessage } from "./jwt.ts";

export interface ExchangeOptions {
  transport: Transport;
  /** Absolute URL of the auth-service's POST /v1/token. */
  tokenUrl: string;
  cookieName: string;
  timeoutMs: number;
  /** Retry-After sent with a 503 when the upstream gave none. */
  retryAfterSec: number;
  onEvent: (event: GuardEvent) => void;
}

export type ExchangeCredential = Exclude<Credential, { kind: "jwt" }>;

export interface ExchangeClient {
  /** Resolves with the access token; rejects with GuardError. */
  /**
   * `clientAddress`: the end client this exchange is for, sent as X-Forwarded-For so
   * the auth-service's rate limits count that client, never this guard.
   */
  exchange(credential: ExchangeCredential, organizationId?: string, clientAddress?: string): Promise<string>;
}

const MAX_ANSWER_BYTES = 64 * 1024;
// The transport enforces timeoutMs itself; this is the backstop for one that does not.
const DEADLINE_GRACE_MS = 500;
const MAX_RETRY_AFTER_SEC = 3600;

/** Retry-After as delta-seconds or HTTP-date (RFC 9110 §10.2.3) → whole seconds, or undefined. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  let sec: number;
  if (/^\d+$/.test(v)) {
    sec = Number(v);
  } else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    sec = Math.ceil((at - nowMs) / 1000);
  }
  if (!Number.isFinite(sec)) return undefined;
  return Math.min(Math.max(0, sec), MAX_RETRY_AFTER_SEC);
}

function credentialHeaders(credential: ExchangeCredential, cookieName: string): Record<string, string> {
  if (credential.kind === "api_key") return { authorization: `Bearer ${credential.value}` };
  // Only the Kratos cookie is forwarded, never the browser's other cookies.
  if (credential.source === "cookie") return { cookie: `${cookieName}=${credential.value}` };
  return { "x-session-token": credential.value };
}

function errorField(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === "object" && parsed !== null) {
      const e = (parsed as { error?: unknown }).error;
      if (typeof e === "string" && /^[a-z0-9_]{1,64}$/.test(e)) return e;
    }
  } catch {
    // A proxy's HTML error page: the status says enough.
  }
  return undefined;
}

export function createExchangeClient(options: ExchangeOptions): ExchangeClient {
  const { transport, tokenUrl, cookieName, timeoutMs, retryAfterSec, onEvent } = options;

  const unavailable = (message: string, cause?: unknown, retry = retryAfterSec): GuardError => {
    const error = new GuardError("dependency_unavailable", message, { retryAfterSec: retry, cause });
    onEvent({ type: "upstream_error", code: error.code, message });
    return error;
  };

  async function call(credential: ExchangeCredential, organizationId: string | undefined, clientAddress?: string) {
    const request = transport.request({
      method: "POST",
      url: tokenUrl,
      headers: {
        accept: "application/json",
        "content-type": "application/json",
        ...credentialHeaders(credential, cookieName),
        ...(clientAddress ? { "x-forwarded-for": clientAddress } : {}),
      },
      body: JSON.stringify(organizationId === undefined ? {} : { organization_id: organizationId }),
      timeoutMs,
      maxBodyBytes: MAX_ANSWER_BYTES,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TransportError("timeout", `no answer within ${timeoutMs} ms`)),
        timeoutMs + DEADLINE_GRACE_MS,
      );
    });
    try {
      return await Promise.race([request, deadline]);
    } finally {
      clearTimeout(timer);
      request.catch(() => {}); // lost the race: its rejection is no longer anybody's business
    }
  }

  return {
    async exchange(credential, organizationId, clientAddress) {
      let answer: Awaited<ReturnType<typeof call>>;
      try {
        answer = await call(credential, organizationId, clientAddress);
      } catch (error) {
        const kind = error instanceof TransportError ? error.kind : "network";
        throw unavailable(`the auth-service cannot be reached (${kind}): ${errorMessage(error)}`, error);
      }
      const { status, body } = answer;
      if (status === 200) {
        let token: unknown;
        try {
          token = (JSON.parse(body) as { access_token?: unknown }).access_token;
        } catch {
          token = undefined;
        }
        if (typeof token !== "string" || token === "")
          throw unavailable("the auth-service answered 200 without a token");
        return token;
      }
      const code = errorField(body);
      if (status === 401) {
        if (credential.kind === "api_key") throw new GuardError("invalid_api_key", "the API key is not valid");
        throw new GuardError("unauthenticated", "the session is not valid (or no longer)");
      }
      if (status === 403 && code === "aal2_required") {
        throw new GuardError("aal2_required", "this session needs a second factor");
      }
      if (status === 403 && code === "forbidden") {
        throw new GuardError("forbidden", "not a member of the requested organization");
      }
      // Another service deactivated the person (auth-service: 403 user_deactivated): a verdict, not an outage.
      if (status === 403 && code === "user_deactivated") {
        throw new GuardError("forbidden", "this account is deactivated");
      }
      if (status === 429) {
        throw new GuardError("rate_limited", "the auth-service is rate limiting; retry later", {
          retryAfterSec: parseRetryAfter(answer.headers.get("retry-after")) ?? retryAfterSec,
        });
      }
      const upstreamRetry = parseRetryAfter(answer.headers.get("retry-after"));
      if (status >= 500) {
        throw unavailable(`the auth-service answered ${status}`, undefined, upstreamRetry ?? retryAfterSec);
      }
      // 3xx, 400, 404, 403 origin_not_allowed …: a misconfiguration between guard and
      // auth-service, not a verdict on the user. Loud (onEvent), and not a logout.
      throw unavailable(`the auth-service answered ${status}${code === undefined ? "" : ` (${code})`} unexpectedly`);
    },
  };
}

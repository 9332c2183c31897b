// Every error leaves the service as {error, message, request_id} with a stable
// code. Dependencies that fail become 503 + Retry-After (never a 401 that would
// log a browser out); anything unexpected becomes a 500 without details.

import type { ServerResponse } from "node:http";
import { ERRORS, type ErrorCode, errorBody } from "@gatehouse/contracts";
import { KratosError, type KratosErrorCode } from "@gatehouse/kratos";
import { isDependencyFailure } from "@gatehouse/observability/dependency";
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { DomainError, type DomainErrorCode } from "../domain/errors.ts";

export type { ErrorCode };

/** An answer with one of the catalogue's codes (@gatehouse/contracts); the status is the code's. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly retryAfterSec: number | undefined;
  constructor(code: ErrorCode, message: string = ERRORS[code].message, opts: { retryAfterSec?: number } = {}) {
    super(message);
    this.status = ERRORS[code].status;
    this.code = code;
    this.retryAfterSec = opts.retryAfterSec;
  }
}

export const RETRY_AFTER_SEC = 5;

// How the layers below (domain/, exchange/, revocation/) say what went wrong, in
// the catalogue's terms. The one place a domain error becomes an HTTP status.
const DOMAIN_CODES: Record<DomainErrorCode, ErrorCode> = {
  not_found: "not_found",
  conflict: "conflict",
  last_owner: "last_owner",
  invalid_input: "bad_request",
  unauthenticated: "unauthenticated",
  forbidden: "forbidden",
  email_unverified: "email_unverified",
  user_deactivated: "user_deactivated",
  gone: "gone",
};

// Kratos' verdicts on a credential; anything else from Kratos is an outage (503).
const KRATOS_VERDICTS: Partial<Record<KratosErrorCode, readonly [ErrorCode, string]>> = {
  unauthenticated: ["unauthenticated", "no valid Kratos session"],
  aal2_required: ["aal2_required", "this session needs a second factor"],
  bad_request: ["bad_request", "Kratos rejected the request"],
};

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof DomainError) return new ApiError(DOMAIN_CODES[e.code], e.message);
  if (e instanceof KratosError) {
    if (e.code === "rate_limited")
      return new ApiError("rate_limited", "Kratos is rate limiting; retry later", {
        retryAfterSec: e.retryAfterSec ?? RETRY_AFTER_SEC,
      });
    const verdict = KRATOS_VERDICTS[e.code];
    if (verdict !== undefined) return new ApiError(...verdict);
    return new ApiError("dependency_unavailable", "Kratos cannot be reached; retry later", {
      retryAfterSec: RETRY_AFTER_SEC,
    });
  }
  if (isDependencyFailure(e)) {
    return new ApiError("dependency_unavailable", "a dependency of the auth-service is unavailable; retry later", {
      retryAfterSec: RETRY_AFTER_SEC,
    });
  }
  // body-parser errors carry `type` and `status`.
  const bp: { type?: unknown; status?: unknown } = typeof e === "object" && e !== null ? e : {};
  if (bp.type === "entity.too.large") return new ApiError("payload_too_large");
  if (bp.type === "entity.parse.failed") return new ApiError("invalid_json");
  if (bp.type === "charset.unsupported" || bp.type === "encoding.unsupported")
    return new ApiError("unsupported_media_type", "unsupported body encoding");
  if (bp.type === "request.aborted") return new ApiError("bad_request", "request aborted");
  if (typeof bp.status === "number" && bp.status >= 400 && bp.status < 500) return new ApiError("bad_request");
  return new ApiError("internal");
}

/** Writes `err` as {error, message, request_id}; works on any node:http response. */
export function writeError(res: ServerResponse, err: ApiError, requestId: string): void {
  const body = errorBody(err.code, err.message, requestId);
  if (err.retryAfterSec !== undefined) res.setHeader("Retry-After", String(err.retryAfterSec));
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.statusCode = err.status;
  res.end(body);
}

export function sendError(res: Response, err: ApiError): void {
  writeError(res, err, String(res.locals.requestId ?? ""));
}

/**
 * Turns anything thrown into the ApiError the client gets, logging the cause of a
 * 5xx (never the request's headers: cookies, tokens).
 */
export function failure(log: Logger, e: unknown, requestId: unknown): ApiError {
  const err = toApiError(e);
  if (err.status >= 500) {
    log.error(
      {
        request_id: requestId,
        err: { name: (e as Error)?.name, message: (e as Error)?.message, code: (e as { code?: unknown })?.code },
      },
      "request failed",
    );
  }
  return err;
}

/** An async route handler whose rejection goes to errorHandler (Express 5 would too; this keeps it explicit). */
export const wrap =
  (fn: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    fn(req, res).catch(next);
  };

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (e, _req, res, _next) => {
    const err = failure(log, e, res.locals.requestId);
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, err);
  };
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, new ApiError("not_found", `no route for ${req.method} ${req.path}`));
};

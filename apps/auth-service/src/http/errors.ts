// Every error leaves the service as {error, message, request_id} with a stable
// code. Dependencies that fail become 503 + Retry-After (never a 401 that would
// log a browser out); anything unexpected becomes a 500 without details.

import type { ServerResponse } from "node:http";
import { KratosError } from "@gatehouse/kratos";
import { isDependencyFailure } from "@gatehouse/observability/dependency";
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { DomainError } from "../domain/errors.ts";

export type ErrorCode =
  | "bad_request"
  | "invalid_json"
  | "unsupported_media_type"
  | "payload_too_large"
  | "unauthenticated"
  | "forbidden"
  | "email_unverified"
  | "origin_not_allowed"
  | "aal_required"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "gone"
  | "last_owner"
  | "rate_limited"
  | "dependency_unavailable"
  | "internal";

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly retryAfterSec: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    opts: { retryAfterSec?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSec = opts.retryAfterSec;
    this.details = opts.details;
  }
}

export const RETRY_AFTER_SEC = 5;

/** Raised by our own code when a dependency is known to be unusable. */
export class DependencyUnavailableError extends Error {
  override name = "DependencyUnavailableError";
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof KratosError) {
    switch (e.code) {
      case "unauthenticated":
        return new ApiError(401, "unauthenticated", "no valid Kratos session");
      case "aal_required":
        return new ApiError(403, "aal_required", "this session needs a second factor");
      case "rate_limited":
        return new ApiError(429, "rate_limited", "Kratos is rate limiting; retry later", {
          retryAfterSec: e.retryAfterSec ?? RETRY_AFTER_SEC,
        });
      case "bad_request":
        return new ApiError(400, "bad_request", "Kratos rejected the request");
      default:
        return new ApiError(503, "dependency_unavailable", "Kratos cannot be reached; retry later", {
          retryAfterSec: RETRY_AFTER_SEC,
        });
    }
  }
  if (e instanceof DomainError) {
    const map = {
      not_found: [404, "not_found"],
      conflict: [409, "conflict"],
      last_owner: [409, "last_owner"],
      invalid_input: [400, "bad_request"],
      forbidden: [403, "forbidden"],
      email_unverified: [403, "email_unverified"],
      gone: [410, "gone"],
    } as const;
    const [status, code] = map[e.code];
    return new ApiError(status, code, e.message);
  }
  if (isDependencyFailure(e)) {
    return new ApiError(503, "dependency_unavailable", "a dependency of the auth-service is unavailable; retry later", {
      retryAfterSec: RETRY_AFTER_SEC,
    });
  }
  // body-parser errors carry `type` and `status`.
  const bp = e as { type?: string; status?: number };
  if (bp.type === "entity.too.large") return new ApiError(413, "payload_too_large", "request body too large");
  if (bp.type === "entity.parse.failed") return new ApiError(400, "invalid_json", "request body is not valid JSON");
  if (bp.type === "charset.unsupported" || bp.type === "encoding.unsupported")
    return new ApiError(415, "unsupported_media_type", "unsupported body encoding");
  if (bp.type === "request.aborted") return new ApiError(400, "bad_request", "request aborted");
  if (typeof bp.status === "number" && bp.status >= 400 && bp.status < 500)
    return new ApiError(bp.status, "bad_request", "bad request");
  return new ApiError(500, "internal", "internal error");
}

/** Writes `err` as {error, message, request_id}; works on any node:http response. */
export function writeError(res: ServerResponse, err: ApiError, requestId: string): void {
  const body = JSON.stringify({ error: err.code, message: err.message, request_id: requestId, ...(err.details ?? {}) });
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
  sendError(res, new ApiError(404, "not_found", `no route for ${req.method} ${req.path}`));
};

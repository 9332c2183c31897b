// Request ids, access logs without secrets, and body/content-type checks shared
// by the public and admin listeners (and, as plain functions, by the node:http
// door of POST /v1/token in token.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestIdFrom } from "@gatehouse/contracts";
import { accessLineWriter } from "@gatehouse/observability/logger";
import express, { type RequestHandler } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../ops/metrics.ts";
import { ApiError } from "./errors.ts";

/** Connect-style middleware (helmet, cors, body-parser): it runs on plain node:http objects, in Express or not. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** Content types accepted for a JSON body (application/json, application/*+json). */
export const JSON_CONTENT_TYPE = /^application\/([a-z.+-]*\+)?json\s*(;|$)/i;

export const requestId: RequestHandler = (req, res, next) => {
  const id = requestIdFrom(req.headers["x-request-id"]);
  res.locals.requestId = id;
  res.setHeader("X-Request-Id", id);
  next();
};

/** What an access-log line says about a request, read when the response is done. */
export interface AccessLogFields {
  method: string;
  path: string;
  requestId: () => unknown;
  route: () => string;
}

/** Registers one access-log line and one latency observation for a response. */
export type LogWhenFinished = (res: ServerResponse, r: AccessLogFields) => void;

/**
 * One log line and one latency observation per request, when the response is done:
 * method, path, route, status, duration. Never headers, bodies or query strings.
 */
export function whenFinished(log: Logger, metrics: Metrics, listener: string): LogWhenFinished {
  const access = accessLineWriter(log);
  return (res, r) => {
    const t0 = performance.now();
    res.on("finish", () => {
      const ms = performance.now() - t0;
      const route = r.route();
      metrics.observeRequest(listener, r.method, route, res.statusCode, ms / 1000);
      access({
        request_id: String(r.requestId()),
        method: r.method,
        path: r.path,
        route,
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
      });
    });
  };
}

export function accessLog(log: Logger, metrics: Metrics, listener: string): RequestHandler {
  const logWhenFinished = whenFinished(log, metrics, listener);
  return (req, res, next) => {
    logWhenFinished(res, {
      method: req.method,
      path: req.path,
      requestId: () => res.locals.requestId,
      route: () => (req.route?.path as string | undefined) ?? "unmatched",
    });
    next();
  };
}

/** Whether a request announces a body (Content-Length other than 0, or chunked). */
export function hasBody(headers: { "content-length"?: string | undefined; "transfer-encoding"?: string | undefined }) {
  const length = headers["content-length"];
  return (length !== undefined && length !== "0") || headers["transfer-encoding"] !== undefined;
}

/** JSON bodies only, bounded in size; other content types are refused before parsing. */
export function jsonBody(limitBytes: number): Middleware[] {
  const parse = express.json({ limit: limitBytes, strict: true, type: () => true });
  const requireJson: Middleware = (req, _res, next) => {
    if (!hasBody(req.headers)) return next();
    if (!JSON_CONTENT_TYPE.test(req.headers["content-type"] ?? "")) {
      return next(new ApiError("unsupported_media_type", "send the body as application/json"));
    }
    next();
  };
  return [requireJson, parse];
}

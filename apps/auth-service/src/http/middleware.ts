// Request ids, access logs without secrets, and body/content-type checks shared
// by the public and admin listeners.
import { randomUUID } from "node:crypto";
import express, { type RequestHandler } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../ops/metrics.ts";
import { ApiError } from "./errors.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a well-formed X-Request-Id from the caller (for tracing across hops) or makes one. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.headers["x-request-id"];
  const id = typeof given === "string" && REQUEST_ID_RE.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.setHeader("X-Request-Id", id);
  next();
};

/** One log line per request: method, route, status, duration. Never headers, bodies or query strings. */
export function accessLog(log: Logger, metrics: Metrics, listener: string): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const route = (req.route?.path as string | undefined) ?? "unmatched";
      metrics.observeRequest(listener, req.method, route, res.statusCode, ms / 1000);
      log.info(
        {
          request_id: res.locals.requestId,
          method: req.method,
          path: req.path,
          route,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
        },
        "request",
      );
    });
    next();
  };
}

/** JSON bodies only, bounded in size; other content types are refused before parsing. */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const parse = express.json({ limit: limitBytes, strict: true, type: () => true });
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0";
    const chunked = req.headers["transfer-encoding"] !== undefined;
    if (!hasBody && !chunked) return next();
    const type = req.headers["content-type"] ?? "";
    if (!/^application\/([a-z.+-]*\+)?json\s*(;|$)/i.test(type)) {
      return next(new ApiError(415, "unsupported_media_type", "send the body as application/json"));
    }
    next();
  };
  return [requireJson, parse];
}

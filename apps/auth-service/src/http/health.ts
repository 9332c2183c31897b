import express, { type Router } from "express";
import type { App } from "../app.ts";
import { on, ROUTES } from "./routes.ts";

// Without these no new session can be exchanged: the instance is not ready.
const REQUIRED = ["postgres", "kratos"] as const;

/**
 * /health/alive: the process runs.
 * /health/ready: 200 when Postgres and Kratos answer, 503 (+ Retry-After) when one of
 * them does not. Redis is optional: without it (or without the invalidation channel)
 * the answer is still 200, with status "degraded". `missing` names whatever is down.
 * From SIGTERM on, 503 with status "draining", at once: the instance is leaving.
 */
export function healthRoutes(app: App): Router {
  const r = express.Router();
  on(r, ROUTES.alive, (_req, res) => {
    res.json({ status: "ok" });
  });
  on(r, ROUTES.ready, (_req, res, next) => {
    if (app.draining) {
      res.setHeader("Cache-Control", "no-store");
      res.status(503).json({ status: "draining", checks: {}, missing: [] });
      return;
    }
    app
      .readiness()
      .then((checks) => {
        const missing = Object.entries(checks)
          .filter(([, ok]) => !ok)
          .map(([name]) => name);
        const ready = REQUIRED.every((name) => checks[name]);
        if (!ready) res.setHeader("Retry-After", "5");
        res.setHeader("Cache-Control", "no-store");
        res.status(ready ? 200 : 503).json({
          status: !ready ? "unavailable" : missing.length > 0 ? "degraded" : "ok",
          checks,
          missing,
        });
      })
      .catch(next);
  });
  return r;
}

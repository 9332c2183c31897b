import express, { type Router } from "express";
import type { App } from "../app.ts";

/** /health/alive: the process runs. /health/ready: Postgres, Redis and Kratos all answer. */
export function healthRoutes(app: App): Router {
  const r = express.Router();
  r.get("/health/alive", (_req, res) => {
    res.json({ status: "ok" });
  });
  r.get("/health/ready", (_req, res, next) => {
    app
      .readiness()
      .then((checks) => {
        const ok = Object.values(checks).every(Boolean);
        if (!ok) res.setHeader("Retry-After", "5");
        res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", checks });
      })
      .catch(next);
  });
  return r;
}

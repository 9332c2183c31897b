// The example API: projects belonging to the caller's organization. Every route
// goes through the guard the product ships; the data is always scoped by the
// organization in the verified token, never by anything the client sends.
import type { InvalidationView } from "@gatehouse/guard";
import { type GatehouseExpress, gatehouse } from "@gatehouse/guard/express";
import { isDependencyFailure } from "@gatehouse/observability/dependency";
import cors from "cors";
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from "express";
import helmet from "helmet";
import type pg from "pg";
import { z } from "zod";

export interface ApiConfig {
  authServiceUrl: string;
  audience: string;
  corsOrigins: string[];
  cookieName: string;
  /** Logouts and role changes pushed by the auth-service (main.ts subscribes when Redis is configured: REDIS_URL, Sentinel or Cluster). */
  invalidations?: InvalidationView;
}

export const MIGRATION = `
create schema if not exists example_api;
create table if not exists example_api.projects (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  name text not null check (char_length(name) between 1 and 200),
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists projects_org on example_api.projects (organization_id);
`;

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const wrap =
  (fn: (req: Request, res: express.Response) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    fn(req, res).catch(next);
  };

const projectBody = z.object({ name: z.string().trim().min(1).max(200) }).strict();
const uuid = z.string().uuid();

export function createApi(cfg: ApiConfig, db: pg.Pool): { app: express.Express; guard: GatehouseExpress } {
  const guard = gatehouse({
    authServiceUrl: cfg.authServiceUrl,
    audience: cfg.audience,
    cookieName: cfg.cookieName,
    accept: ["session", "jwt"],
    ...(cfg.invalidations ? { invalidations: cfg.invalidations } : {}),
  });
  const app = express();
  app.disable("x-powered-by");
  // A JSON API: no page CSP (its upgrade-insecure-requests breaks plain-http fetches in development).
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use(
    cors({
      origin: (o, cb) => cb(null, o !== undefined && cfg.corsOrigins.includes(o) ? o : false),
      credentials: true,
    }),
  );
  app.use(express.json({ limit: "16kb" }));

  app.get("/health/alive", (_req, res) => {
    res.json({ status: "ok" });
  });

  const org = (req: Request): string => {
    const id = req.auth?.organizationId;
    if (!id) throw new HttpError(403, "no_organization", "join or create an organization first");
    return id;
  };
  const body = (req: Request) => {
    const r = projectBody.safeParse(req.body ?? {});
    if (!r.success)
      throw new HttpError(
        400,
        "bad_request",
        `${r.error.issues[0]?.path.join(".") || "body"}: ${r.error.issues[0]?.message}`,
      );
    return r.data;
  };
  const idParam = (req: Request) => {
    const r = uuid.safeParse(req.params.id);
    if (!r.success) throw new HttpError(400, "bad_request", "id must be a UUID");
    return r.data;
  };

  app.get("/v1/me", guard.requireAuth(), (req, res) => {
    const p = req.auth;
    res.json({
      id: p?.subject,
      email: p?.email,
      organization_id: p?.organizationId,
      role: p?.role,
      plan: p?.plan,
      via: p?.via,
    });
  });

  // Permissions, not roles: people get them from their role (the auth-service's
  // PERMISSIONS_JSON), API keys from their scopes, so an organization key with
  // `org:read` reads projects without acting as anyone.
  app.get(
    "/v1/projects",
    guard.requirePermissions("org:read"),
    wrap(async (req, res) => {
      const r = await db.query(
        "select id, name, created_by, created_at from example_api.projects where organization_id = $1 order by created_at",
        [org(req)],
      );
      res.json({ projects: r.rows });
    }),
  );

  app.post(
    "/v1/projects",
    guard.requirePermissions("org:write"),
    wrap(async (req, res) => {
      const { name } = body(req);
      const r = await db.query(
        "insert into example_api.projects (organization_id, name, created_by) values ($1, $2, $3) returning id, name, created_by, created_at",
        [org(req), name, req.auth?.subject ?? ""],
      );
      res.status(201).json({ project: r.rows[0] });
    }),
  );

  app.patch(
    "/v1/projects/:id",
    guard.requirePermissions("org:write"),
    wrap(async (req, res) => {
      const { name } = body(req);
      const r = await db.query(
        "update example_api.projects set name = $3, updated_at = now() where id = $1 and organization_id = $2 returning id, name",
        [idParam(req), org(req), name],
      );
      if (r.rowCount === 0) throw new HttpError(404, "not_found", "no such project in your organization");
      res.json({ project: r.rows[0] });
    }),
  );

  app.delete(
    "/v1/projects/:id",
    guard.requirePermissions("org:delete"),
    wrap(async (req, res) => {
      const r = await db.query("delete from example_api.projects where id = $1 and organization_id = $2", [
        idParam(req),
        org(req),
      ]);
      if (r.rowCount === 0) throw new HttpError(404, "not_found", "no such project in your organization");
      res.status(204).end();
    }),
  );

  app.use((req, res) => {
    res.status(404).json({
      error: "not_found",
      message: `no route for ${req.method} ${req.path}`,
      request_id: req.headers["x-request-id"] ?? "",
    });
  });
  const onError: ErrorRequestHandler = (e, req, res, _next) => {
    const rid = String(req.headers["x-request-id"] ?? "");
    if (e instanceof HttpError) {
      res.status(e.status).json({ error: e.code, message: e.message, request_id: rid });
      return;
    }
    const bp = e as { type?: string };
    if (bp.type === "entity.parse.failed") {
      res.status(400).json({ error: "invalid_json", message: "request body is not valid JSON", request_id: rid });
      return;
    }
    if (bp.type === "entity.too.large") {
      res.status(413).json({ error: "payload_too_large", message: "request body too large", request_id: rid });
      return;
    }
    const dbDown = isDependencyFailure(e);
    if (dbDown) res.setHeader("retry-after", "5");
    res.status(dbDown ? 503 : 500).json({
      error: dbDown ? "dependency_unavailable" : "internal",
      message: dbDown ? "database unavailable; retry later" : "internal error",
      request_id: rid,
    });
  };
  app.use(onError);
  return { app, guard };
}

// The public listener: token exchange, JWKS, and the organization API for
// signed-in users. Safe to expose to the internet.

import type { IncomingMessage, RequestListener } from "node:http";
import { authorize, type Principal as GuardPrincipal } from "@gatehouse/guard";
import { permissionsFor } from "@gatehouse/tokens";
import cors from "cors";
import express, { type Request, type RequestHandler, type Router } from "express";
import helmet from "helmet";
import { z } from "zod";
import type { App } from "../app.ts";
import { ORG_ROLES, PLANS, TEAM_ROLES } from "../db/schema.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "../domain/api-keys.ts";
import { listAudit } from "../domain/audit.ts";
import { addMember, changeRole, listMembers, listMembershipsForUser, removeMember } from "../domain/memberships.ts";
import { changePlan, onboard } from "../domain/organizations.ts";
import {
  addTeamMember,
  createTeam,
  listTeamMembers,
  listTeams,
  removeTeamMember,
  renameTeam,
  setTeamRole,
  softDeleteTeam,
} from "../domain/teams.ts";
import { findUserByEmail } from "../domain/users.ts";
import type { Principal } from "../exchange/exchange.ts";
import { JWKS_CACHE_CONTROL } from "../keys/store.ts";
import { assertAllowedOrigin, credentialDigestOf, sessionCredential } from "./credentials.ts";
import { ApiError, errorHandler, notFound, wrap } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { accessLog, jsonBody, requestId } from "./middleware.ts";
import { endClient, RateLimiter, takeForCaller } from "./rate-limit.ts";
import { issueToken, staticHeaders, tokenLane } from "./token.ts";
import { API_KEY_FIELDS, parseBody } from "./validate.ts";

const uuid = z.string().uuid();

// Request bodies, built once: constructing a zod schema per request is work for nothing.
const BODY = {
  onboarding: z.object({ name: z.string().trim().min(1).max(200), plan: z.enum(PLANS).optional() }).strict(),
  addMember: z
    .object({ identity_id: uuid.optional(), email: z.string().email().max(320).optional(), role: z.enum(ORG_ROLES) })
    .strict()
    .refine(
      (b) => (b.identity_id === undefined) !== (b.email === undefined),
      "send identity_id or email (one of them)",
    ),
  role: z.object({ role: z.enum(ORG_ROLES) }).strict(),
  plan: z.object({ plan: z.enum(PLANS) }).strict(),
  apiKey: z.object({ ...API_KEY_FIELDS, as_user: z.boolean().default(false) }).strict(),
  team: z.object({ name: z.string().trim().min(1).max(100) }).strict(),
  teamMember: z.object({ role: z.enum(TEAM_ROLES).default("member") }).strict(),
};

/** Resolves the signed-in caller for the organization API (cookie or session token). */
function signedIn(app: App, allowed: ReadonlySet<string>) {
  return async (req: Request, orgId?: string): Promise<Caller> => {
    const cred = sessionCredential(req, app.cfg.kratos.cookieName);
    if (!cred) throw new ApiError(401, "unauthenticated", "sign in first: no Kratos session cookie or X-Session-Token");
    if (cred.kind === "cookie") assertAllowedOrigin(req, allowed);
    const { session } = await app.exchange.sessions.resolve(cred);
    const principal = await app.exchange.principal(session, orgId);
    const email = session.identity.traits.email;
    return {
      ...principal,
      email,
      // The same principal shape and authorization step as the guard the product ships.
      guard: {
        subject: principal.identityId,
        sessionId: session.id,
        email,
        ...(principal.organizationId ? { organizationId: principal.organizationId } : {}),
        ...(principal.plan ? { plan: principal.plan } : {}),
        ...(principal.role ? { role: principal.role } : {}),
        teams: principal.teams,
        permissions: permissionsFor(principal.role, app.cfg.permissions),
        aal: session.aal === "aal2" || session.aal === "aal3" ? "aal2" : "aal1",
        amr: session.amr,
        via: "session",
        token: "",
        expiresAt: Math.floor(session.expiresAt.getTime() / 1000),
      },
    };
  };
}

type Caller = Principal & { email: string; guard: GuardPrincipal };

/** Role check through the guard core's authorize step (no implied role hierarchy, as there). */
const need = (p: Caller, roles: readonly string[]) => {
  const v = authorize(p.guard, { roles });
  if (!v.ok) throw new ApiError(403, "forbidden", v.message);
};

export function publicRouter(
  app: App,
  tokenLimiter: RateLimiter,
  clientAddress: (req: IncomingMessage) => string | undefined,
): Router {
  const r = express.Router();
  const allowed = new Set(app.cfg.corsOrigins);
  const me = signedIn(app, allowed);
  // Credential-checking routes besides /v1/token count against the same per-caller limit.
  const limitCaller: RequestHandler = (req, _res, next) => {
    try {
      const credentialDigest = credentialDigestOf(undefined, sessionCredential(req, app.cfg.kratos.cookieName));
      takeForCaller(tokenLimiter, { credentialDigest, clientAddress: clientAddress(req) });
      next();
    } catch (e) {
      next(e);
    }
  };
  const ctx = (req: Request, actor: string) => ({ actor, requestId: String(req.res?.locals.requestId ?? "") });

  r.get(
    "/.well-known/jwks.json",
    wrap(async (_req, res) => {
      const doc = await app.keys.jwks();
      res.setHeader("Cache-Control", JWKS_CACHE_CONTROL);
      res.type("application/json").json(doc);
    }),
  );

  // The ordinary requests never get here: tokenLane (token.ts) answers them first.
  r.post(
    "/v1/token",
    wrap(async (req, res) => {
      const out = await issueToken(app, allowed, tokenLimiter, {
        headers: req.headers,
        body: req.body,
        queryOrganization: req.query.organization_id,
        clientAddress: clientAddress(req),
      });
      res.setHeader("Cache-Control", "no-store");
      res.json(out);
    }),
  );

  r.post(
    "/v1/onboarding",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.onboarding);
      const p = await me(req);
      const user = await app.users.get(p.identityId);
      const tier = user?.signupTier;
      const plan = body.plan ?? PLANS.find((x) => x === tier) ?? "starter";
      const out = await onboard(app.db, { identityId: p.identityId, name: body.name, plan }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: p.identityId });
      res.status(out.created ? 201 : 200).json({ organization: out.organization, created: out.created });
    }),
  );

  r.get(
    "/v1/organizations",
    wrap(async (req, res) => {
      const p = await me(req);
      res.json({ organizations: await listMembershipsForUser(app.db, p.identityId) });
    }),
  );

  r.get(
    "/v1/organizations/:orgId/members",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      await me(req, orgId);
      res.json({ members: await listMembers(app.db, orgId) });
    }),
  );

  r.post(
    "/v1/organizations/:orgId/members",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, BODY.addMember);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      if (body.role === "owner") need(p, ["owner"]);
      let identityId = body.identity_id;
      if (body.email !== undefined) {
        const found = await findUserByEmail(app.db, body.email);
        if (!found)
          throw new ApiError(404, "not_found", "nobody with that email has signed up yet; ask them to register first");
        identityId = found.identityId;
      }
      const id = identityId ?? "";
      await app.ensureUser(id);
      const m = await addMember(app.db, { orgId, identityId: id, role: body.role }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id });
      res.status(201).json({ membership: m });
    }),
  );

  r.patch(
    "/v1/organizations/:orgId/members/:identityId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const identityId = parseParam(req.params.identityId);
      const body = parseBody(req, BODY.role);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      if (body.role === "owner") need(p, ["owner"]);
      const m = await changeRole(app.db, { orgId, identityId, role: body.role }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: identityId });
      res.json({ membership: m });
    }),
  );

  r.delete(
    "/v1/organizations/:orgId/members/:identityId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const identityId = parseParam(req.params.identityId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      await removeMember(app.db, { orgId, identityId }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: identityId });
      res.status(204).end();
    }),
  );

  // --- Organization: plan (owners) and audit log (owners, admins) -------------
  r.patch(
    "/v1/organizations/:orgId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, BODY.plan);
      const p = await me(req, orgId);
      need(p, ["owner"]);
      const org = await changePlan(app.db, orgId, body.plan, ctx(req, p.identityId));
      // The plan is in every member's token: all of them get fresh claims.
      for (const m of await listMembers(app.db, orgId)) await app.bus.publish({ t: "identity", id: m.identityId });
      res.json({ organization: org });
    }),
  );

  r.get(
    "/v1/organizations/:orgId/audit",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      const limitRaw = typeof req.query.limit === "string" ? Number(req.query.limit) : 50;
      if (!Number.isInteger(limitRaw) || limitRaw < 1 || limitRaw > 500)
        throw new ApiError(400, "bad_request", "limit: an integer from 1 to 500");
      const before = typeof req.query.before === "string" ? req.query.before : undefined;
      res.json({
        entries: await listAudit(app.db, {
          organizationId: orgId,
          limit: limitRaw,
          ...(before ? { beforeId: before } : {}),
        }),
      });
    }),
  );

  // --- API keys (owners and admins) -------------------------------------------
  r.post(
    "/v1/organizations/:orgId/api-keys",
    limitCaller,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, BODY.apiKey);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      const out = await createApiKey(
        app.db,
        {
          orgId,
          name: body.name,
          scopes: body.scopes,
          ...(body.as_user ? { identityId: p.identityId } : {}),
          ...(body.expires_at ? { expiresAt: new Date(body.expires_at) } : {}),
        },
        ctx(req, p.identityId),
      );
      res.setHeader("Cache-Control", "no-store");
      // The raw key is shown once, here, and never again.
      res.status(201).json({ api_key: out.apiKey, key: out.rawKey });
    }),
  );

  r.get(
    "/v1/organizations/:orgId/api-keys",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      res.json({ api_keys: await listApiKeys(app.db, orgId) });
    }),
  );

  r.delete(
    "/v1/organizations/:orgId/api-keys/:keyId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const keyId = parseParam(req.params.keyId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      await revokeApiKey(app.db, { orgId, id: keyId }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: `api_key:${keyId}` });
      await app.revocation.markRevoked(`api_key:${keyId}`);
      res.status(204).end();
    }),
  );

  // --- Teams ------------------------------------------------------------------
  r.get(
    "/v1/organizations/:orgId/teams",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      await me(req, orgId);
      res.json({ teams: await listTeams(app.db, orgId) });
    }),
  );

  r.post(
    "/v1/organizations/:orgId/teams",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, BODY.team);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      res.status(201).json({ team: await createTeam(app.db, { orgId, name: body.name }, ctx(req, p.identityId)) });
    }),
  );

  r.patch(
    "/v1/organizations/:orgId/teams/:teamId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const body = parseBody(req, BODY.team);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      res.json({ team: await renameTeam(app.db, { orgId, teamId, name: body.name }, ctx(req, p.identityId)) });
    }),
  );

  r.delete(
    "/v1/organizations/:orgId/teams/:teamId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      const members = await listTeamMembers(app.db, { orgId, teamId });
      await softDeleteTeam(app.db, { orgId, teamId }, ctx(req, p.identityId));
      for (const m of members) await app.bus.publish({ t: "identity", id: m.identityId });
      res.status(204).end();
    }),
  );

  r.put(
    "/v1/organizations/:orgId/teams/:teamId/members/:identityId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const identityId = parseParam(req.params.identityId);
      const body = parseBody(req, BODY.teamMember);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      const existing = (await listTeamMembers(app.db, { orgId, teamId })).find((m) => m.identityId === identityId);
      const out = existing
        ? await setTeamRole(app.db, { orgId, teamId, identityId, role: body.role }, ctx(req, p.identityId))
        : await addTeamMember(app.db, { orgId, teamId, identityId, role: body.role }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: identityId });
      res.status(existing ? 200 : 201).json({ member: out });
    }),
  );

  r.delete(
    "/v1/organizations/:orgId/teams/:teamId/members/:identityId",
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const identityId = parseParam(req.params.identityId);
      const p = await me(req, orgId);
      need(p, ["owner", "admin"]);
      await removeTeamMember(app.db, { orgId, teamId, identityId }, ctx(req, p.identityId));
      await app.bus.publish({ t: "identity", id: identityId });
      res.status(204).end();
    }),
  );

  // --- Logout: revoke my own session everywhere --------------------------------
  r.post(
    "/v1/logout",
    wrap(async (req, res) => {
      const cred = sessionCredential(req, app.cfg.kratos.cookieName);
      if (!cred) throw new ApiError(401, "unauthenticated", "no session to log out");
      if (cred.kind === "cookie") assertAllowedOrigin(req, allowed);
      const { session } = await app.exchange.sessions.resolve(cred);
      await app.revocation.revokeSession(session.id, ctx(req, session.identity.id));
      res.status(204).end();
    }),
  );

  return r;
}

function parseParam(v: string | string[] | undefined): string {
  const r = uuid.safeParse(v);
  if (!r.success) throw new ApiError(400, "bad_request", "path parameter must be a UUID");
  return r.data;
}

/**
 * The public listener's request handler: POST /v1/token's node:http lane first
 * (token.ts), then the Express app for everything else.
 */
export function publicApp(app: App): RequestListener {
  const e = express();
  e.disable("x-powered-by");
  e.set("trust proxy", app.cfg.trustProxy);
  const allowed = new Set(app.cfg.corsOrigins);
  // One limiter for the lane and the Express routes, so a client's count is one count.
  const tokenLimiter = new RateLimiter({ windowMs: 60_000, max: app.cfg.rateLimitPerMinute, name: "token" });
  const security = helmet();
  // CORS: credentials only ever for an allowlisted origin; never reflected, never null.
  const corsMiddleware = cors({
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ["GET", "POST", "PATCH", "DELETE"],
    allowedHeaders: ["Content-Type", "X-Session-Token", "X-Request-Id", "Authorization"],
    maxAge: 600,
  });
  e.use(requestId);
  e.use(accessLog(app.log, app.metrics, "public"));
  e.use(security);
  e.use(corsMiddleware);
  e.use(jsonBody(app.cfg.bodyLimitBytes));
  e.use(healthRoutes(app));
  const trust = e.get("trust proxy fn") as (addr: string, hop: number) => boolean;
  const clientAddress = (req: IncomingMessage) => endClient(req, trust);
  e.use(publicRouter(app, tokenLimiter, clientAddress));
  e.use(notFound);
  e.use(errorHandler(app.log));

  const lane = tokenLane({
    app,
    allowedOrigins: allowed,
    limiter: tokenLimiter,
    securityHeaders: staticHeaders(security),
    clientAddress,
  });
  return (req, res) => {
    if (!lane(req, res)) e(req, res);
  };
}

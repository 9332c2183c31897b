// The public listener: token exchange, JWKS, and the organization API for
// signed-in users. Safe to expose to the internet.

import type { IncomingMessage, RequestListener } from "node:http";
import type { SessionSummary } from "@gatehouse/kratos";
import cors from "cors";
import express, { type Request, type RequestHandler, type Router } from "express";
import helmet from "helmet";
import type { App } from "../app.ts";
import { PLANS } from "../db/schema.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "../domain/api-keys.ts";
import { listAudit, listSecurityEvents } from "../domain/audit.ts";
import { asMember } from "../domain/authz.ts";
import { acceptInvitation, createInvitation, listInvitations, revokeInvitation } from "../domain/invitations.ts";
import {
  changeRole,
  chooseDefaultOrganization,
  listMembers,
  listMembershipsForUser,
  removeMember,
} from "../domain/memberships.ts";
import { onboard, softDeleteOrganization, updateOrganization } from "../domain/organizations.ts";
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
import { upsertUserFromKratos } from "../domain/users.ts";
import { createSubscription, deleteSubscription, listSubscriptions } from "../domain/webhooks.ts";
import type { Principal } from "../exchange/exchange.ts";
import { JWKS_CACHE_CONTROL } from "../keys/store.ts";
import { assertAllowedOrigin, credentialDigestOf, sessionCredential } from "./credentials.ts";
import { ApiError, errorHandler, notFound, wrap } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { accessLog, jsonBody, requestId } from "./middleware.ts";
import { openApiDocument } from "./openapi.ts";
import { endClient, RateLimiter, takeForCaller } from "./rate-limit.ts";
import { on, REQUEST, ROUTES, reply } from "./routes.ts";
import { fixedHeaders, isTokenRequest, tokenDoor } from "./token.ts";
import { parseBody, parsePage, parseParam, parseValue } from "./validate.ts";

/** Invitations one member may create per hour (per instance), on top of the per-client limit. */
const INVITATIONS_PER_HOUR = 100;

/** Resolves the signed-in caller for the organization API (cookie or session token). */
function signedIn(app: App, allowed: ReadonlySet<string>) {
  return async (req: Request, orgId?: string): Promise<Caller> => {
    const cred = sessionCredential(req, app.cfg.kratos.cookieName);
    if (!cred) throw new ApiError("unauthenticated", "sign in first: no Kratos session cookie or X-Session-Token");
    if (cred.kind === "cookie") assertAllowedOrigin(req, allowed);
    const { session } = await app.exchange.sessions.resolve(cred);
    const principal = await app.exchange.principal(session, orgId);
    // Who asks, for the domain layer, which decides what they may do (domain/authz.ts).
    return {
      ...principal,
      sessionId: session.id,
      email: session.identity.traits.email,
      by: asMember(principal.identityId, app.cfg.permissions),
    };
  };
}

type Caller = Principal & { sessionId: string; email: string; by: ReturnType<typeof asMember> };

/** One of the person's sessions as GET /v1/me/sessions shows it. */
function sessionView(s: SessionSummary, currentId: string) {
  return {
    id: s.id,
    current: s.id === currentId,
    aal: s.aal,
    authentication_methods: s.amr,
    created_at: s.issuedAt.toISOString(),
    // Kratos records no later activity than the last sign-in or refresh.
    last_active_at: s.authenticatedAt.toISOString(),
    expires_at: s.expiresAt.toISOString(),
    devices: s.devices.map((d) => ({ user_agent: d.userAgent, ip_address: d.ipAddress, location: d.location })),
  };
}

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
  // Per inviter, on top of the per-client limit: invitations are cheap to create.
  const invitationLimiter = new RateLimiter({ windowMs: 3_600_000, max: INVITATIONS_PER_HOUR, name: "invitation" });

  // The contract (openapi.ts): public, the same for every caller, changes only with a deploy.
  on(r, ROUTES.openapi, (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.json(openApiDocument());
  });

  on(
    r,
    ROUTES.jwks,
    wrap(async (_req, res) => {
      const doc = await app.keys.jwks();
      res.setHeader("Cache-Control", JWKS_CACHE_CONTROL);
      res.type("application/json").json(doc);
    }),
  );

  // RFC 8414 metadata, so a verifier in any language finds the issuer, the JWKS and
  // the token endpoint from one URL instead of guessing them (docs/verifying-tokens.md).
  const issuer = app.cfg.token.issuer.replace(/\/+$/, "");
  const metadata = {
    issuer: app.cfg.token.issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/v1/token`,
    grant_types_supported: ["urn:gatehouse:session", "urn:gatehouse:api-key"],
    token_endpoint_auth_methods_supported: ["none"],
    access_token_signing_alg_values_supported: [app.cfg.token.alg],
    access_token_typ: "at+jwt",
    audiences: app.cfg.token.audience,
  };
  on(r, ROUTES.metadata, (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.json(metadata);
  });

  // POST /v1/token never gets here: tokenDoor (token.ts) answers it first.

  on(
    r,
    ROUTES.onboarding,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.onboarding);
      const p = await me(req);
      const user = await app.users.get(p.identityId);
      const tier = user?.signupTier;
      const plan = body.plan ?? PLANS.find((x) => x === tier) ?? "starter";
      const out = await onboard(app.db, { identityId: p.identityId, name: body.name, plan }, ctx(req, p.identityId));
      if (out.created) reply(res, ROUTES.onboarding, 201, { organization: out.organization, created: true as const });
      else reply(res, ROUTES.onboarding, 200, { organization: out.organization, created: false as const });
    }),
  );

  on(
    r,
    ROUTES.myOrganizations,
    wrap(async (req, res) => {
      const p = await me(req);
      reply(res, ROUTES.myOrganizations, 200, { organizations: await listMembershipsForUser(app.db, p.identityId) });
    }),
  );

  on(
    r,
    ROUTES.defaultOrganization,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.defaultOrganization);
      const p = await me(req);
      await chooseDefaultOrganization(
        app.db,
        { identityId: p.identityId, orgId: body.organization_id },
        ctx(req, p.identityId),
      );
      res.status(204).end();
    }),
  );

  // --- Members (who may do what: domain/authz.ts) -------------------------------
  on(
    r,
    ROUTES.members,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      reply(res, ROUTES.members, 200, { members: await listMembers(app.db, orgId, p.by) });
    }),
  );

  // Nobody is put in an organization without consent: members join by invitation.
  on(
    r,
    ROUTES.addMember,
    wrap(async () => {
      throw new ApiError(
        "gone",
        "members join by invitation: POST /v1/organizations/:orgId/invitations, then the invitee accepts",
      );
    }),
  );

  on(
    r,
    ROUTES.changeRole,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const identityId = parseParam(req.params.identityId);
      const body = parseBody(req, REQUEST.role);
      const p = await me(req, orgId);
      const m = await changeRole(app.db, { orgId, identityId, role: body.role }, ctx(req, p.identityId), p.by);
      reply(res, ROUTES.changeRole, 200, { membership: m });
    }),
  );

  on(
    r,
    ROUTES.removeMember,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const identityId = parseParam(req.params.identityId);
      const p = await me(req, orgId);
      await removeMember(app.db, { orgId, identityId }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  // --- Invitations (owners and admins invite; the invitee accepts) ---------------
  on(
    r,
    ROUTES.createInvitation,
    limitCaller,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, REQUEST.invitation);
      const p = await me(req, orgId);
      invitationLimiter.take(p.identityId);
      const out = await createInvitation(
        app.db,
        {
          orgId,
          email: body.email,
          role: body.role,
          ...(body.expires_at ? { expiresAt: new Date(body.expires_at) } : {}),
        },
        ctx(req, p.identityId),
        p.by,
      );
      res.setHeader("Cache-Control", "no-store");
      // The token is shown once, here, and never again. The answer is the same whether
      // or not anyone has an account with that address.
      reply(res, ROUTES.createInvitation, 201, { invitation: out.invitation, token: out.token });
    }),
  );

  on(
    r,
    ROUTES.invitations,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      const all = parseValue(REQUEST.invitationsQuery, req.query).all === "true";
      reply(res, ROUTES.invitations, 200, { invitations: await listInvitations(app.db, orgId, p.by, { all }) });
    }),
  );

  on(
    r,
    ROUTES.revokeInvitation,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const id = parseParam(req.params.invitationId);
      const p = await me(req, orgId);
      await revokeInvitation(app.db, { orgId, id }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  on(
    r,
    ROUTES.acceptInvitation,
    limitCaller,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.accept);
      const cred = sessionCredential(req, app.cfg.kratos.cookieName);
      if (!cred) throw new ApiError("unauthenticated", "sign in first: no Kratos session cookie or X-Session-Token");
      if (cred.kind === "cookie") assertAllowedOrigin(req, allowed);
      // Straight from Kratos, not from the session cache: the address and whether it is
      // verified must be what they are now (a cached answer may predate verification,
      // or an address change).
      const session = await app.kratos.whoami(cred);
      const identity = session.identity;
      const name = identity.traits.name;
      await upsertUserFromKratos(
        app.db,
        {
          identityId: identity.id,
          email: identity.traits.email,
          ...(name?.first ? { nameFirst: name.first } : {}),
          ...(name?.last ? { nameLast: name.last } : {}),
        },
        { actor: "system", requestId: String(res.locals.requestId ?? "") },
      );
      const out = await acceptInvitation(
        app.db,
        body.token,
        { identityId: identity.id, email: identity.traits.email, emailVerified: identity.emailVerified },
        ctx(req, identity.id),
      );
      res.setHeader("Cache-Control", "no-store");
      reply(res, ROUTES.acceptInvitation, 200, {
        membership: out.membership,
        organization_id: out.membership.organizationId,
      });
    }),
  );

  // --- Organization: name (owners, admins), plan, MFA requirement and deletion (owners), audit log --
  on(
    r,
    ROUTES.updateOrganization,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, REQUEST.organization);
      const p = await me(req, orgId);
      const change = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.plan ? { plan: body.plan } : {}),
        ...(body.require_mfa !== undefined ? { requireMfa: body.require_mfa } : {}),
      };
      const org = await updateOrganization(app.db, orgId, change, ctx(req, p.identityId), p.by);
      reply(res, ROUTES.updateOrganization, 200, { organization: org });
    }),
  );

  on(
    r,
    ROUTES.deleteOrganization,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      await softDeleteOrganization(app.db, orgId, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  // Filters: actor, action (a kind), type (comma-separated), since/until (RFC 3339); newest first,
  // `next_cursor` (or null) goes back as `before` for the next page.
  on(
    r,
    ROUTES.audit,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const q = parseValue(REQUEST.auditQuery, req.query);
      const page = parsePage(req.query);
      const p = await me(req, orgId);
      const entries = await listAudit(
        app.db,
        {
          organizationId: orgId,
          ...page,
          ...(q.actor ? { actor: q.actor } : {}),
          ...(q.action ? { actionKind: q.action } : {}),
          ...(q.type ? { actions: q.type.split(",") } : {}),
          ...(q.since ? { since: new Date(q.since) } : {}),
          ...(q.until ? { until: new Date(q.until) } : {}),
        },
        p.by,
      );
      reply(res, ROUTES.audit, 200, { entries, next_cursor: nextCursor(entries, page.limit) });
    }),
  );

  // The signed-in person's own security history: identity from their session only.
  on(
    r,
    ROUTES.securityEvents,
    wrap(async (req, res) => {
      const page = parsePage(req.query);
      const p = await me(req);
      const events = await listSecurityEvents(app.db, p.identityId, page);
      reply(res, ROUTES.securityEvents, 200, { events, next_cursor: nextCursor(events, page.limit) });
    }),
  );

  // --- Webhook subscriptions (owners; their organization's events only) ---------
  on(
    r,
    ROUTES.createWebhook,
    limitCaller,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, REQUEST.webhook);
      const p = await me(req, orgId);
      const out = await createSubscription(
        app.db,
        {
          organizationId: orgId,
          url: body.url,
          eventTypes: body.event_types,
          allowInternalUrls: app.cfg.webhookDelivery.allowInternalUrls,
        },
        ctx(req, p.identityId),
        p.by,
        app.secretBox,
      );
      res.setHeader("Cache-Control", "no-store");
      // The signing secret is shown once, here, and never again.
      reply(res, ROUTES.createWebhook, 201, { subscription: out.subscription, secret: out.secret });
    }),
  );

  on(
    r,
    ROUTES.webhooks,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      reply(res, ROUTES.webhooks, 200, { subscriptions: await listSubscriptions(app.db, orgId, p.by) });
    }),
  );

  on(
    r,
    ROUTES.deleteWebhook,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const id = parseParam(req.params.id);
      const p = await me(req, orgId);
      await deleteSubscription(app.db, { organizationId: orgId, id }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  // --- API keys (owners and admins) -------------------------------------------
  on(
    r,
    ROUTES.createApiKey,
    limitCaller,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, REQUEST.apiKey);
      const p = await me(req, orgId);
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
        p.by,
      );
      res.setHeader("Cache-Control", "no-store");
      // The raw key is shown once, here, and never again.
      reply(res, ROUTES.createApiKey, 201, { api_key: out.apiKey, key: out.rawKey });
    }),
  );

  on(
    r,
    ROUTES.apiKeys,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      reply(res, ROUTES.apiKeys, 200, { api_keys: await listApiKeys(app.db, orgId, p.by) });
    }),
  );

  on(
    r,
    ROUTES.revokeApiKey,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const keyId = parseParam(req.params.keyId);
      const p = await me(req, orgId);
      await revokeApiKey(app.db, { orgId, id: keyId }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  // --- Teams ------------------------------------------------------------------
  on(
    r,
    ROUTES.teams,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const p = await me(req, orgId);
      reply(res, ROUTES.teams, 200, { teams: await listTeams(app.db, orgId, p.by) });
    }),
  );

  on(
    r,
    ROUTES.createTeam,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const body = parseBody(req, REQUEST.team);
      const p = await me(req, orgId);
      const team = await createTeam(app.db, { orgId, name: body.name }, ctx(req, p.identityId), p.by);
      reply(res, ROUTES.createTeam, 201, { team });
    }),
  );

  on(
    r,
    ROUTES.renameTeam,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const body = parseBody(req, REQUEST.team);
      const p = await me(req, orgId);
      const team = await renameTeam(app.db, { orgId, teamId, name: body.name }, ctx(req, p.identityId), p.by);
      reply(res, ROUTES.renameTeam, 200, { team });
    }),
  );

  on(
    r,
    ROUTES.deleteTeam,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const p = await me(req, orgId);
      await softDeleteTeam(app.db, { orgId, teamId }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  on(
    r,
    ROUTES.teamMembers,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const p = await me(req, orgId);
      reply(res, ROUTES.teamMembers, 200, { members: await listTeamMembers(app.db, { orgId, teamId }, p.by) });
    }),
  );

  on(
    r,
    ROUTES.putTeamMember,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const identityId = parseParam(req.params.identityId);
      const body = parseBody(req, REQUEST.teamMember);
      const p = await me(req, orgId);
      const existing = (await listTeamMembers(app.db, { orgId, teamId }, p.by)).find(
        (m) => m.identityId === identityId,
      );
      const out = existing
        ? await setTeamRole(app.db, { orgId, teamId, identityId, role: body.role }, ctx(req, p.identityId), p.by)
        : await addTeamMember(app.db, { orgId, teamId, identityId, role: body.role }, ctx(req, p.identityId), p.by);
      reply(res, ROUTES.putTeamMember, existing ? 200 : 201, { member: out });
    }),
  );

  on(
    r,
    ROUTES.removeTeamMember,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const teamId = parseParam(req.params.teamId);
      const identityId = parseParam(req.params.identityId);
      const p = await me(req, orgId);
      await removeTeamMember(app.db, { orgId, teamId, identityId }, ctx(req, p.identityId), p.by);
      res.status(204).end();
    }),
  );

  // --- My sessions: identity and current session from the caller's own session only ---
  on(
    r,
    ROUTES.mySessions,
    wrap(async (req, res) => {
      const p = await me(req);
      const list = await app.revocation.listOwnSessions(p.identityId);
      const sessions = list
        .map((s) => sessionView(s, p.sessionId))
        .sort((a, b) => Number(b.current) - Number(a.current) || b.last_active_at.localeCompare(a.last_active_at));
      res.setHeader("Cache-Control", "no-store");
      reply(res, ROUTES.mySessions, 200, { sessions });
    }),
  );

  on(
    r,
    ROUTES.revokeMySession,
    limitCaller,
    wrap(async (req, res) => {
      const sid = parseParam(req.params.sessionId);
      const p = await me(req);
      const out = await app.revocation.revokeOwnSessions(p.identityId, { only: sid }, ctx(req, p.identityId));
      // Someone else's session, or none: the same answer, so ids cannot be probed.
      if (out.revoked.length === 0) throw new ApiError("not_found", "no such session among yours");
      res.status(204).end();
    }),
  );

  on(
    r,
    ROUTES.revokeMyOtherSessions,
    limitCaller,
    wrap(async (req, res) => {
      parseValue(REQUEST.revokeOthersQuery, req.query);
      const p = await me(req);
      const out = await app.revocation.revokeOwnSessions(p.identityId, { except: p.sessionId }, ctx(req, p.identityId));
      reply(res, ROUTES.revokeMyOtherSessions, 200, { revoked: out.revoked.length });
    }),
  );

  // --- Logout: revoke my own session everywhere --------------------------------
  on(
    r,
    ROUTES.logout,
    wrap(async (req, res) => {
      const cred = sessionCredential(req, app.cfg.kratos.cookieName);
      if (!cred) throw new ApiError("unauthenticated", "no session to log out");
      if (cred.kind === "cookie") assertAllowedOrigin(req, allowed);
      const { session } = await app.exchange.sessions.resolve(cred);
      await app.revocation.revokeSession(session.id, ctx(req, session.identity.id));
      res.status(204).end();
    }),
  );

  return r;
}

/** The id to pass as `before` for the next page, or null when this page was the last. */
function nextCursor(rows: readonly { id: string }[], limit: number): string | null {
  return rows.length === limit ? (rows.at(-1)?.id ?? null) : null;
}

/**
 * The public listener's request handler: POST /v1/token through its own door
 * (token.ts), everything else through the Express app.
 */
export function publicApp(app: App): RequestListener {
  const e = express();
  e.disable("x-powered-by");
  e.set("trust proxy", app.cfg.trustProxy);
  const allowed = new Set(app.cfg.corsOrigins);
  // One limiter for the token door and the Express routes, so a client's count is one count.
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
  const body = jsonBody(app.cfg.bodyLimitBytes);
  e.use(requestId);
  e.use(accessLog(app.log, app.metrics, "public"));
  e.use(security);
  e.use(corsMiddleware);
  e.use(body);
  e.use(healthRoutes(app));
  const trust = e.get("trust proxy fn") as (addr: string, hop: number) => boolean;
  const clientAddress = (req: IncomingMessage) => endClient(req, trust);
  e.use(publicRouter(app, tokenLimiter, clientAddress));
  e.use(notFound);
  e.use(errorHandler(app.log));

  // The same middleware instances as the Express app's, so the door answers with the same headers.
  const door = tokenDoor({
    app,
    allowedOrigins: allowed,
    limiter: tokenLimiter,
    security: fixedHeaders(security),
    cors: corsMiddleware,
    body,
    clientAddress,
  });
  return (req, res) => {
    if (isTokenRequest(req)) door(req, res);
    else e(req, res);
  };
}

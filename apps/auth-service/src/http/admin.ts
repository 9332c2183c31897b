// The admin listener: key rotation, revocation, webhooks from Kratos, operator
// API-key management, metrics. Never exposed publicly; operator calls also need
// ADMIN_API_TOKEN, the Kratos webhook its own shared secret.
import { createHash, timingSafeEqual } from "node:crypto";
import { MAX_IDENTIFIER_LENGTH } from "@gatehouse/contracts";
import { createVerifier, isTokenError } from "@gatehouse/tokens";
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from "express";
import helmet from "helmet";
import { z } from "zod";
import type { App } from "../app.ts";
import { PLANS } from "../db/schema.ts";
import { createApiKey, revokeApiKey } from "../domain/api-keys.ts";
import { OPERATOR } from "../domain/authz.ts";
import { recordLock, unlockAccount } from "../domain/lockouts.ts";
import {
  createSubscription,
  deleteSubscription,
  listDeadLetters,
  listSubscriptions,
  replayDelivery,
} from "../domain/webhooks.ts";
import { receiveInbound } from "../events/inbound.ts";
import { handleLoginWebhook } from "../webhooks/login.ts";
import { handleMfaWebhook } from "../webhooks/mfa.ts";
import { handleProfileWebhook, handleRegistrationWebhook } from "../webhooks/registration.ts";
import { handleSessionsRevokedWebhook } from "../webhooks/sessions-revoked.ts";
import { ApiError, errorHandler, notFound, toApiError, wrap } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { accessLog, jsonBody, requestId } from "./middleware.ts";
import { API_KEY_FIELDS, parseBody, parsePage, parseValue, WEBHOOK_FIELDS } from "./validate.ts";

/** Constant-time comparison that does not leak the secret's length through timing either. */
export function secretEquals(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

// Request bodies (and one path), built once: constructing a zod schema per request is work for nothing.
const uuid = z.string().uuid();
/** An inbound event's envelope (events/inbound.ts): the sender's id, the type, the type's data. */
const inbound = { id: uuid, occurred_at: z.string().datetime().optional() };
const BODY = {
  rotate: z.object({ force: z.boolean().optional() }).strict(),
  revoke: z.union([z.object({ session_id: uuid }).strict(), z.object({ identity_id: uuid }).strict()]),
  apiKey: z.object({ organization_id: uuid, identity_id: uuid.optional(), ...API_KEY_FIELDS }).strict(),
  apiKeyPath: z.object({ orgId: uuid, keyId: uuid }),
  introspect: z.object({ token: z.string().min(1).max(16_384) }).strict(),
  webhook: z.object({ ...WEBHOOK_FIELDS, organization_id: uuid.optional() }).strict(),
  deliveryId: z.string().regex(/^[1-9][0-9]{0,18}$/),
  inboundEvent: z.discriminatedUnion("type", [
    z
      .object({
        ...inbound,
        type: z.enum(["user.deactivated", "user.reactivated"]),
        data: z.object({ identity_id: uuid }).strict(),
      })
      .strict(),
    z
      .object({
        ...inbound,
        type: z.enum(["customer.upgraded", "customer.downgraded"]),
        data: z.object({ organization_id: uuid, plan: z.enum(PLANS) }).strict(),
      })
      .strict(),
  ]),
  lockout: z
    .object({
      scope: z.enum(["login", "registration", "recovery", "verification"]),
      identifier: z.string().min(1).max(MAX_IDENTIFIER_LENGTH),
      retry_after_seconds: z.number().int().min(1).max(86_400),
    })
    .strict(),
};

const bearer = (req: Request) => {
  const auth = req.headers.authorization;
  return typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
};

/**
 * POST /admin/lockouts: the operator's token or LOCKOUT_REPORT_TOKEN (the gateway's,
 * good for nothing else). Mounted before operatorOnly, which would refuse the latter.
 */
function lockoutReporter(app: App): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req);
    const narrow = app.cfg.lockoutReportToken;
    // Both compared, always: which one matched is not told by the time taken.
    const asReporter = narrow !== undefined && secretEquals(token, narrow);
    const asOperator = secretEquals(token, app.cfg.adminApiToken);
    if (!asReporter && !asOperator) {
      next(new ApiError("unauthenticated", "lockout reports need Authorization: Bearer <LOCKOUT_REPORT_TOKEN>"));
      return;
    }
    next();
  };
}

function operatorOnly(app: App): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req);
    if (!secretEquals(token, app.cfg.adminApiToken)) {
      next(new ApiError("unauthenticated", "operator endpoints need Authorization: Bearer <ADMIN_API_TOKEN>"));
      return;
    }
    next();
  };
}

export function adminApp(app: App): express.Express {
  const e = express();
  e.disable("x-powered-by");
  e.use(requestId);
  e.use(accessLog(app.log, app.metrics, "admin"));
  e.use(helmet());
  e.use(jsonBody(app.cfg.bodyLimitBytes));
  e.use(healthRoutes(app));
  e.get("/metrics", (_req, res) => {
    res.type("text/plain; version=0.0.4").send(app.metrics.render());
  });

  const fromKratos = (req: Request) => {
    if (!secretEquals(req.headers["x-gatehouse-webhook-secret"] as string | undefined, app.cfg.webhookSecret)) {
      app.metrics.webhooks.inc({ outcome: "unauthenticated" });
      throw new ApiError("unauthenticated", "missing or wrong webhook secret");
    }
  };
  e.post(
    "/v1/webhooks/kratos/registration",
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleRegistrationWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.created ? "created" : "duplicate" });
      res.status(200).json({ ok: true, created: out.created });
    }),
  );
  e.post(
    "/v1/webhooks/kratos/login",
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleLoginWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.recorded ? "signed_in" : "duplicate" });
      res.status(200).json({ ok: true, recorded: out.recorded });
    }),
  );
  e.post(
    "/v1/webhooks/kratos/mfa-changed",
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleMfaWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.recorded ? "mfa_changed" : "duplicate" });
      res.status(200).json({ ok: true, recorded: out.recorded });
    }),
  );
  e.post(
    "/v1/webhooks/kratos/profile-updated",
    wrap(async (req, res) => {
      fromKratos(req);
      await handleProfileWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: "profile_updated" });
      res.status(200).json({ ok: true });
    }),
  );
  e.post(
    "/v1/webhooks/kratos/sessions-revoked",
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleSessionsRevokedWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: "sessions_revoked" });
      res.status(200).json({ ok: true, revoked: out.revoked });
    }),
  );
  // Kratos sends these hooks once and does not wait for them (response.ignore): a failed
  // one is an event lost, so it is counted and logged here (never its body).
  e.use("/v1/webhooks/kratos", ((err, req, _res, next) => {
    const out = toApiError(err);
    if (out.code !== "unauthenticated") {
      app.metrics.webhooks.inc({ outcome: "failed" });
      app.log.warn({ hook: req.path, error: out.code }, "Kratos webhook failed: its event is lost");
    }
    next(err);
  }) as ErrorRequestHandler);

  const verifier = createVerifier({
    jwks: app.keys.jwksSource(),
    issuer: app.cfg.token.issuer,
    audience: app.cfg.token.audience,
  });
  const ctx = (req: Request) => ({ actor: "operator", requestId: String(req.res?.locals.requestId ?? "") });

  // The gateway reports an account it locked (an operator lifts a lockout below; domain/lockouts.ts).
  e.post(
    "/admin/lockouts",
    lockoutReporter(app),
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.lockout);
      const lockedUntil = new Date(Date.now() + body.retry_after_seconds * 1000);
      await recordLock(
        app,
        { scope: body.scope, identifier: body.identifier, lockedUntil },
        { ...ctx(req), actor: "gateway" },
      );
      // The same answer whether or not the identifier is an account.
      res.status(202).end();
    }),
  );

  const ops = express.Router();
  ops.use(operatorOnly(app));

  ops.post(
    "/admin/keys/rotate",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.rotate);
      const result = await app.keys.rotate(ctx(req), { force: body.force ?? false });
      res.json(result);
    }),
  );

  ops.post(
    "/admin/sessions/revoke",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.revoke);
      const out =
        "session_id" in body
          ? await app.revocation.revokeSession(body.session_id, ctx(req))
          : await app.revocation.revokeIdentity(body.identity_id, ctx(req));
      res.json(out);
    }),
  );

  // Changes other services own (user.deactivated, customer.upgraded…), once per event id.
  ops.post(
    "/admin/events",
    wrap(async (req, res) => {
      const event = parseBody(req, BODY.inboundEvent);
      const out = await receiveInbound(app, event, ctx(req).requestId);
      res.json({ id: event.id, type: event.type, duplicate: out.duplicate, result: out.result });
    }),
  );

  ops.post(
    "/admin/users/:identityId/unlock",
    wrap(async (req, res) => {
      const identityId = parseValue(uuid, req.params.identityId);
      res.json(await unlockAccount(app, identityId, ctx(req)));
    }),
  );

  ops.post(
    "/admin/api-keys",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.apiKey);
      const out = await createApiKey(
        app.db,
        {
          orgId: body.organization_id,
          name: body.name,
          scopes: body.scopes,
          ...(body.identity_id ? { identityId: body.identity_id } : {}),
          ...(body.expires_at ? { expiresAt: new Date(body.expires_at) } : {}),
        },
        ctx(req),
        OPERATOR,
      );
      res.setHeader("Cache-Control", "no-store");
      res.status(201).json({ api_key: out.apiKey, key: out.rawKey });
    }),
  );

  ops.delete(
    "/admin/organizations/:orgId/api-keys/:keyId",
    wrap(async (req, res) => {
      const ids = BODY.apiKeyPath.safeParse(req.params);
      if (!ids.success) throw new ApiError("bad_request", "path parameters must be UUIDs");
      await revokeApiKey(app.db, { orgId: ids.data.orgId, id: ids.data.keyId }, ctx(req), OPERATOR);
      res.status(204).end();
    }),
  );

  ops.post(
    "/admin/webhooks/subscriptions",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.webhook);
      const out = await createSubscription(
        app.db,
        {
          url: body.url,
          eventTypes: body.event_types,
          ...(body.organization_id ? { organizationId: body.organization_id } : {}),
        },
        ctx(req),
        OPERATOR,
        app.secretBox,
      );
      res.setHeader("Cache-Control", "no-store");
      res.status(201).json({ subscription: out.subscription, secret: out.secret });
    }),
  );
  ops.get(
    "/admin/webhooks/subscriptions",
    wrap(async (_req, res) => {
      res.json({ subscriptions: await listSubscriptions(app.db, undefined, OPERATOR) });
    }),
  );
  ops.delete(
    "/admin/webhooks/subscriptions/:id",
    wrap(async (req, res) => {
      const id = uuid.safeParse(req.params.id);
      if (!id.success) throw new ApiError("bad_request", "path parameter must be a UUID");
      await deleteSubscription(app.db, { id: id.data }, ctx(req), OPERATOR);
      res.status(204).end();
    }),
  );
  ops.get(
    "/admin/webhooks/dead-letters",
    wrap(async (req, res) => {
      res.json({ dead_letters: await listDeadLetters(app.db, parsePage(req.query), OPERATOR) });
    }),
  );
  ops.post(
    "/admin/webhooks/deliveries/:id/replay",
    wrap(async (req, res) => {
      const id = BODY.deliveryId.safeParse(req.params.id);
      if (!id.success) throw new ApiError("bad_request", "path parameter must be a delivery id");
      await replayDelivery(app.db, id.data, ctx(req), OPERATOR);
      res.status(202).json({ replayed: id.data });
    }),
  );

  // RFC 7662-shaped introspection for guards that want revocation checks.
  // Fails closed: if the blocklist (Redis) cannot be read, the answer is 503, not "active".
  ops.post(
    "/admin/introspect",
    wrap(async (req, res) => {
      const body = parseBody(req, BODY.introspect);
      let claims: Awaited<ReturnType<typeof verifier.verify>>;
      try {
        claims = await verifier.verify(body.token);
      } catch (e) {
        if (isTokenError(e) && e.code !== "jwks_unavailable") {
          res.json({ active: false });
          return;
        }
        throw e;
      }
      if (await app.revocation.isRevoked(claims.sid)) {
        res.json({ active: false });
        return;
      }
      res.json({ active: true, token_type: "access_token", ...claims });
    }),
  );

  e.use(ops);
  e.use(notFound);
  e.use(errorHandler(app.log));
  return e;
}

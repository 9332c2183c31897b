// The admin listener: key rotation, revocation, webhooks from Kratos, operator
// API-key management, metrics. Never exposed publicly; operator calls also need
// ADMIN_API_TOKEN, the Kratos webhook its own shared secret.
import { createHash, timingSafeEqual } from "node:crypto";
import { createVerifier, isTokenError } from "@gatehouse/tokens";
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from "express";
import helmet from "helmet";
import type { App } from "../app.ts";
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
import { on, REQUEST, ROUTES } from "./routes.ts";
import { parseBody, parsePage, parseParam } from "./validate.ts";

/** Constant-time comparison that does not leak the secret's length through timing either. */
export function secretEquals(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

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
  on(e, ROUTES.metrics, (_req, res) => {
    res.type("text/plain; version=0.0.4").send(app.metrics.render());
  });

  const fromKratos = (req: Request) => {
    if (!secretEquals(req.headers["x-gatehouse-webhook-secret"] as string | undefined, app.cfg.webhookSecret)) {
      app.metrics.webhooks.inc({ outcome: "unauthenticated" });
      throw new ApiError("unauthenticated", "missing or wrong webhook secret");
    }
  };
  on(
    e,
    ROUTES.registrationWebhook,
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleRegistrationWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.created ? "created" : "duplicate" });
      res.status(200).json({ ok: true, created: out.created });
    }),
  );
  on(
    e,
    ROUTES.loginWebhook,
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleLoginWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.recorded ? "signed_in" : "duplicate" });
      res.status(200).json({ ok: true, recorded: out.recorded });
    }),
  );
  on(
    e,
    ROUTES.mfaWebhook,
    wrap(async (req, res) => {
      fromKratos(req);
      const out = await handleMfaWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: out.recorded ? "mfa_changed" : "duplicate" });
      res.status(200).json({ ok: true, recorded: out.recorded });
    }),
  );
  on(
    e,
    ROUTES.profileWebhook,
    wrap(async (req, res) => {
      fromKratos(req);
      await handleProfileWebhook(app, req);
      app.metrics.webhooks.inc({ outcome: "profile_updated" });
      res.status(200).json({ ok: true });
    }),
  );
  on(
    e,
    ROUTES.sessionsRevokedWebhook,
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
  on(
    e,
    ROUTES.lockout,
    lockoutReporter(app),
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.lockout);
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

  on(
    ops,
    ROUTES.rotateKeys,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.rotate);
      const result = await app.keys.rotate(ctx(req), { force: body.force ?? false });
      res.json(result);
    }),
  );

  on(
    ops,
    ROUTES.revokeSessions,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.revoke);
      const out =
        "session_id" in body
          ? await app.revocation.revokeSession(body.session_id, ctx(req))
          : await app.revocation.revokeIdentity(body.identity_id, ctx(req));
      res.json(out);
    }),
  );

  // Changes other services own (user.deactivated, customer.upgraded…), once per event id.
  on(
    ops,
    ROUTES.inboundEvents,
    wrap(async (req, res) => {
      const event = parseBody(req, REQUEST.inboundEvent);
      const out = await receiveInbound(app, event, ctx(req).requestId);
      res.json({ id: event.id, type: event.type, duplicate: out.duplicate, result: out.result });
    }),
  );

  on(
    ops,
    ROUTES.unlock,
    wrap(async (req, res) => {
      const identityId = parseParam(req.params.identityId);
      res.json(await unlockAccount(app, identityId, ctx(req)));
    }),
  );

  on(
    ops,
    ROUTES.adminCreateApiKey,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.adminApiKey);
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

  on(
    ops,
    ROUTES.adminRevokeApiKey,
    wrap(async (req, res) => {
      const orgId = parseParam(req.params.orgId);
      const keyId = parseParam(req.params.keyId);
      await revokeApiKey(app.db, { orgId, id: keyId }, ctx(req), OPERATOR);
      res.status(204).end();
    }),
  );

  on(
    ops,
    ROUTES.adminCreateWebhook,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.adminWebhook);
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
  on(
    ops,
    ROUTES.adminWebhooks,
    wrap(async (_req, res) => {
      res.json({ subscriptions: await listSubscriptions(app.db, undefined, OPERATOR) });
    }),
  );
  on(
    ops,
    ROUTES.adminDeleteWebhook,
    wrap(async (req, res) => {
      await deleteSubscription(app.db, { id: parseParam(req.params.id) }, ctx(req), OPERATOR);
      res.status(204).end();
    }),
  );
  on(
    ops,
    ROUTES.deadLetters,
    wrap(async (req, res) => {
      res.json({ dead_letters: await listDeadLetters(app.db, parsePage(req.query), OPERATOR) });
    }),
  );
  on(
    ops,
    ROUTES.replayDelivery,
    wrap(async (req, res) => {
      const id = REQUEST.deliveryPath.shape.id.safeParse(req.params.id);
      if (!id.success) throw new ApiError("bad_request", "path parameter must be a delivery id");
      await replayDelivery(app.db, id.data, ctx(req), OPERATOR);
      res.status(202).json({ replayed: id.data });
    }),
  );

  // RFC 7662-shaped introspection for guards that want revocation checks.
  // Fails closed: if the blocklist (Redis) cannot be read, the answer is 503, not "active".
  on(
    ops,
    ROUTES.introspect,
    wrap(async (req, res) => {
      const body = parseBody(req, REQUEST.introspect);
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

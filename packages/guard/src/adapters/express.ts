// Express entry: route-level middleware around the core guard. Sets `req.auth` to
// the typed principal; denies with JSON {error, message, request_id}; redirects
// browsers with 303. Identity headers sent by the client are removed from the
// request before anything else runs, whatever the decision.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { validateRule } from "../core/authorize.ts";
import type { Guard } from "../core/guard.ts";
import type { GuardOptions } from "../core/options.ts";
import type { Decision, Principal, Rule } from "../core/types.ts";
import { createGuard } from "../index.ts";
import { absoluteUrl, guardRequest, sendDecision, stripIdentityHeaders, whenDecided } from "./node.ts";

declare global {
  namespace Express {
    interface Request {
      /** Set by @gatehouse/guard when the request is authenticated. */
      auth?: Principal;
    }
  }
}

export interface GatehouseExpress {
  /** The guard behind the middleware (to share with guardedProxy, for instance). */
  readonly guard: Guard;
  /** Middleware enforcing `rule` (default: any authenticated caller). */
  middleware(rule?: Rule): RequestHandler;
  requireAuth(): RequestHandler;
  /** Authentication optional: `req.auth` is set when the caller has a working credential. */
  optionalAuth(): RequestHandler;
  /** The caller's organization role must be one of `roles`. */
  requireRoles(...roles: string[]): RequestHandler;
  /** The caller must hold all of `permissions`. */
  requirePermissions(...permissions: string[]): RequestHandler;
  /** The caller must act within an organization (that one, if `id` is given). */
  requireOrganization(id?: string): RequestHandler;
  requireAal2(): RequestHandler;
  /** Closes the guard if this call created it. */
  close(): Promise<void>;
}

/** Either guard options (a guard is created and owned) or an existing guard. */
export type GatehouseExpressOptions = GuardOptions | { guard: Guard };

function hasGuard(options: GatehouseExpressOptions): options is { guard: Guard } {
  return "guard" in options && typeof (options as { guard?: Guard }).guard?.check === "function";
}

const fail = (_req: Request, _res: Response, next: NextFunction, error: unknown) => next(error);

function apply(req: Request, res: Response, next: NextFunction, decision: Decision): void {
  if (decision.kind === "allow") {
    if (decision.principal !== undefined) req.auth = decision.principal;
    next();
    return;
  }
  sendDecision(req, res, decision);
}

export function gatehouse(options: GatehouseExpressOptions): GatehouseExpress {
  const owned = !hasGuard(options);
  const guard = hasGuard(options) ? options.guard : createGuard(options);

  function middleware(rule: Rule = {}): RequestHandler {
    validateRule(rule); // a bad rule fails at startup, not on the first request
    return (req: Request, res: Response, next: NextFunction) => {
      stripIdentityHeaders(req);
      // A principal only ever comes from this guard, never from an earlier middleware.
      delete req.auth;
      // req.ip: the client as Express' "trust proxy" setting resolves it.
      const request = guardRequest(
        req,
        () => absoluteUrl(req.protocol, req.host, req.originalUrl ?? req.url),
        req.method,
        () => req.ip,
      );
      whenDecided(guard, request, rule, req, res, next, apply, fail);
    };
  }

  return {
    guard,
    middleware,
    requireAuth: () => middleware({}),
    optionalAuth: () => middleware({ anonymous: true }),
    requireRoles: (...roles) => middleware({ roles }),
    requirePermissions: (...permissions) => middleware({ permissions }),
    requireOrganization: (id) => middleware({ organization: id ?? true }),
    requireAal2: () => middleware({ aal: "aal2" }),
    async close() {
      if (owned) await guard.close();
    },
  };
}

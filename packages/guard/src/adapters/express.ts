// Express entry: route-level middleware around the enforcement core (enforce/node.ts).
// Sets `req.auth` to the typed principal; a refusal is answered with JSON
// {error, message, request_id} or, for a browser, a 303 to the login. An allowed
// request goes on without the identity headers the client sent (in req.headers and
// req.rawHeaders alike); its credentials stay, for the app's own use.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { compileRule } from "../core/authorize.ts";
import type { Guard } from "../core/guard.ts";
import type { GuardOptions } from "../core/options.ts";
import type { AllowDecision, Principal, Rule } from "../core/types.ts";
import { compileForwarding } from "../enforce/forward.ts";
import { type Access, absoluteUrl, type Exchange, enforce, nodeRequest } from "../enforce/node.ts";
import { createGuard } from "../index.ts";

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

// The handlers behind are this app's own: only what claims an identity is taken away.
const HANDLER = compileForwarding(
  {},
  {
    jwt: false,
    identityHeaders: false,
    kratosCookie: true,
    sessionToken: true,
    apiKey: true,
    authorization: true,
    routingHeaders: true,
    clientAddressHeaders: true,
  },
);

interface ExpressExchange extends Exchange {
  readonly req: Request;
  readonly next: NextFunction;
}

function handOn(e: ExpressExchange, decision: AllowDecision): void {
  if (decision.principal !== undefined) e.req.auth = decision.principal;
  e.next();
}

export function gatehouse(options: GatehouseExpressOptions): GatehouseExpress {
  const owned = !hasGuard(options);
  const guard = hasGuard(options) ? options.guard : createGuard(options);

  function middleware(rule: Rule = {}): RequestHandler {
    // A bad rule fails here, at startup, not on the first request.
    const access: Access = { rule: compileRule(rule), forward: HANDLER };
    return (req: Request, res: Response, next: NextFunction) => {
      // A principal only ever comes from this guard, never from an earlier middleware.
      delete req.auth;
      // req.ip: the client as Express' "trust proxy" setting resolves it.
      const request = nodeRequest(
        req,
        () => absoluteUrl(req.protocol, req.host, req.originalUrl ?? req.url),
        req.method,
        () => req.ip,
      );
      try {
        enforce<ExpressExchange>(guard, { req, res, next }, request, access, handOn)?.catch(next);
      } catch (error) {
        next(error);
      }
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

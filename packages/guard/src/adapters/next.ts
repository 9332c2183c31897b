// Next.js middleware entry. Runs in the Edge runtime, so this file and everything
// it imports use Web APIs only (fetch, crypto.subtle, Headers, URL, Response): no
// node: modules, no undici, no ioredis (test/next-edge.test.ts walks the import
// graph to keep it that way). The auth-service is reached with fetch.
//
//   // middleware.ts
//   const guard = createNextGuard({ authServiceUrl, audience: "gatehouse", login: {…} });
//   export async function middleware(request: NextRequest) {
//     const { response, requestHeaders } = await guard.check(request, { roles: ["admin"] });
//     return response ?? NextResponse.next({ request: { headers: requestHeaders } });
//   }
import { validateRule } from "../core/authorize.ts";
import { removeCookie } from "../core/extract.ts";
import { createGuard, type Guard } from "../core/guard.ts";
import { identityHeaders, isIdentityHeader } from "../core/mutate.ts";
import type { GuardOptions } from "../core/options.ts";
import type { Principal, Rule } from "../core/types.ts";
import { denyBody, denyHeaders, redirectHeaders, requestIdFrom } from "./respond.ts";

export * from "../core/index.ts";

export interface NextForwardOptions {
  /** Set `Authorization: Bearer <Gatehouse JWT>` for the app's own handlers. Default true. */
  jwt?: boolean;
  /** Set X-User-Id, X-User-Email, X-User-Roles, X-Org-Id, X-User-Aal. Default true. */
  identityHeaders?: boolean;
  /**
   * Keep the Kratos cookie / X-Session-Token / X-API-Key on the request. Default true:
   * unlike a proxy, the downstream is the same app, whose server code may call Kratos.
   */
  kratosCookie?: boolean;
  sessionToken?: boolean;
  apiKey?: boolean;
}

export type NextGuardOptions = (GuardOptions | { guard: Guard }) & { forward?: NextForwardOptions };

export interface NextGuardResult {
  /** Deny or redirect: return it from the middleware as is. */
  response?: Response;
  /** Allow: pass to `NextResponse.next({ request: { headers: requestHeaders } })`. */
  requestHeaders?: Headers;
  principal?: Principal;
}

export interface NextGuard {
  readonly guard: Guard;
  /**
   * `clientAddress`: the end client as this app trusts it (Edge middleware sees no socket;
   * e.g. the X-Forwarded-For your own server or platform sets), for the auth-service's
   * per-client rate limits.
   */
  check(request: Request, rule?: Rule, context?: { clientAddress?: string | undefined }): Promise<NextGuardResult>;
  close(): Promise<void>;
}

function hasGuard(options: NextGuardOptions): options is { guard: Guard } & { forward?: NextForwardOptions } {
  return "guard" in options && typeof (options as { guard?: Guard }).guard?.check === "function";
}

export function createNextGuard(options: NextGuardOptions): NextGuard {
  const owned = !hasGuard(options);
  let guard: Guard;
  if (hasGuard(options)) {
    guard = options.guard;
  } else {
    const { forward: _forward, ...guardOptions } = options as GuardOptions & { forward?: NextForwardOptions };
    // The core's default transport is fetch: exactly what the Edge runtime has.
    guard = createGuard(guardOptions);
  }
  const forward = {
    jwt: options.forward?.jwt ?? true,
    identity: options.forward?.identityHeaders ?? true,
    kratosCookie: options.forward?.kratosCookie ?? true,
    sessionToken: options.forward?.sessionToken ?? true,
    apiKey: options.forward?.apiKey ?? true,
  };

  function requestHeadersFor(request: Request, principal: Principal | undefined): Headers {
    const headers = new Headers();
    // Copy minus identity headers the client sent (any spelling: Headers lower-cases names).
    request.headers.forEach((value, name) => {
      if (!isIdentityHeader(name)) headers.append(name, value);
    });
    if (!forward.kratosCookie) {
      const cookie = headers.get("cookie");
      const rest = cookie === null ? undefined : removeCookie(cookie, guard.cookieName);
      if (rest === undefined) headers.delete("cookie");
      else headers.set("cookie", rest);
    }
    if (!forward.sessionToken) headers.delete("x-session-token");
    if (!forward.apiKey) headers.delete("x-api-key");
    if (forward.jwt && principal !== undefined) headers.delete("authorization");
    if (principal !== undefined) {
      for (const [name, value] of Object.entries(
        identityHeaders(principal, { jwt: forward.jwt, identity: forward.identity }),
      )) {
        headers.set(name, value);
      }
    }
    return headers;
  }

  return {
    guard,
    async check(request, rule = {}, context = {}) {
      validateRule(rule);
      const decision = await guard.check(
        context.clientAddress === undefined
          ? request
          : {
              method: request.method,
              url: request.url,
              headers: request.headers,
              clientAddress: context.clientAddress,
            },
        rule,
      );
      if (decision.kind === "allow") {
        return {
          requestHeaders: requestHeadersFor(request, decision.principal),
          ...(decision.principal !== undefined ? { principal: decision.principal } : {}),
        };
      }
      if (decision.kind === "redirect") {
        return { response: new Response(null, { status: decision.status, headers: redirectHeaders(decision) }) };
      }
      const requestId = requestIdFrom(request.headers.get("x-request-id"));
      return {
        response: new Response(request.method === "HEAD" ? null : denyBody(decision, requestId), {
          status: decision.status,
          headers: denyHeaders(decision, requestId),
        }),
      };
    },
    async close() {
      if (owned) await guard.close();
    },
  };
}

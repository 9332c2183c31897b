// Next.js middleware entry. Runs in the Edge runtime, so this file and everything
// it imports use Web APIs only (fetch, crypto.subtle, Headers, URL, Response): no
// node: modules, no undici, no ioredis (test/next.test.ts walks the import graph to
// keep it that way). The auth-service is reached with fetch. Decisions, refusals and
// the rewritten request headers come from the same core as the Node entries
// (enforce/answer.ts, enforce/forward.ts).
//
//   // middleware.ts
//   const guard = createNextGuard({ authServiceUrl, audience: "gatehouse", login: {…} });
//   export async function middleware(request: NextRequest) {
//     const { response, requestHeaders } = await guard.check(request, { roles: ["admin"] });
//     return response ?? NextResponse.next({ request: { headers: requestHeaders } });
//   }
import { type CompiledRule, compileRule } from "../core/authorize.ts";
import { createGuard, type Guard } from "../core/guard.ts";
import type { GuardOptions } from "../core/options.ts";
import type { GuardRequest, Principal, Rule } from "../core/types.ts";
import { answerOf, requestIdFrom } from "../enforce/answer.ts";
import { compileForwarding, type ForwardOptions, forwardHeaders } from "../enforce/forward.ts";

export { type CompiledRule, compileRule } from "../core/authorize.ts";
export { isBrowserNavigation } from "../core/browser.ts";
export { createGuard, type Guard } from "../core/guard.ts";
export type { GuardOptions, LoginOptions, SessionCacheOptions } from "../core/options.ts";
export { safeReturnTo } from "../core/redirect.ts";
export {
  type AllowDecision,
  type CredentialKind,
  type Decision,
  type DenyDecision,
  GuardError,
  type GuardErrorCode,
  type GuardEvent,
  type GuardRequest,
  type Principal,
  type RedirectDecision,
  type Rule,
} from "../core/types.ts";
export type { ForwardOptions } from "../enforce/forward.ts";

/**
 * Unlike a proxy's, the downstream is the same app, whose server code may call Kratos
 * or read what its platform says about the client: everything but identity claims
 * stays, and the client's Authorization gives way to the Gatehouse JWT.
 */
const NEXT_FORWARDING: Required<ForwardOptions> = Object.freeze({
  jwt: true,
  identityHeaders: true,
  kratosCookie: true,
  sessionToken: true,
  apiKey: true,
  authorization: true,
  routingHeaders: true,
  clientAddressHeaders: true,
});

export type NextGuardOptions = (GuardOptions | { guard: Guard }) & { forward?: ForwardOptions };

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
  check(
    request: Request,
    rule?: Rule | CompiledRule,
    context?: { clientAddress?: string | undefined },
  ): Promise<NextGuardResult>;
  close(): Promise<void>;
}

function hasGuard(options: NextGuardOptions): options is { guard: Guard } & { forward?: ForwardOptions } {
  return "guard" in options && typeof (options as { guard?: Guard }).guard?.check === "function";
}

const ANY_CALLER = compileRule({});

export function createNextGuard(options: NextGuardOptions): NextGuard {
  const owned = !hasGuard(options);
  let guard: Guard;
  if (hasGuard(options)) {
    guard = options.guard;
  } else {
    const { forward: _forward, ...guardOptions } = options as GuardOptions & { forward?: ForwardOptions };
    // The core's default transport is fetch: exactly what the Edge runtime has.
    guard = createGuard(guardOptions);
  }
  const forward = compileForwarding(options.forward ?? {}, NEXT_FORWARDING);

  return {
    guard,
    async check(request, rule = ANY_CALLER, context = {}) {
      const compiled = compileRule(rule);
      const guardRequest: GuardRequest =
        context.clientAddress === undefined
          ? request
          : {
              method: request.method,
              url: request.url,
              headers: request.headers,
              clientAddress: context.clientAddress,
            };
      const decision = await guard.decide(guardRequest, compiled);
      const requestId = requestIdFrom(request.headers.get("x-request-id"));
      if (decision.kind !== "allow") {
        const a = answerOf(decision, requestId);
        const body = request.method === "HEAD" ? null : (a.body ?? null);
        return { response: new Response(body, { status: a.status, headers: a.headers }) };
      }
      const raw: string[] = [];
      request.headers.forEach((value, name) => {
        raw.push(name, value);
      });
      const out = forwardHeaders(raw, forward, decision, guard.cookieName, { requestId });
      const requestHeaders = new Headers();
      for (let i = 0; i + 1 < out.length; i += 2) requestHeaders.append(out[i] as string, out[i + 1] as string);
      return {
        requestHeaders,
        ...(decision.principal !== undefined ? { principal: decision.principal } : {}),
      };
    },
    async close() {
      if (owned) await guard.close();
    },
  };
}

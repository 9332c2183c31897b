// Where the decision is made. check() runs the steps in order —
//   extract (which credential) → authenticate (who) → authorize (allowed?) → mutate
//   (headers to add)
// — and turns the first failure into a decision: 401 or a login redirect when the
// credential is missing or bad, 403 (or the second-factor login) when it is not
// enough, 429/503 with Retry-After when a dependency could not answer. An outage
// never produces a 401 or a login redirect.
import { errorStatus } from "@gatehouse/contracts";
import { createRemoteJwks, createVerifier } from "@gatehouse/tokens";
import { fetchTransport } from "../transport/fetch.ts";
import type { Transport } from "../transport/types.ts";
import { createApiKeyAuthenticator } from "./authenticate/api-key.ts";
import { TokenCache } from "./authenticate/cache.ts";
import { createExchangeClient } from "./authenticate/exchange.ts";
import { createJwtAuthenticator } from "./authenticate/jwt.ts";
import { createSessionAuthenticator } from "./authenticate/session.ts";
import { authorize, type CompiledRule, compileRule } from "./authorize.ts";
import { isBrowserNavigation } from "./browser.ts";
import { type Credential, extractCredential } from "./extract.ts";
import { identityHeaders } from "./mutate.ts";
import { type GuardOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { safeReturnTo, withReturnTo } from "./redirect.ts";
import {
  type Decision,
  type DenyDecision,
  type GuardDenyCode,
  GuardError,
  type GuardRequest,
  type Principal,
  type RefusalPage,
  type Rule,
} from "./types.ts";

export interface Guard {
  /**
   * Decides about one request. Resolves with a decision for every expected outcome
   * (including outages); rejects only on a bug or an invalid rule (GuardError
   * "invalid_options").
   */
  check(request: GuardRequest, rule?: Rule): Promise<Decision>;
  /**
   * check() for a hot path: the rule was compiled once (compileRule), and a cached
   * credential is decided synchronously (a Decision); anything that has to ask the
   * auth-service or fetch keys returns a Promise. Throws where check() would reject.
   */
  decide(request: GuardRequest, rule: CompiledRule): Decision | Promise<Decision>;
  /** Releases the transport's connections if the guard created it. Redis is the caller's. */
  close(): Promise<void>;
  /** The Kratos cookie name, for adapters that strip it before forwarding. */
  readonly cookieName: string;
}

/** A cached token is dropped this long before it expires, so what is forwarded upstream still has life left. */
const FORWARD_MARGIN_MS = 30_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ANY_CALLER = compileRule({});

export function createGuard(options: GuardOptions): Guard {
  const o: ResolvedOptions = resolveOptions(options);
  const ownsTransport = o.transport === undefined;
  const transport: Transport = o.transport ?? fetchTransport(o.fetch === undefined ? {} : { fetch: o.fetch });

  const verifier = createVerifier({
    jwks: createRemoteJwks(o.jwksUrl, {
      ...(o.fetch !== undefined ? { fetch: o.fetch } : {}),
      cooldownMs: o.jwks.cooldownMs,
      cacheMaxAgeMs: o.jwks.cacheMaxAgeMs,
      timeoutMs: o.jwks.timeoutMs,
      now: o.now,
    }),
    issuer: o.issuer,
    audience: o.audience,
    algorithms: o.algorithms,
    clockToleranceSec: o.clockToleranceSec,
    now: () => o.now() / 1000,
    cacheSize: o.verifiedTokenCacheSize,
  });
  const cache = new TokenCache({
    size: o.cache.size,
    redis: o.cache.redis,
    prefix: o.cache.prefix,
    redisTimeoutMs: o.cache.redisTimeoutMs,
    now: o.now,
    onEvent: o.onEvent,
  });
  const exchange = createExchangeClient({
    transport,
    tokenUrl: o.tokenUrl,
    cookieName: o.cookieName,
    timeoutMs: o.timeoutMs,
    retryAfterSec: o.retryAfterSec,
    onEvent: o.onEvent,
  });
  const exchangeOptions = {
    exchange,
    verifier,
    cache,
    maxTtlMs: o.cache.maxTtlMs,
    marginMs: FORWARD_MARGIN_MS,
    now: o.now,
    invalidations: o.invalidations,
    sha256: o.sha256,
  };
  const sessions = createSessionAuthenticator(exchangeOptions);
  const apiKeys = createApiKeyAuthenticator(exchangeOptions);
  const jwts = createJwtAuthenticator({
    verifier,
    revocation: o.revocation,
    invalidations: o.invalidations,
    retryAfterSec: o.retryAfterSec,
    onEvent: o.onEvent,
  });

  const knownJwt = (token: string) => verifier.peek(token) !== undefined;

  function authenticate(credential: Credential, rule: Rule, request: GuardRequest): Principal | Promise<Principal> {
    if (credential.kind === "jwt") return jwts.authenticate(credential.value);
    // Ask the auth-service for a token scoped to the route's organization (it answers
    // 403 for non-members). Ids it could not parse are left to authorize() to refuse.
    const org = typeof rule.organization === "string" && UUID.test(rule.organization) ? rule.organization : undefined;
    const authenticator = credential.kind === "session" ? sessions : apiKeys;
    return authenticator.authenticate(credential, org, request.clientAddress);
  }

  function deny(error: GuardError, request: GuardRequest): DenyDecision {
    const code = error.code;
    if (code === "invalid_options") throw error;
    const status = errorStatus(code);
    // Every 503 and 429 says when to retry, whichever step failed (the JWKS, the auth-service, Redis).
    const retryAfterSec = error.retryAfterSec ?? (status === 503 || status === 429 ? o.retryAfterSec : undefined);
    // A person refused a page gets a page with the way on; signing in again cannot help a 401 here.
    const page = status === 403 && isBrowserNavigation(request) ? refusalPage(code, request) : undefined;
    return {
      kind: "deny",
      status,
      error: code,
      message: error.message,
      ...(retryAfterSec !== undefined ? { retryAfterSec } : {}),
      ...(page !== undefined ? { page } : {}),
    };
  }

  function refusalPage(code: GuardDenyCode, request: GuardRequest): RefusalPage {
    const login = o.login;
    if (login === undefined) return {};
    const back = safeReturnTo(request.url, login.allowedReturnHosts) ?? login.defaultReturnTo;
    const target = code === "aal2_required" ? login.aal2Url : login.url;
    // The app: where a signed-in person is sent back to, else the login UI's site.
    const home = login.defaultReturnTo ?? new URL("/", login.url).href;
    return { home, signIn: withReturnTo(target, back, login.returnToParam) };
  }

  function redirectTo(target: string, request: GuardRequest): Decision {
    const login = o.login;
    if (login === undefined) throw new Error("unreachable: redirect without login options");
    const returnTo = safeReturnTo(request.url, login.allowedReturnHosts) ?? login.defaultReturnTo;
    return { kind: "redirect", status: 303, location: withReturnTo(target, returnTo, login.returnToParam) };
  }

  function failure(error: GuardError, request: GuardRequest, rule: Rule): Decision {
    const browser = o.login !== undefined && isBrowserNavigation(request);
    switch (error.code) {
      case "unauthenticated":
      case "invalid_token":
      case "invalid_api_key":
      case "session_revoked":
      case "ambiguous_credentials":
      case "aal2_required":
      case "forbidden":
        // Optional authentication: a credential that does not work makes the caller anonymous.
        if (rule.anonymous === true) return { kind: "allow", headers: {} };
        break;
      default:
        break;
    }
    switch (error.code) {
      case "unauthenticated":
      case "invalid_token":
      case "invalid_api_key":
      case "session_revoked":
        return browser && o.login ? redirectTo(o.login.url, request) : deny(error, request);
      case "ambiguous_credentials":
        return deny(error, request);
      case "aal2_required":
        return browser && o.login ? redirectTo(o.login.aal2Url, request) : deny(error, request);
      case "forbidden":
        return deny(error, request);
      case "rate_limited":
        return deny(error, request);
      case "dependency_unavailable":
        // Even on an anonymous route: "we could not check" must not pass for "signed out".
        return deny(error, request);
      case "invalid_options":
        throw error;
    }
  }

  function allowOrDeny(principal: Principal, request: GuardRequest, rule: Rule): Decision {
    const verdict = authorize(principal, rule);
    if (!verdict.ok) return failure(new GuardError(verdict.code, verdict.message), request, rule);
    return { kind: "allow", principal, headers: identityHeaders(principal, o.headers) };
  }

  function decide(request: GuardRequest, rule: CompiledRule): Decision | Promise<Decision> {
    const accept = rule.accept ?? o.accept;
    let pending: Principal | Promise<Principal>;
    try {
      const credential = extractCredential(request.headers, { accept, cookieName: o.cookieName, knownJwt });
      if (credential === undefined) {
        if (rule.anonymous === true) return { kind: "allow", headers: {} };
        throw new GuardError("unauthenticated", `sign in first (accepted: ${accept.join(", ")})`);
      }
      // Cache hits answer synchronously; only a real lookup costs a promise.
      pending = authenticate(credential, rule, request);
    } catch (error) {
      if (error instanceof GuardError) return failure(error, request, rule);
      throw error;
    }
    if (!(pending instanceof Promise)) return allowOrDeny(pending, request, rule);
    return pending.then(
      (principal) => allowOrDeny(principal, request, rule),
      (error: unknown) => {
        if (error instanceof GuardError) return failure(error, request, rule);
        throw error;
      },
    );
  }

  return {
    cookieName: o.cookieName,
    decide,
    check(request, rule) {
      try {
        return Promise.resolve(decide(request, rule === undefined ? ANY_CALLER : compileRule(rule)));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    async close() {
      if (ownsTransport) await transport.close();
    },
  };
}

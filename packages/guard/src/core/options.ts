// createGuard's options, checked once at construction. A misconfigured guard must
// fail at startup with a message naming the option, not on the first request (or,
// worse, by letting requests through).
import { isSigningAlg, SIGNING_ALGS, type SigningAlg } from "@gatehouse/tokens";
import type { FetchFunction } from "../transport/fetch.ts";
import type { Transport } from "../transport/types.ts";
import type { RedisLike } from "./authenticate/cache.ts";
import { COOKIE_NAME, DEFAULT_SESSION_COOKIE, type Sha256 } from "./extract.ts";
import type { InvalidationView } from "./invalidation.ts";
import { type AllowedHost, parseAllowedHosts, safeReturnTo } from "./redirect.ts";
import type { RevocationCheck } from "./revocation.ts";
import { CREDENTIAL_KINDS, type CredentialKind, GuardError, type GuardEvent } from "./types.ts";

export interface LoginOptions {
  /**
   * Where a browser without a session is sent (303), with `return_to` added: the
   * login UI, or Kratos' `/self-service/login/browser` (which creates the flow and
   * then redirects to the UI).
   */
  url: string;
  /** Second-factor login for aal2 routes. Default: `url` with `aal=aal2`. */
  aal2Url?: string;
  /** Hosts `return_to` may point at; see safeReturnTo. Usually your app's host(s). */
  allowedReturnHosts: readonly string[];
  /** Used when the requested URL is not on the allowlist. Without it, `return_to` is left out. */
  defaultReturnTo?: string;
  /** Query parameter name. Default "return_to" (Kratos' name). */
  returnToParam?: string;
}

export interface SessionCacheOptions {
  /**
   * Upper bound (seconds) for reusing an exchanged token without asking the
   * auth-service again; also how long a revoked session keeps working on this
   * path. Default 60. 0 disables caching.
   */
  maxTtlSec?: number;
  /** Entries in the in-process LRU. Default 10 000. */
  size?: number;
  /** Shared second-level cache (an ioredis client). The guard never closes it. */
  redis?: RedisLike;
  /** Key prefix in Redis. Default "gh:guard:v1:". */
  redisPrefix?: string;
  /** Per Redis command; slower counts as a miss. Default 250 ms. */
  redisTimeoutMs?: number;
}

export interface GuardOptions {
  /** Base URL of the auth-service's public listener, e.g. https://auth.example.com. */
  authServiceUrl: string;
  /** Accepted `aud` value(s) of Gatehouse tokens, e.g. "gatehouse". */
  audience: string | readonly string[];
  /** Required `iss`. Default: authServiceUrl (without trailing slash). */
  issuer?: string;
  /** Default: `${authServiceUrl}/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Default: RS256, ES256, EdDSA. Never none, never HMAC. */
  algorithms?: readonly SigningAlg[];
  /** Leeway for exp/nbf, seconds. Default 10. */
  clockToleranceSec?: number;
  /** Credential kinds accepted when a rule does not say. Default ["session", "jwt"]. */
  accept?: readonly CredentialKind[];
  /** Kratos' session cookie name. Default "ory_kratos_session". */
  cookieName?: string;
  /** Browser redirects. Without it browsers get 401/403 like API clients. */
  login?: LoginOptions;
  /** Deadline for one call to the auth-service (connect to last byte), ms. Default 3000, at most 5000. */
  timeoutMs?: number;
  /** Retry-After for 503s when the upstream sent none, seconds. Default 5. */
  retryAfterSec?: number;
  sessionCache?: SessionCacheOptions;
  /** Remote JWKS behaviour (see @gatehouse/tokens createRemoteJwks). */
  jwks?: { cooldownMs?: number; cacheMaxAgeMs?: number; timeoutMs?: number };
  /** Verified tokens remembered to skip the signature check. Default 10 000. */
  verifiedTokenCacheSize?: number;
  /**
   * Role changes and revocations announced by the auth-service: a cached token issued
   * before a change is not reused, and a token (JWT path included) of a revoked session
   * or API key is refused, with no network call per request. Node:
   * `subscribeInvalidations(new Redis(url), { reader: redis })`.
   */
  invalidations?: InvalidationView;
  /**
   * An extra revocation check on the JWT path that asks Redis on every request, e.g.
   * redisRevocationList(redis). Fails closed (503). `invalidations` is usually enough.
   */
  revocation?: RevocationCheck;
  /** HTTP client for the auth-service. Default: fetch (core, Next.js) or an undici Pool (Node entries). */
  transport?: Transport;
  /** fetch used for the JWKS. Default: the global fetch. */
  fetch?: FetchFunction;
  /** Headers an allow decision carries. Default: both. */
  headers?: { jwt?: boolean; identity?: boolean };
  /**
   * A synchronous SHA-256 (32 latin1 characters) for the session cache's keys. The
   * Node entry passes node:crypto's; without it the core uses Web Crypto's, which
   * costs a promise per request.
   */
  sha256?: Sha256;
  /** Clock, epoch ms (tests). */
  now?: () => number;
  /** Degraded dependencies and upstream errors, for logging. Never carries credentials. */
  onEvent?: (event: GuardEvent) => void;
}

export interface ResolvedOptions {
  authServiceUrl: string;
  tokenUrl: string;
  jwksUrl: string;
  issuer: string;
  audience: string[];
  algorithms: SigningAlg[];
  clockToleranceSec: number;
  accept: CredentialKind[];
  cookieName: string;
  login:
    | {
        url: string;
        aal2Url: string;
        allowedReturnHosts: AllowedHost[];
        defaultReturnTo: string | undefined;
        returnToParam: string;
      }
    | undefined;
  timeoutMs: number;
  retryAfterSec: number;
  cache: {
    maxTtlMs: number;
    size: number;
    redis: RedisLike | undefined;
    prefix: string;
    redisTimeoutMs: number;
  };
  invalidations: InvalidationView | undefined;
  jwks: { cooldownMs: number; cacheMaxAgeMs: number; timeoutMs: number };
  verifiedTokenCacheSize: number;
  revocation: RevocationCheck | undefined;
  transport: Transport | undefined;
  fetch: FetchFunction | undefined;
  headers: { jwt: boolean; identity: boolean };
  sha256: Sha256 | undefined;
  now: () => number;
  onEvent: (event: GuardEvent) => void;
}

function fail(option: string, message: string): never {
  throw new GuardError("invalid_options", `createGuard: options.${option} ${message}`, { option });
}

function httpUrl(value: unknown, option: string): URL {
  if (typeof value !== "string" || value === "") fail(option, "is required (an absolute http(s) URL)");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(option, `is not an absolute URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(option, "must be an http(s) URL");
  if (url.username !== "" || url.password !== "") fail(option, "must not carry credentials");
  return url;
}

function number(value: unknown, option: string, fallback: number, min: number, max: number, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || (integer && !Number.isSafeInteger(value))) {
    fail(option, `must be ${integer ? "an integer" : "a number"}`);
  }
  if (value < min || value > max) fail(option, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") fail(option, "must be a boolean");
  return value;
}

const KNOWN = new Set([
  "authServiceUrl",
  "audience",
  "issuer",
  "jwksUrl",
  "algorithms",
  "clockToleranceSec",
  "accept",
  "cookieName",
  "login",
  "timeoutMs",
  "retryAfterSec",
  "sessionCache",
  "jwks",
  "verifiedTokenCacheSize",
  "invalidations",
  "revocation",
  "transport",
  "fetch",
  "headers",
  "sha256",
  "now",
  "onEvent",
]);

export function resolveOptions(options: GuardOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) fail("", "must be an object");
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) fail(key, "is not a guard option (typo?)");

  const base = httpUrl(options.authServiceUrl, "authServiceUrl");
  if (base.search !== "" || base.hash !== "") fail("authServiceUrl", "must not have a query or fragment");
  const authServiceUrl = base.href.replace(/\/+$/, "");
  const tokenUrl = `${authServiceUrl}/v1/token`;
  const jwksUrl =
    options.jwksUrl === undefined
      ? `${authServiceUrl}/.well-known/jwks.json`
      : httpUrl(options.jwksUrl, "jwksUrl").href;

  let issuer = authServiceUrl;
  if (options.issuer !== undefined) {
    if (typeof options.issuer !== "string" || options.issuer === "") fail("issuer", "must be a non-empty string");
    issuer = options.issuer;
  }

  const rawAud = options.audience;
  const audience = typeof rawAud === "string" ? [rawAud] : Array.isArray(rawAud) ? [...rawAud] : [];
  if (audience.length === 0 || audience.some((a) => typeof a !== "string" || a === "")) {
    fail("audience", 'is required: the token audience, e.g. "gatehouse"');
  }

  const algorithms = options.algorithms === undefined ? [...SIGNING_ALGS] : [...options.algorithms];
  if (algorithms.length === 0 || !algorithms.every((a) => isSigningAlg(a))) {
    fail("algorithms", `must be a non-empty subset of ${SIGNING_ALGS.join(", ")}`);
  }

  const accept = options.accept === undefined ? (["session", "jwt"] as CredentialKind[]) : [...options.accept];
  if (accept.length === 0 || !accept.every((k) => CREDENTIAL_KINDS.includes(k))) {
    fail("accept", `must be a non-empty subset of ${CREDENTIAL_KINDS.join(", ")}`);
  }

  const cookieName = options.cookieName ?? DEFAULT_SESSION_COOKIE;
  if (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName)) fail("cookieName", "is not a valid cookie name");

  let login: ResolvedOptions["login"];
  if (options.login !== undefined) {
    const l = options.login;
    const url = httpUrl(l.url, "login.url").href;
    let aal2Url: string;
    if (l.aal2Url === undefined) {
      const u = new URL(url);
      u.searchParams.set("aal", "aal2");
      aal2Url = u.href;
    } else {
      aal2Url = httpUrl(l.aal2Url, "login.aal2Url").href;
    }
    if (!Array.isArray(l.allowedReturnHosts) || l.allowedReturnHosts.length === 0) {
      fail("login.allowedReturnHosts", 'is required: the hosts return_to may point at, e.g. ["app.example.com"]');
    }
    let allowedReturnHosts: AllowedHost[];
    try {
      allowedReturnHosts = parseAllowedHosts(l.allowedReturnHosts);
    } catch (error) {
      fail("login.allowedReturnHosts", (error as Error).message);
    }
    let defaultReturnTo: string | undefined;
    if (l.defaultReturnTo !== undefined) {
      defaultReturnTo = safeReturnTo(l.defaultReturnTo, allowedReturnHosts);
      if (defaultReturnTo === undefined) {
        fail("login.defaultReturnTo", "must be an absolute http(s) URL on one of login.allowedReturnHosts");
      }
    }
    const returnToParam = l.returnToParam ?? "return_to";
    if (typeof returnToParam !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(returnToParam)) {
      fail("login.returnToParam", "must be a simple query parameter name");
    }
    login = { url, aal2Url, allowedReturnHosts, defaultReturnTo, returnToParam };
  }

  const sc = options.sessionCache ?? {};
  const redis = sc.redis;
  if (redis !== undefined && (typeof redis.get !== "function" || typeof redis.set !== "function")) {
    fail("sessionCache.redis", "must be a Redis client with get() and set() (e.g. an ioredis instance)");
  }
  const prefix = sc.redisPrefix ?? "gh:guard:v1:";
  if (typeof prefix !== "string") fail("sessionCache.redisPrefix", "must be a string");

  if (
    options.invalidations !== undefined &&
    (typeof options.invalidations.isStale !== "function" || typeof options.invalidations.isRevoked !== "function")
  ) {
    fail("invalidations", "must have isStale() and isRevoked() functions (an InvalidationLog)");
  }
  if (options.revocation !== undefined && typeof options.revocation.isRevoked !== "function") {
    fail("revocation", "must have an isRevoked(sessionId) function");
  }
  if (options.transport !== undefined && typeof options.transport.request !== "function") {
    fail("transport", "must have a request() function");
  }
  if (options.fetch !== undefined && typeof options.fetch !== "function") fail("fetch", "must be a function");
  if (options.sha256 !== undefined && typeof options.sha256 !== "function") fail("sha256", "must be a function");
  if (options.now !== undefined && typeof options.now !== "function") fail("now", "must be a function");
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") fail("onEvent", "must be a function");

  const jwks = options.jwks ?? {};
  return {
    authServiceUrl,
    tokenUrl,
    jwksUrl,
    issuer,
    audience,
    algorithms,
    clockToleranceSec: number(options.clockToleranceSec, "clockToleranceSec", 10, 0, 300),
    accept,
    cookieName,
    login,
    timeoutMs: number(options.timeoutMs, "timeoutMs", 3000, 1, 5000),
    retryAfterSec: number(options.retryAfterSec, "retryAfterSec", 5, 0, 3600),
    cache: {
      maxTtlMs: number(sc.maxTtlSec, "sessionCache.maxTtlSec", 60, 0, 3600, false) * 1000,
      size: number(sc.size, "sessionCache.size", 10_000, 1, 10_000_000),
      redis,
      prefix,
      redisTimeoutMs: number(sc.redisTimeoutMs, "sessionCache.redisTimeoutMs", 250, 1, 10_000),
    },
    invalidations: options.invalidations,
    jwks: {
      cooldownMs: number(jwks.cooldownMs, "jwks.cooldownMs", 30_000, 0, 3_600_000),
      cacheMaxAgeMs: number(jwks.cacheMaxAgeMs, "jwks.cacheMaxAgeMs", 600_000, 0, 86_400_000),
      timeoutMs: number(jwks.timeoutMs, "jwks.timeoutMs", 3000, 1, 10_000),
    },
    verifiedTokenCacheSize: number(options.verifiedTokenCacheSize, "verifiedTokenCacheSize", 10_000, 0, 10_000_000),
    revocation: options.revocation,
    transport: options.transport,
    fetch: options.fetch,
    headers: {
      jwt: bool(options.headers?.jwt, "headers.jwt", true),
      identity: bool(options.headers?.identity, "headers.identity", true),
    },
    sha256: options.sha256,
    now: options.now ?? Date.now,
    onEvent: options.onEvent ?? (() => {}),
  };
}

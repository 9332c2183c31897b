// Step 4: what the request looks like when it goes on. Identity headers are only
// ever written by the guard: any that the client sent are stripped, in every
// spelling, before anything downstream can read them.
import type { Principal } from "./types.ts";

/** Headers the guard sets for an authenticated request (lower-case names). */
export const IDENTITY_HEADERS = {
  userId: "x-user-id",
  email: "x-user-email",
  roles: "x-user-roles",
  orgId: "x-org-id",
  aal: "x-user-aal",
} as const;

// Exact names used by common auth proxies (oauth2-proxy, Apache/nginx REMOTE_USER,
// AWS ALB, Google IAP, Azure App Service, Cloudflare Access, Pomerium…): if any
// backend behind us trusts one of them, a client must not be able to set it.
const SPOOFABLE_EXACT = new Set([
  "remote-user",
  "x-remote-user",
  "x-remote-email",
  "x-remote-groups",
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-groups",
  "x-forwarded-preferred-username",
  "x-forwarded-access-token",
  "x-webauth-user",
  "x-principal",
  "x-authenticated-user",
  "x-authenticated-userid",
  "x-consumer-id",
  "x-consumer-username",
  "x-gatehouse-principal",
  "cf-access-authenticated-user-email",
  "cf-access-jwt-assertion",
]);

// Whole namespaces: ours (x-user-*, x-org-*), and the usual auth-proxy prefixes.
const SPOOFABLE_PREFIXES = [
  "x-user-",
  "x-org-",
  "x-auth-",
  "x-amzn-oidc-",
  "x-goog-authenticated-user-",
  "x-ms-client-principal",
  "x-pomerium-",
  "x-gatehouse-",
];

/**
 * Whether a client-sent header claims an identity and must be dropped. Matching is
 * case-insensitive and treats "_" as "-": CGI-style stacks (PHP, WSGI, Rack…) map
 * X_User_Id and X-User-Id to the same variable.
 */
export function isIdentityHeader(name: string): boolean {
  // Every request's every header name comes through here; the names a server sees
  // are few, so remember the answers (bounded: a client can invent names).
  const known = seen.get(name);
  if (known !== undefined) return known;
  const n = name.trim().toLowerCase().replaceAll("_", "-");
  const spoofable = SPOOFABLE_EXACT.has(n) || SPOOFABLE_PREFIXES.some((p) => n.startsWith(p));
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(name, spoofable);
  return spoofable;
}
const seen = new Map<string, boolean>();
const SEEN_MAX = 4_096;

// Header values must not carry CR/LF or other control characters; non-ASCII (a
// name, an IDN email) is percent-encoded, so the value is unambiguous latin1.
function headerValue(value: string): string {
  return /^[\x20-\x7E]*$/.test(value) ? value : encodeURIComponent(value);
}

export interface IdentityHeaderOptions {
  /** Add `Authorization: Bearer <Gatehouse JWT>`. */
  jwt: boolean;
  /** Add X-User-Id, X-User-Email, X-User-Roles, X-Org-Id, X-User-Aal. */
  identity: boolean;
}

// Principals are cached and shared by the requests of one session, and so are their
// headers: per principal, one frozen object and one flat list per option set.
const built = new WeakMap<Principal, (Built | undefined)[]>();
const slotOf = (options: IdentityHeaderOptions) => (options.jwt ? 1 : 0) + (options.identity ? 2 : 0);

type Built = Readonly<Record<string, string>> | readonly string[];
const cached = (principal: Principal, slot: number): Built | undefined => built.get(principal)?.[slot];
function remember<T extends Built>(principal: Principal, slot: number, value: T): T {
  let slots = built.get(principal);
  if (slots === undefined) {
    slots = [];
    built.set(principal, slots);
  }
  slots[slot] = value;
  return value;
}

/** Headers to add for `principal` (lower-case names). Frozen; the same object for the same principal. */
export function identityHeaders(
  principal: Principal,
  options: IdentityHeaderOptions,
): Readonly<Record<string, string>> {
  const slot = slotOf(options);
  const hit = cached(principal, slot) as Readonly<Record<string, string>> | undefined;
  return hit ?? remember(principal, slot, buildIdentityHeaders(principal, options));
}

/** identityHeaders as a flat [name, value, …] list (what a header rewrite appends). Frozen and shared. */
export function identityHeaderList(principal: Principal, options: IdentityHeaderOptions): readonly string[] {
  const slot = 4 + slotOf(options);
  const hit = cached(principal, slot) as readonly string[] | undefined;
  return hit ?? remember(principal, slot, Object.freeze(Object.entries(identityHeaders(principal, options)).flat()));
}

function buildIdentityHeaders(principal: Principal, options: IdentityHeaderOptions): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  if (options.jwt) out.authorization = `Bearer ${principal.token}`;
  if (options.identity) {
    out[IDENTITY_HEADERS.userId] = headerValue(principal.subject);
    if (principal.email !== undefined) out[IDENTITY_HEADERS.email] = headerValue(principal.email);
    if (principal.role !== undefined) out[IDENTITY_HEADERS.roles] = headerValue(principal.role);
    if (principal.organizationId !== undefined) out[IDENTITY_HEADERS.orgId] = headerValue(principal.organizationId);
    out[IDENTITY_HEADERS.aal] = principal.aal;
  }
  return Object.freeze(out);
}

// Step 1: which credential does the request carry?
//
// Explicit credentials (Authorization, X-API-Key, X-Session-Token) win over the
// ambient Kratos cookie, as in Kratos itself: a header is sent on purpose, a cookie
// rides along with anything the browser sends. An explicit credential that is
// present but broken is NOT silently replaced by the cookie (the answer is 401),
// and two explicit credentials that disagree are refused (400): picking one could
// authenticate the request as somebody the client did not mean.
//
// The cookie rules and the cache-key hash are @gatehouse/kratos' own, from its
// Edge-safe "./credentials" entry (no undici there), so the guard and the
// auth-service read the same cookie the same way and compute the same cache key.
import {
  DEFAULT_SESSION_COOKIE,
  digestCredential,
  digestInput,
  extractSessionCookie,
  hashCredential,
  isValidToken,
  MAX_CREDENTIAL_LENGTH,
} from "@gatehouse/kratos/credentials";
import { type CredentialKind, GuardError } from "./types.ts";

export { DEFAULT_SESSION_COOKIE, extractSessionCookie };

/** Gatehouse JWTs are ~1 KiB; the verifier refuses more than 16 KiB anyway. */
const MAX_JWT_LENGTH = 16 * 1024;

export type Credential =
  | { kind: "session"; source: "cookie" | "token"; value: string }
  | { kind: "jwt"; value: string }
  | { kind: "api_key"; value: string };

// RFC 6750 b64token: no commas, so a comma means the header was sent twice.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const API_KEY_PREFIX = "sk_";
const SESSION_TOKEN_PREFIX = "ory_st_";
// RFC 9110 token, for the configurable cookie name.
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Removes cookie `name` from a Cookie header, keeping the others byte for byte. Undefined when nothing is left. */
export function removeCookie(cookieHeader: string, name: string): string | undefined {
  const kept = cookieHeader
    .split(";")
    .filter((pair) => {
      const eq = pair.indexOf("=");
      const key = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      return key !== name && pair.trim() !== "";
    })
    .map((pair) => pair.trim());
  return kept.length === 0 ? undefined : kept.join("; ");
}

/**
 * Hex SHA-256 of "kind:value": a cache key that does not reveal the credential. For
 * Kratos credentials the kinds are "cookie" and "token", as in @gatehouse/kratos'
 * credentialKey, so both compute the same key for the same credential.
 */
export function credentialKey(cred: Credential): Promise<string> {
  return hashCredential(kindOf(cred), cred.value);
}

/** A synchronous SHA-256 of a string as 32 latin1 characters (Node: node:crypto's hash, passed in). */
export type Sha256 = (input: string) => string;

/**
 * The same SHA-256 as credentialKey as a 32-character latin1 string (@gatehouse/kratos'
 * digestCredential): the token cache's in-process key. Synchronous with a `sha256`
 * (the Node entry passes node:crypto's), undefined without one; credentialDigest
 * computes it on any runtime.
 */
export function credentialDigestSync(cred: Credential, sha256: Sha256 | undefined): string | undefined {
  return sha256?.(digestInput(kindOf(cred), cred.value));
}

export function credentialDigest(cred: Credential): Promise<string> {
  return digestCredential(kindOf(cred), cred.value);
}

const kindOf = (cred: Credential): string =>
  cred.kind === "session" ? (cred.source === "cookie" ? "cookie" : "token") : cred.kind;

type Parsed = Credential | "ambiguous" | "malformed" | undefined;

// What every client sends: "Bearer " and a token68 (RFC 7235), nothing around it. One
// regex pass instead of a regex, a trim, a comma search and a second regex over a
// ~1 KB JWT on every JWT-authenticated request; anything else takes the general path.
const PLAIN_BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function parseAuthorization(value: string | null, known: ((token: string) => boolean) | undefined): Parsed {
  if (value === null) return undefined;
  // A token this guard has verified before is known to be well-formed: only the
  // verifier's cache holds it, and only well-formed tokens get verified. Checking
  // that first skips the syntax scan of a ~1 KB JWT (~1 µs) on every repeat request.
  if (known !== undefined && value.length > 7 && value.charCodeAt(6) === 32 && isBearer(value)) {
    const candidate = value.slice(7);
    if (known(candidate)) return { kind: "jwt", value: candidate };
  }
  let token: string;
  const plain = value.length <= MAX_JWT_LENGTH + 7 ? PLAIN_BEARER.exec(value) : null;
  if (plain !== null) token = plain[1] as string;
  else {
    const match = /^\s*bearer(?:\s+(.*))?$/is.exec(value);
    // Other schemes (Basic, Digest, …) are not ours; leave them to whoever uses them.
    if (match === null) return undefined;
    token = (match[1] ?? "").trim();
    if (token.includes(",")) return "ambiguous";
    if (token === "" || token.length > MAX_JWT_LENGTH || !B64TOKEN.test(token)) return "malformed";
  }
  if (token.startsWith(API_KEY_PREFIX))
    return token.length <= MAX_CREDENTIAL_LENGTH ? { kind: "api_key", value: token } : "malformed";
  // Kratos accepts its session token as a bearer token too.
  if (token.startsWith(SESSION_TOKEN_PREFIX)) {
    return token.length <= MAX_CREDENTIAL_LENGTH ? { kind: "session", source: "token", value: token } : "malformed";
  }
  return { kind: "jwt", value: token };
}

/** X-API-Key / X-Session-Token: one token, no list. */
const isBearer = (value: string) => value.startsWith("Bearer") || value.slice(0, 6).toLowerCase() === "bearer";

function parseSimple(value: string | null, kind: "api_key" | "session"): Parsed {
  if (value === null) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (v.includes(",")) return "ambiguous";
  if (!isValidToken(v)) return "malformed";
  return kind === "session" ? { kind, source: "token", value: v } : { kind, value: v };
}

function read(headers: { get(name: string): string | null }, name: string): string | null {
  try {
    return headers.get(name);
  } catch {
    return null; // a hostile header object must not crash the guard
  }
}

export interface ExtractOptions {
  accept: readonly CredentialKind[];
  cookieName: string;
  /** True for a JWT the guard has already verified (its verified-token cache); optional. */
  knownJwt?: (token: string) => boolean;
}

/**
 * The credential to authenticate, or undefined when the request carries none the
 * route accepts. Throws GuardError "ambiguous_credentials" (400) for duplicated or
 * conflicting explicit credentials, "unauthenticated" (401) for a malformed one.
 * Never throws anything else, whatever the headers contain.
 */
export function extractCredential(
  headers: { get(name: string): string | null },
  options: ExtractOptions,
): Credential | undefined {
  const accept = options.accept;
  // Every guarded request comes through here: plain variables and functions, no
  // per-call closures or collections.
  const acceptsSession = accept.includes("session");
  const state: Scan = { first: undefined, conflict: false, malformed: false };
  consider(state, parseAuthorization(read(headers, "authorization"), options.knownJwt), accept);
  if (accept.includes("api_key")) consider(state, parseSimple(read(headers, "x-api-key"), "api_key"), accept);
  if (acceptsSession) consider(state, parseSimple(read(headers, "x-session-token"), "session"), accept);
  // A broken explicit credential is answered as such, never shadowed by another
  // credential or by the cookie.
  if (state.malformed) throw new GuardError("unauthenticated", "the credential is malformed");
  if (state.conflict) {
    throw new GuardError("ambiguous_credentials", "the request carries more than one different credential");
  }
  if (state.first !== undefined) return state.first;
  if (!acceptsSession) return undefined;
  const cookie = extractSessionCookie(read(headers, "cookie"), options.cookieName);
  return cookie === undefined ? undefined : { kind: "session", source: "cookie", value: cookie };
}

interface Scan {
  first: Credential | undefined;
  conflict: boolean;
  malformed: boolean;
}

/** Folds one explicit credential header into the scan (in header order: Authorization, X-API-Key, X-Session-Token). */
function consider(scan: Scan, p: Parsed, accept: readonly CredentialKind[]): void {
  if (p === undefined) return;
  if (p === "ambiguous") throw new GuardError("ambiguous_credentials", "a credential header was sent more than once");
  if (p === "malformed") {
    scan.malformed = true;
    return;
  }
  if (!accept.includes(p.kind)) return;
  if (scan.first === undefined) scan.first = p;
  else if (p.kind !== scan.first.kind || p.value !== scan.first.value) scan.conflict = true;
}

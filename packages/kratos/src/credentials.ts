// Picks the Kratos credential out of an incoming request. Only this one value is
// ever forwarded to Kratos, and only its hash is ever used as a cache key.
// No imports, Web APIs only: also served as "@gatehouse/kratos/credentials" to the
// guard's Edge (Next.js) entry, which must not load this package's undici client.

export const DEFAULT_SESSION_COOKIE = "ory_kratos_session";

/** Browsers send at most ~4 KiB per cookie; a larger Cookie header than this is not worth parsing. */
export const MAX_COOKIE_HEADER = 8 * 1024;
export const MAX_CREDENTIAL_LENGTH = 4 * 1024;

export type KratosCredential = { kind: "cookie"; value: string } | { kind: "token"; value: string };

// Printable ASCII minus space, DQUOTE, comma, semicolon and backslash: RFC 6265
// cookie-octet. Kratos' cookie (base64url + "=") and tokens ("ory_st_…") fit;
// anything else (control characters, non-ASCII) is not a Kratos credential and
// could not be put into a request header safely anyway.
const COOKIE_OCTETS = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/;
const TOKEN_CHARS = /^[\x21-\x7E]+$/;

/** Whether `value` could be a Kratos session cookie value (safe to put into a Cookie header). */
export function isValidCookieValue(value: string): boolean {
  return value.length > 0 && value.length <= MAX_CREDENTIAL_LENGTH && COOKIE_OCTETS.test(value);
}

/** Whether `value` could be a Kratos session token (safe to put into X-Session-Token). */
export function isValidToken(value: string): boolean {
  return value.length > 0 && value.length <= MAX_CREDENTIAL_LENGTH && TOKEN_CHARS.test(value);
}

/**
 * Returns the value of cookie `name` from a Cookie request header, or undefined
 * when it is absent or cannot be trusted:
 *  - the header is longer than 8 KiB or the value longer than 4 KiB;
 *  - the value has characters outside RFC 6265 cookie-octets (control characters, …);
 *  - the name occurs more than once with different values. Two cookies of the same
 *    name (e.g. one for auth.example.com and one for .example.com) may belong to two
 *    different sessions, and a sibling subdomain can plant the second one ("cookie
 *    tossing"); picking either could sign the user in as someone else, so refuse.
 * Names match case-sensitively (as browsers do); a value in double quotes is unquoted;
 * an empty value counts as absent.
 */
export function extractSessionCookie(
  cookieHeader: string | null | undefined,
  name: string = DEFAULT_SESSION_COOKIE,
): string | undefined {
  if (cookieHeader == null || cookieHeader === "" || cookieHeader.length > MAX_COOKIE_HEADER) return undefined;
  let found: string | undefined;
  for (const pair of cookieHeader.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value === "") continue;
    if (!isValidCookieValue(value)) return undefined;
    if (found !== undefined && found !== value) return undefined;
    found = value;
  }
  return found;
}

// Kratos v1.3.1 session tokens: "ory_st_" and 32 letters or digits (older ones lack the prefix).
const SESSION_TOKEN = /^(?:ory_st_)?[A-Za-z0-9]{32}$/;
// Its session cookie is a gorilla/securecookie value: base64url of "<unix time>|<base64url payload>|<HMAC>".
const COOKIE_VALUE = /^[A-Za-z0-9_-]{40,4096}={0,2}$/;
const COOKIE_DECODED = /^\d{9,12}\|[A-Za-z0-9_=-]{8,}\|[\s\S]{16,}$/;

/**
 * Whether a credential has the shape of a session Kratos issued (not whether it is
 * valid: only Kratos knows that). A Kratos whose database is down answers whoami with
 * 401 for every session; a caller that sees 401 for a credential of this shape asks
 * Kratos whether it is healthy before believing it, so an outage never signs anybody
 * out. Anything else (garbage, a wrong cookie) is answered 401 without that check.
 */
export function looksLikeKratosSession(cred: KratosCredential): boolean {
  if (cred.kind === "token") return SESSION_TOKEN.test(cred.value);
  if (!COOKIE_VALUE.test(cred.value)) return false;
  try {
    // atob (every runtime) reads standard base64; it is only called on a 401, so decoding is cheap enough.
    return COOKIE_DECODED.test(globalThis.atob(cred.value.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return false;
  }
}

/**
 * Chooses the credential to verify.
 *
 * When both are present the session token wins, as in Kratos itself (it checks
 * X-Session-Token before the cookie). A token is sent deliberately by a native
 * client, whereas cookies are ambient (a web view can carry a stale browser
 * cookie), and a cross-site page cannot set a custom header without CORS.
 * A token that is present but malformed yields undefined rather than silently
 * falling back to the cookie: the caller answers 401, not "signed in as whoever
 * the cookie says".
 */
export function credentialFrom(
  input: { cookieHeader?: string | undefined; sessionToken?: string | undefined },
  cookieName: string = DEFAULT_SESSION_COOKIE,
): KratosCredential | undefined {
  if (input.sessionToken !== undefined && input.sessionToken.trim() !== "") {
    const value = input.sessionToken.trim();
    return isValidToken(value) ? { kind: "token", value } : undefined;
  }
  const value = extractSessionCookie(input.cookieHeader, cookieName);
  return value === undefined ? undefined : { kind: "cookie", value };
}

/**
 * Hex SHA-256 of "kind:value": a cache key that does not reveal the credential
 * (and cannot be replayed against Kratos if a cache is dumped). The kind is part
 * of the input so a cookie and a token with the same text never share an entry.
 */
export function credentialKey(cred: KratosCredential): Promise<string> {
  return hashCredential(cred.kind, cred.value);
}

// Web Crypto only, so this file runs in Edge runtimes too. On Node, where
// crypto.subtle.digest costs ~35–40 µs against node:crypto's ~0.5 µs (measured in
// bench/gateway.ts), callers pass node:crypto's hash in: "@gatehouse/kratos"
// exports digestCredentialSync, and the guard's Node entry hands its core a sha256.

/** What is hashed for a credential: its kind is part of the input, so a cookie and a token with the same text never share a key. */
export const digestInput = (kind: string, value: string): string => `${kind}:${value}`;

/** The hash behind credentialKey, for callers with more kinds of credential (the guard: jwt, api_key). */
export async function hashCredential(kind: string, value: string): Promise<string> {
  return digestHex(await digestCredential(kind, value));
}

/**
 * The same SHA-256 as hashCredential, as its 32 raw bytes in a 32-character latin1
 * string: the in-process caches' key (the auth-service's session cache, the guard's
 * token cache). Half the length of the hex form, and no hex encoding per lookup;
 * digestHex turns it into the hex form that names shared (Redis) entries.
 */
export async function digestCredential(kind: string, value: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(digestInput(kind, value)));
  return String.fromCharCode(...new Uint8Array(digest));
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Hex of a latin1 digest (digestCredential's form → hashCredential's), on any runtime. */
export function digestHex(digest: string): string {
  let out = "";
  for (let i = 0; i < digest.length; i++) out += HEX[digest.charCodeAt(i) & 0xff];
  return out;
}

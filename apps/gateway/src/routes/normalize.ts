// One canonical form of a request path, used both to match a route and as the
// path the upstream receives, so a request can never be matched as one path and
// served as another. Anything whose meaning differs between servers is refused
// instead of guessed at: encoded "/" "\" "." ";" "%", dot segments, "\",
// ";" parameters, trailing dots, control characters, and bytes that are not UTF-8
// (an overlong "%c0%ae" is "." to a lenient decoder and nothing to a strict one).

export type NormalizeResult = { ok: true; path: string; query: string } | { ok: false; reason: string };

const MAX_PATH = 4_096;
// Unreserved characters (RFC 3986) are safe to decode; everything else stays encoded.
const UNRESERVED = /^[A-Za-z0-9\-_~]$/;
// The common case, already canonical: non-empty segments of plain characters, no
// "%", ";" or backslash. Dot segments and trailing dots are excluded by the checks below.
const PLAIN = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@]+)*\/?$/;

type Refusal = { ok: false; reason: string };
const refuse = (reason: string): Refusal => ({ ok: false, reason });

export function normalizePath(rawTarget: string): NormalizeResult {
  if (rawTarget.length > MAX_PATH) return refuse("path too long");
  if (!rawTarget.startsWith("/")) return refuse("request target must be an absolute path");
  const q = rawTarget.indexOf("?");
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? "" : rawTarget.slice(q);
  if (rawPath.includes("#")) return refuse("fragment in request target");
  if (isCanonical(rawPath)) return { ok: true, path: rawPath, query };
  const refused = refusedCharacter(rawPath);
  if (refused !== undefined) return refuse(refused);
  const decoded = decodeUnreserved(rawPath);
  if (typeof decoded !== "string") return decoded;
  if (!isUtf8(decoded)) return refuse("percent-encoded bytes that are not UTF-8");
  return collapseSegments(decoded, query);
}

/** The common case: plain segments, no dot segment, no trailing dot; served as sent. */
function isCanonical(rawPath: string): boolean {
  return PLAIN.test(rawPath) && !rawPath.includes("/.") && !rawPath.includes("./") && !rawPath.endsWith(".");
}

/** Why a raw path is refused before decoding, or undefined. */
function refusedCharacter(rawPath: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\s]/.test(rawPath)) return "control character or whitespace in path";
  // A URI is ASCII (RFC 3986); Node's parser refuses raw bytes above it on the request
  // line, but forward-auth reads the original URI from a header, where they pass.
  if (/[^\x20-\x7e]/.test(rawPath)) return "non-ASCII character in path (percent-encode it)";
  if (rawPath.includes("\\")) return "backslash in path";
  if (rawPath.includes(";")) return "path parameters (;) are not accepted";
  return undefined;
}

/**
 * Decodes percent-encoded unreserved characters; keeps every other escape (upper-cased
 * hex), and refuses those that change a path's structure on some servers and not on
 * others.
 */
function decodeUnreserved(rawPath: string): string | Refusal {
  let decoded = "";
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i] as string;
    if (c !== "%") {
      decoded += c;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return refuse("malformed percent-encoding");
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    if (UNRESERVED.test(ch)) decoded += ch;
    else if (isStructural(ch)) return refuse(`encoded ${JSON.stringify(ch)} in path`);
    else decoded += `%${hex.toUpperCase()}`;
    i += 2;
  }
  return decoded;
}

const isStructural = (ch: string): boolean => {
  const code = ch.charCodeAt(0);
  return ch === "/" || ch === "\\" || ch === "." || ch === ";" || ch === "%" || code < 0x20 || code === 0x7f;
};

/**
 * Percent-encoded bytes above 0x7F must be UTF-8, and only in its shortest form:
 * overlong forms (%c0%ae, %e0%80%ae for ".", %c0%af for "/") are read as dots and
 * slashes by some decoders. decodeURIComponent refuses exactly what is not UTF-8.
 */
function isUtf8(decoded: string): boolean {
  if (!decoded.includes("%")) return true;
  try {
    decodeURIComponent(decoded);
    return true;
  } catch {
    return false;
  }
}

/** Repeated slashes collapsed ("//admin" is "/admin" to most servers, so it must be to us); dot segments refused. */
function collapseSegments(decoded: string, query: string): NormalizeResult {
  const segments = decoded.split("/").filter((s, i, all) => s !== "" || i === all.length - 1);
  for (const s of segments) {
    if (s === "." || s === "..") return refuse("dot segments are not accepted");
    if (s.endsWith(".")) return refuse("a path segment may not end with a dot");
  }
  const path = `/${segments.join("/")}`.replace(/\/+$/, (m) => (m.length > 0 ? "/" : ""));
  return { ok: true, path: path === "" ? "/" : path, query };
}

/** Lower-cased form used for matching only: /ADMIN and /admin must hit the same rule. */
export const matchKey = (normalizedPath: string): string => normalizedPath.toLowerCase();

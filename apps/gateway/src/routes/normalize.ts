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

export function normalizePath(rawTarget: string): NormalizeResult {
  if (rawTarget.length > MAX_PATH) return { ok: false, reason: "path too long" };
  if (!rawTarget.startsWith("/")) return { ok: false, reason: "request target must be an absolute path" };
  const q = rawTarget.indexOf("?");
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? "" : rawTarget.slice(q);
  const hash = rawPath.indexOf("#");
  if (hash !== -1) return { ok: false, reason: "fragment in request target" };
  if (PLAIN.test(rawPath) && !rawPath.includes("/.") && !rawPath.includes("./") && !rawPath.endsWith(".")) {
    return { ok: true, path: rawPath, query };
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\s]/.test(rawPath)) return { ok: false, reason: "control character or whitespace in path" };
  // A URI is ASCII (RFC 3986); Node's parser refuses raw bytes above it on the request
  // line, but forward-auth reads the original URI from a header, where they pass.
  if (/[^\x20-\x7e]/.test(rawPath)) return { ok: false, reason: "non-ASCII character in path (percent-encode it)" };
  if (rawPath.includes("\\")) return { ok: false, reason: "backslash in path" };
  if (rawPath.includes(";")) return { ok: false, reason: "path parameters (;) are not accepted" };

  let decoded = "";
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i] as string;
    if (c !== "%") {
      decoded += c;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: "malformed percent-encoding" };
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    if (UNRESERVED.test(ch)) {
      decoded += ch;
    } else if (
      ch === "/" ||
      ch === "\\" ||
      ch === "." ||
      ch === ";" ||
      ch === "%" ||
      ch.charCodeAt(0) < 0x20 ||
      ch.charCodeAt(0) === 0x7f
    ) {
      // These change the structure of the path on some servers and not on others.
      return { ok: false, reason: `encoded ${JSON.stringify(ch)} in path` };
    } else {
      decoded += `%${hex.toUpperCase()}`;
    }
    i += 2;
  }

  // Percent-encoded bytes above 0x7F must be UTF-8, and only in its shortest form:
  // overlong forms (%c0%ae, %e0%80%ae for ".", %c0%af for "/") are read as dots and
  // slashes by some decoders. decodeURIComponent refuses exactly what is not UTF-8.
  if (decoded.includes("%")) {
    try {
      decodeURIComponent(decoded);
    } catch {
      return { ok: false, reason: "percent-encoded bytes that are not UTF-8" };
    }
  }

  // Collapse repeated slashes ("//admin" is "/admin" to most servers, so it must be to us).
  const segments = decoded.split("/").filter((s, i, all) => s !== "" || i === all.length - 1);
  for (const s of segments) {
    if (s === "." || s === "..") return { ok: false, reason: "dot segments are not accepted" };
    if (s.endsWith(".")) return { ok: false, reason: "a path segment may not end with a dot" };
  }
  const path = `/${segments.join("/")}`.replace(/\/+$/, (m) => (m.length > 0 ? "/" : ""));
  return { ok: true, path: path === "" ? "/" : path, query };
}

/** Lower-cased form used for matching only: /ADMIN and /admin must hit the same rule. */
export const matchKey = (normalizedPath: string): string => normalizedPath.toLowerCase();

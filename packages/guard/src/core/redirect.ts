// Where a browser may be sent back to after signing in. An open redirect here turns
// the login page into a phishing relay, so the rules are strict and allowlist-only:
//  - only absolute http(s) URLs, or paths starting with exactly one "/" (resolved
//    against the request's origin);
//  - no control characters, whitespace, backslashes or non-ASCII anywhere, in the
//    raw value or in any percent-decoded form of it (browsers and login UIs decode,
//    strip tabs/newlines and read "\" as "/", which is how "/\evil" and "/%09/evil"
//    become "//evil");
//  - no userinfo ("https://app@evil"), and the host must be on the allowlist:
//    "app.example.com" (that host), ".example.com" (any subdomain of it),
//    optionally with ":port", a path prefix matched on segment boundaries after
//    normalization ("app.example.com/dashboard"), and a fixed scheme
//    ("https://app.example.com").

export interface AllowedHost {
  scheme?: "http:" | "https:";
  host: string;
  /** ".example.com": any subdomain (the apex only if listed on its own). */
  subdomains: boolean;
  port?: string;
  /** "/" or a prefix without trailing slash, e.g. "/dashboard". */
  path: string;
}

const MAX_RETURN_TO = 2048;
// Anything but visible ASCII (so also space, tab, CR, LF, DEL and non-ASCII), or a backslash.
const UNSAFE_RAW = /[^\x21-\x7E]|\\/;

/** Control characters, space, DEL or a backslash: what browsers strip or reinterpret. */
function unsafeDecoded(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** Parses allowlist entries; throws TypeError naming a bad entry. */
export function parseAllowedHosts(entries: readonly string[]): AllowedHost[] {
  if (!Array.isArray(entries)) throw new TypeError("allowed hosts must be an array of strings");
  return entries.map((entry) => {
    if (typeof entry !== "string" || entry.trim() === "" || UNSAFE_RAW.test(entry) || entry.includes("*")) {
      throw new TypeError(
        `allowed host ${JSON.stringify(entry)} is not a host name (use ".example.com" for subdomains)`,
      );
    }
    const explicitScheme = /^https?:\/\//i.test(entry);
    let rest = explicitScheme ? entry.slice(entry.indexOf("://") + 3) : entry;
    const subdomains = rest.startsWith(".");
    if (subdomains) rest = rest.slice(1);
    let url: URL;
    try {
      url = new URL(`${explicitScheme ? entry.slice(0, entry.indexOf("://")) : "http"}://${rest}`);
    } catch {
      throw new TypeError(`allowed host ${JSON.stringify(entry)} cannot be parsed`);
    }
    if (url.username || url.password || url.search || url.hash || url.hostname === "") {
      throw new TypeError(`allowed host ${JSON.stringify(entry)} must be host[:port][/path] only`);
    }
    const path = url.pathname.replace(/\/+$/, "");
    return {
      ...(explicitScheme ? { scheme: url.protocol as "http:" | "https:" } : {}),
      host: stripDot(url.hostname),
      subdomains,
      ...(url.port !== "" ? { port: url.port } : {}),
      path: path === "" ? "/" : path,
    };
  });
}

function stripDot(hostname: string): string {
  return hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
}

const compiled = new WeakMap<readonly string[], AllowedHost[]>();

function compile(allowed: readonly string[] | readonly AllowedHost[]): readonly AllowedHost[] {
  if (allowed.length === 0 || typeof allowed[0] !== "string") return allowed as readonly AllowedHost[];
  const list = allowed as readonly string[];
  let hosts = compiled.get(list);
  if (hosts === undefined) {
    hosts = parseAllowedHosts(list);
    compiled.set(list, hosts);
  }
  return hosts;
}

/** Every percent-decoded form of `value` (up to 4 rounds), or undefined if one is malformed. */
function decodings(value: string): string[] | undefined {
  const out: string[] = [];
  let current = value;
  for (let i = 0; i < 4 && current.includes("%"); i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return undefined;
    }
    if (next === current) break;
    out.push(next);
    current = next;
  }
  return out;
}

function matches(url: URL, rule: AllowedHost): boolean {
  if (rule.scheme !== undefined && url.protocol !== rule.scheme) return false;
  const host = stripDot(url.hostname);
  const hostOk = rule.subdomains ? host.endsWith(`.${rule.host}`) : host === rule.host;
  if (!hostOk) return false;
  if (rule.port !== undefined && url.port !== rule.port) return false;
  if (rule.path === "/") return true;
  return url.pathname === rule.path || url.pathname.startsWith(`${rule.path}/`);
}

/**
 * The normalized absolute URL to send the browser back to, or undefined when
 * `candidate` is not safe. `base` (the request's URL or origin) resolves paths;
 * without it only absolute URLs can pass.
 */
export function safeReturnTo(
  candidate: unknown,
  allowedHosts: readonly string[] | readonly AllowedHost[],
  base?: string,
): string | undefined {
  if (typeof candidate !== "string" || candidate === "" || candidate.length > MAX_RETURN_TO) return undefined;
  if (UNSAFE_RAW.test(candidate)) return undefined;
  const decoded = decodings(candidate);
  if (decoded === undefined) return undefined;
  const relative = candidate.startsWith("/");
  for (const d of decoded) {
    if (unsafeDecoded(d)) return undefined;
    if (relative && (d.startsWith("//") || d.startsWith("/\\"))) return undefined;
  }

  let url: URL;
  try {
    if (relative) {
      // Exactly one leading slash: "//host" is protocol-relative (another site).
      if (candidate.startsWith("//") || base === undefined) return undefined;
      url = new URL(candidate, new URL(base).origin);
    } else {
      // Scheme, then "//", then the host: "https:evil.example" and "javascript:…" fail here.
      if (!/^https?:\/\/[^/?#]/i.test(candidate)) return undefined;
      url = new URL(candidate);
    }
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.username !== "" || url.password !== "" || url.hostname === "") return undefined;

  // A decoded form that parses to another host means some consumer could read it so.
  for (const d of decoded) {
    if (!/^https?:\/\//i.test(d)) continue;
    try {
      if (stripDot(new URL(d).hostname) !== stripDot(url.hostname)) return undefined;
    } catch {
      return undefined;
    }
  }

  const rules = compile(allowedHosts);
  return rules.some((rule) => matches(url, rule)) ? url.href : undefined;
}

/** `loginUrl` with `param` (return_to) set; other query parameters are kept. */
export function withReturnTo(loginUrl: string, returnTo: string | undefined, param = "return_to"): string {
  const url = new URL(loginUrl);
  if (returnTo !== undefined) url.searchParams.set(param, returnTo);
  return url.href;
}

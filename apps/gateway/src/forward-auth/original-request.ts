// What the request a proxy asks /decisions about was: its method, target, host and
// scheme, read from exactly one set of headers, the one this deployment's proxy
// writes (FORWARD_AUTH_PROXY). Every proxy passes the client's other headers on to
// the check, so a header of another proxy's set may be the client's own: reading
// "whichever is there" would let a client name the path and method decided on.
// Each header of the set must come exactly once (the documented configs overwrite
// a client's copy; two copies mean one of them is not the proxy's).
import type { IncomingMessage } from "node:http";
import type { Answer } from "@gatehouse/guard/node";

export const FORWARD_AUTH_PROXIES = ["nginx", "traefik", "caddy", "envoy"] as const;
export type ForwardAuthProxy = (typeof FORWARD_AUTH_PROXIES)[number];

export interface OriginalRequest {
  method: string;
  /** The request target as the client sent it (path and query), not yet normalized. */
  target: string;
  host: string | undefined;
  proto: "http" | "https";
}

export type Described = { ok: true; request: OriginalRequest } | { ok: false; message: string };

interface HeaderSet {
  method: string;
  uri: string;
}

// Envoy's ext_authz (HTTP) has no header set: it sends the original method, the
// original path after path_prefix, and the original Host on the check request itself.
const HEADER_SETS: Record<Exclude<ForwardAuthProxy, "envoy">, HeaderSet> = {
  // proxy_set_header in the documented location = /_gatehouse.
  nginx: { method: "x-original-method", uri: "x-original-uri" },
  // Written by Traefik's ForwardAuth without trustForwardHeader, by Caddy's forward_auth.
  traefik: { method: "x-forwarded-method", uri: "x-forwarded-uri" },
  caddy: { method: "x-forwarded-method", uri: "x-forwarded-uri" },
};

const METHOD = /^[A-Za-z]{1,20}$/;
const DECISIONS = "/decisions";

/** The one value of a header (any spelling), undefined when absent, null when sent more than once. */
function single(raw: readonly string[], name: string): string | undefined | null {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as string;
    if (n.length !== name.length || n.toLowerCase() !== name) continue;
    if (value !== undefined) return null;
    value = raw[i + 1] as string;
  }
  return value;
}

export function originalRequest(proxy: ForwardAuthProxy, req: IncomingMessage): Described {
  const raw = req.rawHeaders;
  const hostName = proxy === "envoy" ? "host" : "x-forwarded-host";
  const host = single(raw, hostName);
  const proto = single(raw, "x-forwarded-proto");
  const named = proxy === "envoy" ? undefined : HEADER_SETS[proxy];
  const url = req.url ?? "";
  const method = named ? single(raw, named.method) : req.method;
  const target = named
    ? single(raw, named.uri)
    : url.startsWith(`${DECISIONS}/`)
      ? url.slice(DECISIONS.length)
      : undefined;
  if (method === null || target === null || host === null || proto === null)
    return { ok: false, message: `a header of the ${proxy} set was sent more than once` };
  if (target === undefined || target === "")
    return {
      ok: false,
      message: named
        ? `send the original URI in ${named.uri} (FORWARD_AUTH_PROXY=${proxy})`
        : "send the original path after /decisions (FORWARD_AUTH_PROXY=envoy)",
    };
  if (method === undefined || !METHOD.test(method))
    return { ok: false, message: `send the original method in ${named?.method ?? "the request line"}` };
  return {
    ok: true,
    request: {
      method: method.toUpperCase(),
      target,
      // Without X-Forwarded-Host, the Host the proxy called us with (as before).
      host: host ?? only(req.headers.host),
      proto: proto?.toLowerCase() === "https" ? "https" : "http",
    },
  };
}

const only = (v: string | string[] | undefined): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * nginx's auth_request understands 2xx, 401 and 403 only (any other status is its
 * 500): another refusal goes as 403 with the real status in X-Auth-Status, which the
 * documented config turns back into that status.
 */
export function forAuthRequest(answer: Answer): Answer {
  if (answer.status < 300 || answer.status === 401 || answer.status === 403) return answer;
  return { ...answer, status: 403, headers: { ...answer.headers, "x-auth-status": String(answer.status) } };
}

/**
 * A check request Node's parser refused (a control character in a header value, too
 * many header bytes) never reaches forwardAuth; for nginx its 400 or 431 must come as
 * 403 + X-Auth-Status too, or auth_request makes it a 500. Whether the refused bytes
 * were a /decisions request is read from their request line.
 */
export function parseErrorForAuthRequest(proxy: ForwardAuthProxy | undefined, rawPacket: unknown): boolean {
  if (proxy !== "nginx" || !Buffer.isBuffer(rawPacket)) return false;
  return /^[A-Z]+ \/decisions[/? ]/.test(rawPacket.toString("latin1", 0, 64));
}

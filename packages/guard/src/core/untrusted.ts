// Client-sent headers that claim something only a proxy may say: who the client
// is (its address, scheme, host), how the request should be routed (a rewritten
// URL or method), or how the connection is framed (hop-by-hop). Names a backend
// framework honours unasked (Express' trust proxy, Symfony's X-Original-URL,
// Rails' X-HTTP-Method-Override, IIS' X-Rewrite-URL…). A guard drops them from
// requests it forwards unless they came from a proxy it trusts, and writes its own.
//
// Matching ignores case and treats "_" as "-", as isIdentityHeader does: CGI-style
// stacks (PHP, WSGI, Rack) map X_Real_IP and X-Real-IP to the same variable.

/** What a header claims. */
export type UntrustedKind = "address" | "routing" | "hop";

// Who the client is, as some proxy, CDN or load balancer would state it.
const ADDRESS_EXACT = new Set([
  "forwarded",
  "x-real-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "cf-connecting-ipv6",
  "cf-pseudo-ipv4",
  "fastly-client-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "x-originating-ip",
  "x-remote-ip",
  "x-remote-addr",
  "x-envoy-external-address",
  "x-azure-clientip",
  "x-azure-socketip",
  "x-appengine-user-ip",
  "client-ip",
  "x-proxyuser-ip",
  "x-host",
  "x-original-host",
  "x-real-port",
  "front-end-https",
  "x-url-scheme",
]);
// Every X-Forwarded-* (For, Host, Proto, Port, Prefix, Server, Ssl, Scheme, Uri, Method…)
// and the "original" variants some proxies add.
const ADDRESS_PREFIXES = ["x-forwarded-", "x-original-forwarded-"];

// A URL or method other than the one on the request line.
const ROUTING_EXACT = new Set([
  "x-original-url",
  "x-original-uri",
  "x-original-method",
  "x-rewrite-url",
  "x-override-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-http-destinationurl",
  "x-envoy-original-path",
  "x-envoy-original-method",
  // Next.js' own, between its router, middleware and renderers: a client's
  // X-Middleware-Subrequest skipped the middleware (CVE-2025-29927) of every Next.js
  // before 15.2.3, and X-Invoke-* name the page to render.
  "x-middleware-subrequest",
  "x-middleware-invoke",
  "x-invoke-path",
  "x-invoke-query",
  "x-invoke-status",
  "x-invoke-error",
  "x-invoke-output",
  "x-now-route-matches",
  "x-matched-path",
]);

// RFC 9110 §7.6.1, plus Trailer and Expect, which only make sense between the
// client and us: forwarded, they frame or stall the next hop's request.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "trailer",
  "expect",
  "proxy-authorization",
  "proxy-authenticate",
]);

const seen = new Map<string, UntrustedKind | null>();
const SEEN_MAX = 4_096;

/** Which kind of untrusted claim a header name makes, or undefined for an ordinary header. */
export function untrustedKind(name: string): UntrustedKind | undefined {
  const known = seen.get(name);
  if (known !== undefined) return known ?? undefined;
  const n = name.trim().toLowerCase().replaceAll("_", "-");
  let kind: UntrustedKind | null = null;
  // Routing first: X-Forwarded-Uri and -Method also match the address prefix.
  if (ROUTING_EXACT.has(n) || n === "x-forwarded-uri" || n === "x-forwarded-method") kind = "routing";
  else if (HOP_BY_HOP.has(n)) kind = "hop";
  else if (ADDRESS_EXACT.has(n) || ADDRESS_PREFIXES.some((p) => n.startsWith(p))) kind = "address";
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(name, kind);
  return kind ?? undefined;
}

/** A header only a trusted proxy may set about the client: its address, host or scheme. */
export const isClientAddressHeader = (name: string): boolean => untrustedKind(name) === "address";
/** A header about this connection only (RFC 9110 §7.6.1), never forwarded as is. */
export const isHopByHopHeader = (name: string): boolean => untrustedKind(name) === "hop";

/**
 * The header names a message's Connection header lists (lower-case): hop-by-hop
 * too, by RFC 9110 §7.6.1. Empty for the usual "keep-alive" / "close".
 */
export function connectionListed(connection: string | undefined): Set<string> {
  const out = new Set<string>();
  if (connection === undefined) return out;
  for (const part of connection.split(",")) {
    const name = part.trim().toLowerCase();
    if (name !== "" && name !== "close" && name !== "keep-alive") out.add(name);
  }
  return out;
}

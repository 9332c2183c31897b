// The routes file (YAML or JSON), validated once at load into a typed table.
// Overlapping routes must have distinct priorities, else loading fails naming both:
// which rule guards a request is decided when the file is read, never guessed at
// request time. Each route's access (the guard's rule, the credentials it accepts,
// what is forwarded) and its upstream origin are compiled here, once.
import { readFileSync } from "node:fs";
import { compileRule, type Rule } from "@gatehouse/guard";
import { type Access, compileForwarding, PROXY_FORWARDING } from "@gatehouse/guard/node";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { hostsIntersect, intersects, type Pattern, parsePattern } from "./patterns.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

const hostRe = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const upstream = z.string().refine((u) => {
  try {
    const x = new URL(u);
    return (
      (x.protocol === "http:" || x.protocol === "https:") &&
      (x.pathname === "/" || x.pathname === "") &&
      !x.search &&
      !x.username
    );
  } catch {
    return false;
  }
}, "must be an origin such as http://127.0.0.1:7403 (no path, query or credentials)");

const auth = z
  .object({
    accept: z.array(z.enum(["session", "jwt", "api_key"])).default(["session", "jwt"]),
    anonymous: z.boolean().default(false),
    roles: z.array(z.enum(["owner", "admin", "member"])).default([]),
    permissions: z.array(z.string().regex(/^[a-z_]+:[a-z_*]+$/)).default([]),
    aal: z.enum(["aal1", "aal2"]).optional(),
  })
  .strict();

const forward = z
  .object({
    jwt: z.boolean().default(true),
    identity_headers: z.boolean().default(true),
    kratos_cookie: z.boolean().default(false),
    // X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override…: a client could make an
    // upstream that honours them serve another path or method than the rule allowed.
    routing_headers: z.boolean().default(false),
  })
  .strict();

const route = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "lowercase letters, digits, '-', '_', '.'"),
    match: z
      .object({
        host: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
        path: z.string().default("/**"),
        methods: z.array(z.enum(METHODS)).min(1).optional(),
      })
      .strict(),
    priority: z.number().int().min(-1000).max(1000).default(0),
    upstream,
    auth: auth.default({ accept: ["session", "jwt"], anonymous: false, roles: [], permissions: [] }),
    forward: forward.default({ jwt: true, identity_headers: true, kratos_cookie: false, routing_headers: false }),
    websocket: z.boolean().default(false),
    timeout_ms: z.number().int().min(100).max(300_000).default(30_000),
  })
  .strict();

const file = z
  .object({
    routes: z.array(route).default([]),
    default: route.omit({ name: true, match: true, priority: true }).optional(),
  })
  .strict();

export interface CompiledRoute {
  name: string;
  hosts: string[] | undefined;
  pathGlob: string;
  pattern: Pattern;
  methods: ReadonlySet<string> | undefined;
  priority: number;
  upstream: string;
  /** The upstream's origin, parsed. */
  origin: URL;
  /** Who may pass (the guard's compiled rule) and what goes upstream with them. */
  access: Access;
  websocket: boolean;
  timeoutMs: number;
}

export interface RouteTable {
  routes: CompiledRoute[];
  fallback: CompiledRoute | undefined;
}

export class RoutesError extends Error {
  override name = "RoutesError";
}

type RouteInput = z.infer<typeof route>;

function compile(
  r: Omit<RouteInput, "name" | "match" | "priority"> & Partial<Pick<RouteInput, "name" | "match" | "priority">>,
  where: string,
): CompiledRoute {
  const hosts =
    r.match?.host === undefined
      ? undefined
      : (Array.isArray(r.match.host) ? r.match.host : [r.match.host]).map((h) => h.toLowerCase());
  for (const h of hosts ?? [])
    if (!hostRe.test(h))
      throw new RoutesError(
        `${where}.match.host: "${h}" is not a host name without port (use "*.example.com" for subdomains)`,
      );
  let pattern: Pattern;
  try {
    pattern = parsePattern(r.match?.path ?? "/**");
  } catch (e) {
    throw new RoutesError(`${where}.match.path: ${(e as Error).message}`);
  }
  if (r.auth.anonymous && (r.auth.roles.length || r.auth.permissions.length || r.auth.aal)) {
    throw new RoutesError(`${where}.auth: an anonymous route cannot require roles, permissions or aal`);
  }
  if (!r.auth.anonymous && r.auth.accept.length === 0)
    throw new RoutesError(`${where}.auth.accept: list at least one credential, or set anonymous: true`);
  let access: Access;
  try {
    access = { rule: compileRule(ruleOf(r.auth)), forward: forwardingOf(r.forward) };
  } catch (e) {
    // The schema above admits only what the guard accepts; this names the route if not.
    throw new RoutesError(`${where}.auth: ${(e as Error).message}`);
  }
  return {
    name: r.name ?? "default",
    hosts,
    pathGlob: r.match?.path ?? "/**",
    pattern,
    methods: r.match?.methods ? new Set(r.match.methods) : undefined,
    priority: r.priority ?? 0,
    upstream: r.upstream.replace(/\/$/, ""),
    origin: new URL(r.upstream),
    access,
    websocket: r.websocket,
    timeoutMs: r.timeout_ms,
  };
}

/** The guard's rule for a route's `auth` block. */
function ruleOf(auth: RouteInput["auth"]): Rule {
  return {
    accept: auth.accept,
    ...(auth.anonymous ? { anonymous: true } : {}),
    ...(auth.roles.length ? { roles: auth.roles } : {}),
    ...(auth.permissions.length ? { permissions: auth.permissions } : {}),
    ...(auth.aal === "aal2" ? { aal: "aal2" as const } : {}),
  };
}

/**
 * What goes upstream: the gateway states the client's address itself (X-Forwarded-*),
 * so the client's own address headers never pass; `kratos_cookie` keeps the Kratos
 * cookie and X-Session-Token alike.
 */
function forwardingOf(forward: RouteInput["forward"]) {
  return compileForwarding(
    {
      jwt: forward.jwt,
      identityHeaders: forward.identity_headers,
      kratosCookie: forward.kratos_cookie,
      sessionToken: forward.kratos_cookie,
      routingHeaders: forward.routing_headers,
    },
    { ...PROXY_FORWARDING, clientAddressHeaders: false },
  );
}

const methodsIntersect = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined) =>
  !a || !b || [...a].some((m) => b.has(m));

export function compileRoutes(doc: unknown, source = "routes"): RouteTable {
  const parsed = file.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") ?? "";
    throw new RoutesError(`${source}${path}: ${issue?.message ?? "invalid"}`);
  }
  const names = new Set<string>();
  const routes = parsed.data.routes.map((r, i) => {
    if (names.has(r.name)) throw new RoutesError(`${source}.routes[${i}].name: "${r.name}" is used twice`);
    names.add(r.name);
    return compile(r, `${source}.routes[${i}] (${r.name})`);
  });
  for (let i = 0; i < routes.length; i++) {
    for (let j = i + 1; j < routes.length; j++) {
      const a = routes[i] as CompiledRoute;
      const b = routes[j] as CompiledRoute;
      if (
        a.priority === b.priority &&
        hostsIntersect(a.hosts, b.hosts) &&
        methodsIntersect(a.methods, b.methods) &&
        intersects(a.pattern, b.pattern)
      ) {
        throw new RoutesError(
          `${source}: routes "${a.name}" (${a.pathGlob}) and "${b.name}" (${b.pathGlob}) overlap with the same priority ${a.priority}; give the one that should win a higher priority`,
        );
      }
    }
  }
  routes.sort((a, b) => b.priority - a.priority);
  const fallback = parsed.data.default ? compile(parsed.data.default, `${source}.default`) : undefined;
  return { routes, fallback };
}

export function loadRoutesFile(path: string): RouteTable {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new RoutesError(
      `cannot read routes file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new RoutesError(
      `${path}: not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  return compileRoutes(doc, path);
}

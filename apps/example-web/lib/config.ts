// Run-time configuration from the environment. Nothing here is baked into the
// build: one `next build` serves every stack (dev on 7400, test stacks on 17400+).
// Web APIs only: the Edge middleware imports this too.

export interface WebConfig {
  /** Browser-facing origin of the app (product) host, e.g. http://app.gatehouse.test:17401. */
  webUrl: string;
  /** Browser-facing origin of the marketing site, e.g. http://www.gatehouse.test:17402. */
  marketingUrl: string;
  /** Kratos' public API as the browser reaches it (form actions, flow starts). */
  kratosBrowserUrl: string;
  /** Kratos' public API for server-to-server calls (loopback). */
  kratosUrl: string;
  /** The auth-service's public listener (server-to-server). */
  authServiceUrl: string;
  /** The gateway as the browser reaches it (links) and from the server (calls). */
  gatewayUrl: string;
  gatewayInternalUrl: string;
  /** Parent domain of the Kratos cookies; "" for host-only cookies (plain localhost). */
  cookieDomain: string;
  cookieName: string;
  audience: string;
  issuer: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function url(env: Env, key: string, fallback: string): string {
  const raw = env[key] || fallback;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${key} must be an http(s) URL, got "${raw}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError(`${key} must be an http(s) URL, got "${raw}"`);
  }
  return u.origin + u.pathname.replace(/\/+$/, "");
}

let cached: WebConfig | undefined;

/** Reads (once) and validates the configuration; throws a ConfigError naming the variable. */
export function webConfig(env: Env = process.env): WebConfig {
  if (cached && env === process.env) return cached;
  const authServiceUrl = url(env, "AUTH_SERVICE_URL", "http://127.0.0.1:7410");
  const gatewayUrl = url(env, "GATEWAY_URL", "http://localhost:7400");
  const cookieDomain = (env.COOKIE_DOMAIN ?? "").trim().replace(/^\./, "");
  if (cookieDomain !== "" && !/^[a-z0-9.-]+$/i.test(cookieDomain)) {
    throw new ConfigError(`COOKIE_DOMAIN must be a domain such as "gatehouse.test", got "${cookieDomain}"`);
  }
  const cookieName = env.KRATOS_COOKIE_NAME || "ory_kratos_session";
  if (!/^[A-Za-z0-9_.-]+$/.test(cookieName)) throw new ConfigError("KRATOS_COOKIE_NAME has invalid characters");
  const cfg: WebConfig = {
    webUrl: url(env, "WEB_URL", "http://localhost:7401"),
    marketingUrl: url(env, "MARKETING_URL", "http://localhost:7402"),
    kratosBrowserUrl: url(env, "KRATOS_BROWSER_URL", env.KRATOS_PUBLIC_URL || "http://localhost:7433"),
    kratosUrl: url(env, "KRATOS_PUBLIC_URL", "http://127.0.0.1:7433"),
    authServiceUrl,
    gatewayUrl,
    gatewayInternalUrl: url(env, "GATEWAY_INTERNAL_URL", gatewayUrl),
    cookieDomain,
    cookieName,
    audience: env.TOKEN_AUDIENCE || "gatehouse",
    issuer: env.TOKEN_ISSUER || authServiceUrl,
  };
  if (env === process.env) cached = cfg;
  return cfg;
}

/** `host[:port]` of a configured origin, as a browser sends it in the Host header. */
export function hostOf(origin: string): string {
  return new URL(origin).host;
}

export const PLANS = ["starter", "pro", "enterprise"] as const;
export type PlanName = (typeof PLANS)[number];

export function isPlan(v: unknown): v is PlanName {
  return typeof v === "string" && (PLANS as readonly string[]).includes(v);
}

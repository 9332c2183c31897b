// Calls made on the signed-in user's behalf, server to server, with their Kratos
// cookie (and no Origin header, which the auth-service accepts from servers):
// the auth-service's organization API, and the example API through the gateway.
import { webConfig } from "./config.ts";

export interface ApiResult<T> {
  ok: boolean;
  status: number;
  data?: T;
  /** `{error, message}` of a failed call, or a message of ours when there was no answer. */
  error?: { code: string; message: string };
}

async function call<T>(
  base: string,
  path: string,
  cookie: string,
  init: { method?: string; json?: unknown } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { cookie, accept: "application/json" };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  let r: Response;
  try {
    r = await fetch(`${base}${path}`, {
      method: init.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      ...(body !== undefined ? { body } : {}),
      cache: "no-store",
      redirect: "manual",
      signal: AbortSignal.timeout(8_000),
    });
  } catch {
    return {
      ok: false,
      status: 0,
      error: { code: "unavailable", message: "The service did not answer. Please try again in a moment." },
    };
  }
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (r.ok) return { ok: true, status: r.status, data: parsed as T };
  const e = (parsed ?? {}) as { error?: string; message?: string };
  return {
    ok: false,
    status: r.status,
    error: { code: e.error ?? `http_${r.status}`, message: e.message ?? `The service answered ${r.status}.` },
  };
}

export const authApi = <T>(path: string, cookie: string, init?: { method?: string; json?: unknown }) =>
  call<T>(webConfig().authServiceUrl, path, cookie, init);

export const gatewayApi = <T>(path: string, cookie: string, init?: { method?: string; json?: unknown }) =>
  call<T>(webConfig().gatewayInternalUrl, path, cookie, init);

export interface Organization {
  organizationId: string;
  name: string;
  plan: string;
  role: string;
}

export interface Member {
  identityId: string;
  role: "owner" | "admin" | "member";
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
}

export interface Invitation {
  id: string;
  email: string;
  role: "owner" | "admin" | "member";
  status: "pending" | "accepted" | "revoked" | "expired";
  expiresAt: string;
}

export interface ApiKey {
  id: string;
  identityId: string | null;
  name: string;
  prefix: string;
  scopes: string[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

export interface Team {
  id: string;
  name: string;
  memberCount: number;
}

export interface TeamMember {
  identityId: string;
  role: "lead" | "member";
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

export interface Project {
  id: string;
  name: string;
  created_by: string;
  created_at: string;
}

/** A sentence for the UI from a failed call: what happened, in the user's terms. */
export function explain(r: ApiResult<unknown>, action: string): string {
  if (r.status === 403) {
    const why = r.error?.message ? ` (${r.error.message})` : "";
    return `You are not allowed to ${action}: your role does not permit it${why}. Ask an owner or admin.`;
  }
  if (r.status === 401) return "Your session has ended. Sign in again.";
  if (r.status === 404) return r.error?.message ? capitalize(r.error.message) : "Not found.";
  if (r.status === 400 || r.status === 409 || r.status === 410 || r.status === 422)
    return r.error?.message ? capitalize(r.error.message) : "Please check what you entered.";
  if (r.status === 429) return "Too many attempts. Wait a minute and try again.";
  return r.error?.message && r.status === 0
    ? r.error.message
    : `We could not ${action} right now. Please try again in a moment.`;
}

function capitalize(s: string): string {
  const t = s.trim();
  return t ? `${t[0]?.toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}` : t;
}

// Server-side access to Kratos' self-service API: fetch a browser flow with the
// visitor's cookies (the CSRF cookie must travel with it), and turn every answer
// Kratos can give into one of: the flow, a redirect, or an error to show.
import type { UiContainer, UiNode, UiText } from "@ory/client";
import { webConfig } from "./config.ts";

export type { UiContainer, UiNode, UiText };

export type FlowKind = "login" | "registration" | "verification" | "recovery" | "settings";

export interface Flow {
  id: string;
  type?: string;
  state?: string;
  return_to?: string;
  requested_aal?: "aal1" | "aal2" | "aal3";
  refresh?: boolean;
  ui: UiContainer;
  identity?: { id: string; traits?: Record<string, unknown> };
}

/** Kratos' error envelope (`{error:{id,code,message,reason}}`) plus its flow-related fields. */
export interface KratosError {
  error?: { id?: string; code?: number; message?: string; reason?: string; status?: string };
  redirect_browser_to?: string;
  use_flow_id?: string;
}

export type FlowResult =
  | { kind: "flow"; flow: Flow }
  | { kind: "restart" }
  | { kind: "redirect"; to: string }
  | { kind: "signin" }
  | { kind: "already_signed_in" }
  | { kind: "error"; title: string; message: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(v: unknown): v is string {
  return typeof v === "string" && UUID.test(v);
}

/** The first value of a search parameter (Next passes arrays for repeated keys). */
export function param(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s.length > 0 && s.length <= 2048 ? s : undefined;
}

/** Where a browser starts a new flow of `kind` (Kratos sets the CSRF cookie and comes back with `?flow=`). */
export function startFlowUrl(kind: FlowKind, query: Record<string, string | undefined> = {}): string {
  const u = new URL(`${webConfig().kratosBrowserUrl}/self-service/${kind}/browser`);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") u.searchParams.set(k, v);
  return u.toString();
}

/** Kratos' browser-facing URL → the loopback URL the server uses. */
export function toInternal(browserUrl: string): string {
  const cfg = webConfig();
  if (browserUrl.startsWith(cfg.kratosBrowserUrl)) return cfg.kratosUrl + browserUrl.slice(cfg.kratosBrowserUrl.length);
  return browserUrl;
}

export async function kratosFetch(
  path: string,
  init: {
    cookie?: string | undefined;
    method?: string;
    json?: unknown;
    userAgent?: string | undefined;
    /** The browser's address (server.ts sets it): the gateway counts attempts per address. */
    clientAddress?: string | null | undefined;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.clientAddress) headers["x-forwarded-for"] = init.clientAddress;
  if (init.userAgent) headers["user-agent"] = init.userAgent;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  const target = path.startsWith("http") ? toInternal(path) : `${webConfig().kratosUrl}${path}`;
  return fetch(target, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    ...(body !== undefined ? { body } : {}),
    redirect: "manual",
    cache: "no-store",
    signal: AbortSignal.timeout(8_000),
  });
}

async function readJson<T>(r: Response): Promise<T | undefined> {
  try {
    return (await r.json()) as T;
  } catch {
    return undefined;
  }
}

const UNAVAILABLE = {
  kind: "error",
  title: "We could not reach the sign-in service",
  message: "This is on our side. Please try again in a moment.",
} as const;

/** Fetches a browser flow with the visitor's cookies and classifies the answer. */
export async function getFlow(kind: FlowKind, id: string | undefined, cookie: string | undefined): Promise<FlowResult> {
  if (!isUuid(id)) return { kind: "restart" };
  let r: Response;
  try {
    r = await kratosFetch(`/self-service/${kind}/flows?id=${encodeURIComponent(id)}`, { cookie });
  } catch {
    return UNAVAILABLE;
  }
  if (r.status === 200) {
    const flow = await readJson<Flow>(r);
    return flow?.ui ? { kind: "flow", flow } : UNAVAILABLE;
  }
  const err = (await readJson<KratosError>(r)) ?? {};
  return classifyError(r.status, err);
}

export function classifyError(status: number, err: KratosError): FlowResult {
  const id = err.error?.id;
  if (err.redirect_browser_to) return { kind: "redirect", to: err.redirect_browser_to };
  if (id === "session_already_available") return { kind: "already_signed_in" };
  if (status === 401 || id === "session_inactive" || id === "no_active_session") return { kind: "signin" };
  // Expired, unknown, from another browser (CSRF cookie missing), or a malformed id:
  // start over; Kratos hands out a fresh flow with a fresh CSRF cookie.
  if (status === 400 || status === 403 || status === 404 || status === 410) return { kind: "restart" };
  if (status >= 500 || status === 0) return UNAVAILABLE;
  return {
    kind: "error",
    title: "Something went wrong",
    message: err.error?.reason ?? err.error?.message ?? `The sign-in service answered ${status}.`,
  };
}

/** `tier` from a flow's `return_to` (registration keeps the marketing site's choice there). */
export function tierFromReturnTo(returnTo: string | undefined): string | undefined {
  if (!returnTo) return undefined;
  try {
    return new URL(returnTo).searchParams.get("tier") ?? undefined;
  } catch {
    return undefined;
  }
}

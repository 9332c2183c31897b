// Drives Kratos' self-service flows the way a frontend does: API flows for native
// apps, browser flows with the CSRF cookie and token for web apps (SPA style:
// JSON in, JSON out, cookies set by Kratos).
import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import type { Browser, BrowserResponse } from "./browser.ts";
import { setKratosBrowserOrigin } from "./browser.ts";

export interface StackUrls {
  kratosPublic: string;
  kratosBrowser: string;
  kratosAdmin: string;
  mail: string;
  domain: string;
  env: Record<string, string>;
}

export function stack(): StackUrls {
  const env = inject("stack");
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`the test stack did not provide ${k}`);
    return v;
  };
  const urls = {
    kratosPublic: need("KRATOS_PUBLIC_URL"),
    kratosBrowser: need("KRATOS_BROWSER_URL"),
    kratosAdmin: need("KRATOS_ADMIN_URL"),
    mail: need("MAIL_URL"),
    domain: need("GATEHOUSE_DOMAIN"),
    env,
  };
  setKratosBrowserOrigin(urls.kratosBrowser);
  return urls;
}

export const uniqueEmail = (prefix = "user") => `${prefix}-${randomUUID().slice(0, 8)}@example.org`;
export const PASSWORD = "correct-horse-battery-staple-42";

export interface UiNode {
  type: string;
  group: string;
  attributes: { name?: string; value?: unknown; type?: string; node_type: string };
  messages: { id: number; text: string; type: string }[];
}
export interface Flow {
  id: string;
  type: "api" | "browser";
  state?: string;
  ui: { action: string; method: string; nodes: UiNode[]; messages?: { id: number; text: string; type: string }[] };
}

export function csrfToken(flow: Flow): string {
  const node = flow.ui.nodes.find((n) => n.attributes.name === "csrf_token");
  return typeof node?.attributes.value === "string" ? node.attributes.value : "";
}

export function nodeMessages(flow: Flow, name: string): { id: number; text: string }[] {
  return flow.ui.nodes.find((n) => n.attributes.name === name)?.messages ?? [];
}

export function allMessageIds(flow: Flow): number[] {
  return [...(flow.ui.messages ?? []), ...flow.ui.nodes.flatMap((n) => n.messages)].map((m) => m.id);
}

async function json<T>(r: Response): Promise<T> {
  const t = await r.text();
  try {
    return JSON.parse(t) as T;
  } catch {
    throw new Error(`expected JSON from ${r.url}, got ${r.status}: ${t.slice(0, 200)}`);
  }
}

/** Native-app registration: returns the session token Kratos issues. */
export async function registerApi(
  s: StackUrls,
  traits: { email: string; name?: { first: string; last: string } },
  opts: { password?: string; transientPayload?: Record<string, unknown> } = {},
): Promise<{ status: number; body: Record<string, unknown> & { session_token?: string; identity?: { id: string } } }> {
  const flow = await json<Flow>(await fetch(`${s.kratosPublic}/self-service/registration/api`));
  // The action names Kratos' browser-facing origin (the gateway); submit straight to Kratos.
  const action = new URL(flow.ui.action);
  const r = await fetch(`${s.kratosPublic}${action.pathname}${action.search}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({
      method: "password",
      password: opts.password ?? PASSWORD,
      traits: { name: { first: "Test", last: "User" }, ...traits },
      ...(opts.transientPayload ? { transient_payload: opts.transientPayload } : {}),
    }),
  });
  return { status: r.status, body: await json(r) };
}

export type FlowKind = "registration" | "login" | "verification" | "recovery" | "settings";

/** Starts a browser flow as a SPA does (Accept: application/json); Kratos sets the CSRF cookie. */
export async function startBrowserFlow(
  b: Browser,
  s: StackUrls,
  kind: FlowKind,
  query: Record<string, string> = {},
): Promise<{ flow: Flow; res: BrowserResponse }> {
  const u = new URL(`/self-service/${kind}/browser`, s.kratosBrowser);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  const res = await b.request(u.toString(), { headers: { accept: "application/json" } });
  if (res.status !== 200) throw new Error(`starting ${kind} flow: ${res.status} ${res.text.slice(0, 300)}`);
  return { flow: res.json<Flow>(), res };
}

export async function getBrowserFlow(b: Browser, s: StackUrls, kind: FlowKind, id: string): Promise<Flow> {
  const res = await b.request(`${s.kratosBrowser}/self-service/${kind}/flows?id=${encodeURIComponent(id)}`, {
    headers: { accept: "application/json" },
  });
  if (res.status !== 200) throw new Error(`fetching ${kind} flow: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json<Flow>();
}

export function submitBrowserFlow(b: Browser, flow: Flow, body: Record<string, unknown>): Promise<BrowserResponse> {
  return b.request(flow.ui.action, { json: { csrf_token: csrfToken(flow), ...body } });
}

export async function whoamiByCookie(b: Browser, s: StackUrls): Promise<BrowserResponse> {
  return b.request(`${s.kratosBrowser}/sessions/whoami`, { headers: { accept: "application/json" } });
}

export async function adminGetIdentity(
  s: StackUrls,
  id: string,
): Promise<{
  id: string;
  traits: Record<string, unknown>;
  verifiable_addresses: { value: string; verified: boolean; status: string }[];
}> {
  const r = await fetch(`${s.kratosAdmin}/admin/identities/${id}`);
  if (!r.ok) throw new Error(`admin get identity ${id}: ${r.status}`);
  return json(r);
}

// Shared helpers for auth-service tests: URLs of the test stack's auth-service and
// a way to get a real signed-in user from the real Kratos.
import { inject } from "vitest";
import { joinOrganization } from "../../../test/support/invitations.ts";
import { registerApi, stack, uniqueEmail } from "../../../test/support/kratos.ts";
import { contractChecker } from "./contract-check.ts";

/** Every answer call() receives must keep the OpenAPI contract (contract-check.ts). */
const keepsContract = contractChecker();

export function auth() {
  const env = inject("stack");
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`test stack did not provide ${k}`);
    return v;
  };
  return { url: need("AUTH_SERVICE_URL"), admin: need("AUTH_ADMIN_URL"), adminToken: need("ADMIN_API_TOKEN"), env };
}

export interface TestUser {
  email: string;
  identityId: string;
  sessionToken: string;
}

export async function newUser(prefix = "user", opts: { tier?: string; first?: string } = {}): Promise<TestUser> {
  const email = uniqueEmail(prefix);
  const r = await registerApi(
    stack(),
    { email, name: { first: opts.first ?? "Test", last: "User" } },
    opts.tier ? { transientPayload: { tier: opts.tier } } : {},
  );
  if (r.status !== 200 || !r.body.session_token || !r.body.identity)
    throw new Error(`registration failed: ${r.status}`);
  return { email, identityId: r.body.identity.id, sessionToken: r.body.session_token };
}

export async function call(
  path: string,
  init: {
    method?: string;
    token?: string;
    headers?: Record<string, string>;
    json?: unknown;
    body?: string;
    base?: string;
    /** false: the answer is not the auth-service's (a gateway's readiness), so its contract does not apply. */
    contract?: boolean;
  } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; text: string }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers["x-session-token"] = init.token;
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers["content-type"] ??= "application/json";
  }
  const method = init.method ?? (body ? "POST" : "GET");
  const r = await fetch(`${init.base ?? auth().url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await r.text();
  const broken =
    init.contract !== false &&
    keepsContract({ method, path, status: r.status, contentType: r.headers.get("content-type"), text });
  if (broken) throw new Error(`the auth-service broke its OpenAPI contract: ${broken}`);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* not JSON: tests assert on that */
  }
  return { status: r.status, headers: r.headers, body: parsed, text };
}

/** Makes `user` a member of the organization with `role`: `inviter` invites them, they accept. */
export async function joinOrg(inviter: TestUser, orgId: string, user: TestUser, role: string): Promise<void> {
  await joinOrganization({ authUrl: auth().url, kratosAdmin: stack().kratosAdmin }, inviter, orgId, user, role);
}

export async function token(user: TestUser, orgId?: string): Promise<string> {
  const r = await call("/v1/token", { token: user.sessionToken, json: orgId ? { organization_id: orgId } : {} });
  if (r.status !== 200) throw new Error(`token exchange failed: ${r.status} ${r.text}`);
  return r.body.access_token as string;
}

export function expectErrorShape(body: Record<string, unknown>, code: string): void {
  if (
    body.error !== code ||
    typeof body.message !== "string" ||
    typeof body.request_id !== "string" ||
    body.request_id === ""
  ) {
    throw new Error(`expected error ${code} with message and request_id, got ${JSON.stringify(body)}`);
  }
}

// Kratos sessions for the benchmarks, through the native-app (API) flows:
// registration and login, answering with a session token.
export const PASSWORD = "bench-horse-battery-staple-42";

export interface Session {
  token: string;
  identityId: string;
  email: string;
}

async function kratosJson(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { ...init, headers: { accept: "application/json", ...init?.headers } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function submitFlow(kratos: string, kind: "registration" | "login", payload: unknown): Promise<Session> {
  const flow = await kratosJson(`${kratos}/self-service/${kind}/api`);
  const action = new URL((flow.body.ui as { action: string }).action);
  const r = await kratosJson(`${kratos}${action.pathname}${action.search}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  const body = r.body as { session_token?: string; session?: { identity?: { id: string; traits: { email: string } } } };
  const identity = body.session?.identity;
  if (r.status !== 200 || !body.session_token || !identity) {
    throw new Error(`Kratos ${kind} failed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  return { token: body.session_token, identityId: identity.id, email: identity.traits.email };
}

let registered = 0;
/** A new identity (email `bench-<tag>-<pid>-<n>@example.org`) and its first session. */
export const register = (kratos: string, tag: string) =>
  submitFlow(kratos, "registration", {
    method: "password",
    password: PASSWORD,
    traits: {
      email: `bench-${tag}-${process.pid}-${++registered}@example.org`,
      name: { first: "Bench", last: "User" },
    },
  });

/** A new session of an existing identity. */
export const login = (kratos: string, email: string) =>
  submitFlow(kratos, "login", { method: "password", identifier: email, password: PASSWORD });

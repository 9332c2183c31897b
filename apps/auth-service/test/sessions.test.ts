// GET/DELETE /v1/me/sessions against the real Kratos, Postgres, Redis and a real gateway:
// a person sees their own sessions and ends them; another person's id is a 404.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PASSWORD, stack } from "../../../test/support/kratos.ts";
import { echoUpstream, routesFile, startGateway } from "../../gateway/test/harness.ts";
import { call, expectErrorShape, newUser, token } from "./support.ts";

/** A second sign-in of the same person (native login flow): a new Kratos session. */
async function signInAgain(email: string, userAgent: string): Promise<string> {
  const s = stack();
  const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as { ui: { action: string } };
  const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "user-agent": userAgent },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  return ((await r.json()) as { session_token: string }).session_token;
}

interface SessionView {
  id: string;
  current: boolean;
  aal: string;
  created_at: string;
  last_active_at: string;
  devices: { user_agent: string | null; ip_address: string | null }[];
}
const list = async (sessionToken: string) => {
  const r = await call("/v1/me/sessions", { token: sessionToken });
  expect(r.status).toBe(200);
  return r.body.sessions as SessionView[];
};
const sidOf = async (sessionToken: string) => (await list(sessionToken)).find((s) => s.current)?.id as string;
const securityEvents = async (sessionToken: string) =>
  ((await call("/v1/me/security-events", { token: sessionToken })).body.events as {
    action: string;
    targetId: string;
  }[]) ?? [];

let up: Awaited<ReturnType<typeof echoUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  up = await echoUpstream();
  gw = await startGateway(
    routesFile(`
routes:
  - name: api
    match: { path: /api/** }
    upstream: ${up.url}
    auth: { accept: [jwt] }
`),
  );
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

/** Polls the gateway with the JWT until it is refused, up to `boundMs`; the status seen last. */
async function refusedWithin(jwt: string, boundMs: number): Promise<number> {
  const until = Date.now() + boundMs;
  for (;;) {
    const r = await fetch(`${gw.url}/api/x`, { headers: { authorization: `Bearer ${jwt}` } });
    await r.arrayBuffer();
    if (r.status !== 200 || Date.now() > until) return r.status;
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe("my sessions", () => {
  it("lists the current session and another one, with device, times and aal", async () => {
    const u = await newUser("sessions-list");
    const other = await signInAgain(u.email, "SessionsTest/2.0 (other device)");
    const sessions = await list(u.sessionToken);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]?.current).toBe(true);
    const second = sessions.find((s) => !s.current);
    expect(second?.id).toBe(await sidOf(other));
    expect(second?.aal).toBe("aal1");
    expect(Date.parse(second?.created_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(second?.devices.map((d) => d.user_agent)).toContain("SessionsTest/2.0 (other device)");
    expect(second?.devices[0]?.ip_address).toBeTruthy();
  });

  it("revoking the other session makes its JWT refused through a real gateway, is audited, the current one stays", async () => {
    const u = await newUser("sessions-revoke");
    const other = await signInAgain(u.email, "SessionsTest/2.0");
    const otherSid = await sidOf(other);
    const otherJwt = await token({ ...u, sessionToken: other });
    const okBefore = await fetch(`${gw.url}/api/x`, { headers: { authorization: `Bearer ${otherJwt}` } });
    expect(okBefore.status).toBe(200);

    const r = await call(`/v1/me/sessions/${otherSid}`, { token: u.sessionToken, method: "DELETE" });
    expect(r.status).toBe(204);
    // The invalidation is pushed: well inside a second, not the token's lifetime.
    expect(await refusedWithin(otherJwt, 1_000)).toBe(401);
    expect((await call("/v1/token", { token: other, json: {} })).status).toBe(401);
    expect((await list(u.sessionToken)).map((s) => s.id)).toEqual([await sidOf(u.sessionToken)]);
    const events = await securityEvents(u.sessionToken);
    expect(events.some((e) => e.action === "session.revoked" && e.targetId === otherSid)).toBe(true);
  });

  it("revokes all others but the current one", async () => {
    const u = await newUser("sessions-others");
    const a = await signInAgain(u.email, "A");
    const b = await signInAgain(u.email, "B");
    const r = await call("/v1/me/sessions?others=true", { token: u.sessionToken, method: "DELETE" });
    expect(r.status).toBe(200);
    expect(r.body.revoked).toBe(2);
    for (const t of [a, b]) expect((await call("/v1/token", { token: t, json: {} })).status).toBe(401);
    const left = await list(u.sessionToken);
    expect(left).toHaveLength(1);
    expect(left[0]?.current).toBe(true);
  });

  it("someone else's session id is 404 and stays signed in", async () => {
    const me = await newUser("sessions-me");
    const them = await newUser("sessions-them");
    const theirSid = await sidOf(them.sessionToken);
    const r = await call(`/v1/me/sessions/${theirSid}`, { token: me.sessionToken, method: "DELETE" });
    expect(r.status).toBe(404);
    expectErrorShape(r.body, "not_found");
    expect((await call("/v1/token", { token: them.sessionToken, json: {} })).status).toBe(200);
  });

  it("bad input gets a 4xx with the error shape", async () => {
    const u = await newUser("sessions-bad");
    const cases: [string, string, number, string][] = [
      ["DELETE", "/v1/me/sessions/not-a-uuid", 400, "bad_request"],
      ["DELETE", "/v1/me/sessions", 400, "bad_request"],
      ["DELETE", "/v1/me/sessions?others=yes", 400, "bad_request"],
      ["DELETE", "/v1/me/sessions?others=true&x=1", 400, "bad_request"],
    ];
    for (const [method, path, status, code] of cases) {
      const r = await call(path, { token: u.sessionToken, method });
      expect(r.status, `${method} ${path}`).toBe(status);
      expectErrorShape(r.body, code);
    }
    const anon = await call("/v1/me/sessions");
    expect(anon.status).toBe(401);
    expectErrorShape(anon.body, "unauthenticated");
  });
});

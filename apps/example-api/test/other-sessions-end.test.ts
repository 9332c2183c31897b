// A new password (settings) or a recovery ends every other session of the account:
// Kratos' revoke_active_sessions hook revokes them, its web_hook tells the auth-service,
// which announces them, so a second device's session and its tokens are refused through
// Kratos, the auth-service, a gateway and the guard, while the session that acted goes on.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Browser } from "../../../test/support/browser.ts";
import {
  type Flow,
  getBrowserFlow,
  PASSWORD,
  registerApi,
  stack,
  startBrowserFlow,
  submitBrowserFlow,
  uniqueEmail,
  whoamiByCookie,
} from "../../../test/support/kratos.ts";
import { eventually } from "../../../test/support/private-services.ts";
import { waitForCode } from "../../../tools/mailcatcher/client.ts";
import { auth, call } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "../../gateway/test/harness.ts";

let upstream: Awaited<ReturnType<typeof echoUpstream>>;
let gateway: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  upstream = await echoUpstream();
  gateway = await startGateway(
    routesFile(`
routes:
  - name: api
    match: { path: /api/** }
    upstream: ${upstream.url}
    auth: { accept: [session, jwt] }
`),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

/** The second device: a session token from registration, and a JWT exchanged from it. */
async function secondDevice(email: string) {
  const r = await registerApi(stack(), { email });
  expect(r.status).toBe(200);
  const sessionToken = r.body.session_token ?? "";
  const t = await call("/v1/token", { token: sessionToken, json: {} });
  expect(t.status).toBe(200);
  const jwt = t.body.access_token as string;
  const viaGateway = {
    session: () => fetch(`${gateway.url}/api/x`, { headers: { "x-session-token": sessionToken } }),
    jwt: () => fetch(`${gateway.url}/api/x`, { headers: { authorization: `Bearer ${jwt}` } }),
  };
  expect((await viaGateway.session()).status).toBe(200);
  expect((await viaGateway.jwt()).status).toBe(200);
  return { sessionToken, jwt, viaGateway };
}

async function expectEnded(device: Awaited<ReturnType<typeof secondDevice>>): Promise<void> {
  const s = stack();
  const whoami = await fetch(`${s.kratosPublic}/sessions/whoami`, {
    headers: { "x-session-token": device.sessionToken },
  });
  expect(whoami.status, "Kratos").toBe(401);
  // The auth-service and the JWT path need the announcement (Kratos' web_hook runs after
  // its response): poll, bounded.
  const ended = await eventually(
    async () =>
      (await call("/v1/token", { token: device.sessionToken, json: {} })).status === 401 &&
      (await device.viaGateway.jwt()).status === 401,
    Boolean,
    10_000,
  );
  expect(ended, "the other session and its JWT are refused").toBe(true);
  const refused = await device.viaGateway.jwt();
  expect(((await refused.json()) as { error: string }).error).toBe("session_revoked");
  expect((await device.viaGateway.session()).status, "gateway, session").toBe(401);
}

describe("other sessions end when the password changes or the account is recovered", () => {
  it("a password change in settings signs the other device out; the browser that changed it stays in", async () => {
    const s = stack();
    const email = uniqueEmail("pw-change");
    const other = await secondDevice(email);

    const b = new Browser();
    const { flow: login } = await startBrowserFlow(b, s, "login");
    const signedIn = await submitBrowserFlow(b, login, { method: "password", identifier: email, password: PASSWORD });
    expect(signedIn.status).toBe(200);
    const { flow: settings } = await startBrowserFlow(b, s, "settings");
    const changed = await submitBrowserFlow(b, settings, { method: "password", password: `${PASSWORD}-changed` });
    expect(changed.status).toBe(200);

    await expectEnded(other);
    expect((await whoamiByCookie(b, s)).status, "the session that changed the password").toBe(200);
  });

  it("a recovery signs every other device out", async () => {
    const s = stack();
    const email = uniqueEmail("recovered");
    const other = await secondDevice(email);

    const b = new Browser();
    const since = new Date();
    const { flow } = await startBrowserFlow(b, s, "recovery");
    expect((await submitBrowserFlow(b, flow, { method: "code", email })).json<Flow>().state).toBe("sent_email");
    const { code } = await waitForCode(s.mail, email, { subject: /recover/i, since });
    const recovered = await submitBrowserFlow(b, await getBrowserFlow(b, s, "recovery", flow.id), {
      method: "code",
      code,
    });
    expect(recovered.status).toBe(422); // browser_location_change_required: on to the settings flow

    await expectEnded(other);
    expect((await whoamiByCookie(b, s)).status, "the recovering browser").toBe(200);
  });

  it("the web_hook refuses a wrong secret and a bad body with the error shape", async () => {
    const url = `${auth().admin}/v1/webhooks/kratos/sessions-revoked?reason=recovered`;
    const body = JSON.stringify({ identity_id: crypto.randomUUID() });
    const wrong = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gatehouse-webhook-secret": "nope" },
      body,
    });
    expect(wrong.status).toBe(401);
    const secret = inject("stack").WEBHOOK_SECRET ?? "";
    for (const [u, b] of [
      [url, "{}"],
      [url, '{"identity_id":"x"}'],
      [url.replace("recovered", "whatever"), body],
    ] as const) {
      const r = await fetch(u, {
        method: "POST",
        headers: { "content-type": "application/json", "x-gatehouse-webhook-secret": secret },
        body: b,
      });
      const j = (await r.json()) as { error: string; message: string; request_id: string };
      expect([r.status, j.error, typeof j.message, typeof j.request_id]).toEqual([
        400,
        "bad_request",
        "string",
        "string",
      ]);
    }
  });
});

import { describe, expect, it } from "vitest";
import { waitForCode } from "../../tools/mailcatcher/client.ts";
import { Browser } from "../support/browser.ts";
import {
  adminGetIdentity,
  type Flow,
  getBrowserFlow,
  PASSWORD,
  stack,
  startBrowserFlow,
  submitBrowserFlow,
  uniqueEmail,
  whoamiByCookie,
} from "../support/kratos.ts";

describe("Kratos browser flows (cookie jar + CSRF)", () => {
  it("registration → code by mail → verified → logout → login → whoami by cookie on the parent domain", async () => {
    const s = stack();
    const b = new Browser();
    const email = uniqueEmail("browser");
    const since = new Date();

    // Registration, as the frontend's /auth/registration page does it.
    const { flow, res: started } = await startBrowserFlow(b, s, "registration");
    expect(flow.type).toBe("browser");
    // Kratos sets its CSRF cookie on the parent domain too.
    expect(started.setCookies.some((c) => /^csrf_token/.test(c) && new RegExp(`Domain=${s.domain}`, "i").test(c))).toBe(
      true,
    );

    const reg = await submitBrowserFlow(b, flow, {
      method: "password",
      password: PASSWORD,
      traits: { email, name: { first: "Grace", last: "Hopper" } },
    });
    expect(reg.status).toBe(200);
    const session = reg.setCookies.find((c) => c.startsWith("ory_kratos_session="));
    expect(session, "registration sets the session cookie").toBeDefined();
    expect(session).toMatch(new RegExp(`Domain=${s.domain.replace(/\./g, "\\.")}`, "i"));
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Lax/i);
    // A browser sends it to every subdomain of the product.
    for (const sub of ["app", "api", "auth"]) {
      expect(await b.cookie(`http://${sub}.${s.domain}/`, "ory_kratos_session")).toBeDefined();
    }
    expect(await b.cookie("http://elsewhere.example/", "ory_kratos_session")).toBeUndefined();

    const body = reg.json<{ identity: { id: string }; continue_with?: { action: string; flow?: { id: string } }[] }>();
    const verifyStep = body.continue_with?.find((c) => c.action === "show_verification_ui");
    expect(verifyStep?.flow?.id, "verification is shown after registration").toBeTruthy();

    // The verification code arrives at the mail catcher.
    const { code } = await waitForCode(s.mail, email, { subject: /verify/i, since });
    const vflow: Flow = await getBrowserFlow(b, s, "verification", verifyStep?.flow?.id ?? "");
    const verified = await submitBrowserFlow(b, vflow, { method: "code", code });
    expect(verified.status).toBe(200);
    expect(verified.json<Flow>().state).toBe("passed_challenge");
    const identity = await adminGetIdentity(s, body.identity.id);
    expect(identity.verifiable_addresses[0]?.verified).toBe(true);

    // Logout through the browser logout flow.
    const logout = await b.request(`${s.kratosBrowser}/self-service/logout/browser`, {
      headers: { accept: "application/json" },
    });
    expect(logout.status).toBe(200);
    const { logout_url } = logout.json<{ logout_url: string }>();
    const done = await b.request(logout_url, { headers: { accept: "application/json" } });
    expect(done.status).toBe(204);
    expect((await whoamiByCookie(b, s)).status).toBe(401);

    // Login again with the password.
    const { flow: login } = await startBrowserFlow(b, s, "login");
    const loggedIn = await submitBrowserFlow(b, login, { method: "password", identifier: email, password: PASSWORD });
    expect(loggedIn.status).toBe(200);
    const who = await whoamiByCookie(b, s);
    expect(who.status).toBe(200);
    expect(who.json<{ identity: { traits: { email: string } } }>().identity.traits.email).toBe(email);
  });

  it("rejects a browser submission without the CSRF token", async () => {
    const s = stack();
    const b = new Browser();
    const { flow } = await startBrowserFlow(b, s, "login");
    const res = await b.request(flow.ui.action, {
      json: { method: "password", identifier: uniqueEmail(), password: PASSWORD },
    });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/csrf/i);
    expect(res.setCookies.some((c) => c.startsWith("ory_kratos_session="))).toBe(false);
  });

  it("Kratos itself refuses return_to outside the allowlist (the layer behind the gateway's check)", async () => {
    const s = stack();
    const res = await fetch(`${s.kratosPublic}/self-service/login/browser?return_to=https://evil.example/steal`, {
      headers: { accept: "application/json" },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/return_to|redirect/i);
  });

  it("through the gateway an off-product return_to never reaches Kratos: the flow starts without it", async () => {
    const s = stack();
    const b = new Browser();
    const res = await b.request(`${s.kratosBrowser}/self-service/login/browser?return_to=https://evil.example/steal`, {
      headers: { accept: "application/json" },
    });
    expect(res.status).toBe(200);
    const flow = JSON.parse(res.text) as Flow & { return_to?: string; request_url: string };
    expect(flow.return_to ?? "").not.toMatch(/evil/);
    expect(flow.request_url).not.toMatch(/evil/);
  });
});

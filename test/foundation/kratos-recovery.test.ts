import { describe, expect, it } from "vitest";
import { waitForCode } from "../../tools/mailcatcher/client.ts";
import { Browser } from "../support/browser.ts";
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
} from "../support/kratos.ts";

describe("Kratos recovery by code", () => {
  it("a user who forgot their password receives a code, sets a new password and signs in with it", async () => {
    const s = stack();
    const email = uniqueEmail("recover");
    expect((await registerApi(s, { email })).status).toBe(200);

    const b = new Browser();
    const since = new Date();
    const { flow } = await startBrowserFlow(b, s, "recovery");
    const sent = await submitBrowserFlow(b, flow, { method: "code", email });
    expect(sent.status).toBe(200);
    expect(sent.json<Flow>().state).toBe("sent_email");

    const { code } = await waitForCode(s.mail, email, { subject: /recover/i, since });
    const codeFlow = await getBrowserFlow(b, s, "recovery", flow.id);
    const recovered = await submitBrowserFlow(b, codeFlow, { method: "code", code });
    // SPA clients get 422 browser_location_change_required pointing at the settings flow.
    expect(recovered.status).toBe(422);
    const { redirect_browser_to } = recovered.json<{ redirect_browser_to: string }>();
    const settingsId = new URL(redirect_browser_to).searchParams.get("flow");
    expect(settingsId).toBeTruthy();
    expect((await whoamiByCookie(b, s)).status).toBe(200);

    const settings = await getBrowserFlow(b, s, "settings", settingsId ?? "");
    const newPassword = `${PASSWORD}-renewed`;
    const changed = await submitBrowserFlow(b, settings, { method: "password", password: newPassword });
    expect(changed.status).toBe(200);

    const fresh = new Browser();
    const { flow: login } = await startBrowserFlow(fresh, s, "login");
    const old = await submitBrowserFlow(fresh, login, { method: "password", identifier: email, password: PASSWORD });
    expect(old.status).toBe(400);
    const { flow: login2 } = await startBrowserFlow(fresh, s, "login");
    const ok = await submitBrowserFlow(fresh, login2, { method: "password", identifier: email, password: newPassword });
    expect(ok.status).toBe(200);
  });

  it("a wrong recovery code is refused and does not sign anyone in", async () => {
    const s = stack();
    const email = uniqueEmail("recover-bad");
    expect((await registerApi(s, { email })).status).toBe(200);
    const b = new Browser();
    const { flow } = await startBrowserFlow(b, s, "recovery");
    await submitBrowserFlow(b, flow, { method: "code", email });
    const codeFlow = await getBrowserFlow(b, s, "recovery", flow.id);
    const res = await submitBrowserFlow(b, codeFlow, { method: "code", code: "000000" });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.json())).toMatch(/invalid|already used/i);
    expect((await whoamiByCookie(b, s)).status).toBe(401);
  });
});

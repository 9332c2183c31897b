// Second factors as events, against the real Kratos: setting up TOTP and recovery codes
// and removing TOTP through Kratos' own settings flows (native API, as an app would)
// reach the person's security history as user.mfa_enabled / user.mfa_disabled with the
// method, through Kratos' settings web_hooks; a repeated delivery records nothing.
import { describe, expect, it } from "vitest";
import { totp } from "../../../test/journey/totp.ts";
import { type Flow, stack } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, newUser } from "./support.ts";

const kratos = async (path: string, token: string, body?: unknown) => {
  const s = stack();
  const r = await fetch(
    path.startsWith("http") ? path.replace(s.kratosBrowser, s.kratosPublic) : `${s.kratosPublic}${path}`,
    {
      method: body === undefined ? "GET" : "POST",
      headers: { "x-session-token": token, accept: "application/json", "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
  );
  return { status: r.status, body: (await r.json()) as Flow & Record<string, unknown> };
};

/** Submits one settings change through a fresh native settings flow. */
async function settings(token: string, body: Record<string, unknown>): Promise<Flow> {
  const flow = await kratos("/self-service/settings/api", token);
  expect(flow.status).toBe(200);
  const r = await kratos(flow.body.ui.action, token, body);
  expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
  return r.body;
}

const textNode = (flow: Flow, id: string) =>
  String(
    (flow.ui.nodes.find((n) => (n.attributes as { id?: string }).id === id)?.attributes as { text?: { text?: string } })
      ?.text?.text ?? "",
  );

const mfaHistory = async (token: string) =>
  (
    (await call("/v1/me/security-events", { token })).body.events as {
      action: string;
      after: { method?: string } | null;
    }[]
  )
    .filter((e) => e.action.startsWith("user.mfa_"))
    .map((e) => [e.action, e.after?.method]);

const hook = (method: string, json: unknown, secret = auth().env.WEBHOOK_SECRET ?? "") =>
  call(`/v1/webhooks/kratos/mfa-changed?method=${method}`, {
    base: auth().admin,
    json,
    headers: { "x-gatehouse-webhook-secret": secret },
  });

describe("second factors as events", () => {
  it("TOTP set up, recovery codes made, TOTP removed: each once in the history with its method", async () => {
    const u = await newUser("mfa-events");
    // TOTP: the secret Kratos shows, then a code from it.
    const start = await kratos("/self-service/settings/api", u.sessionToken);
    const secret = textNode(start.body, "totp_secret_key");
    expect(secret).toMatch(/^[A-Z2-7]+$/);
    const linked = await kratos(start.body.ui.action, u.sessionToken, { method: "totp", totp_code: totp(secret) });
    expect(linked.status).toBe(200);
    await expect.poll(() => mfaHistory(u.sessionToken), { timeout: 10_000 }).toEqual([["user.mfa_enabled", "totp"]]);

    // Kratos delivering the hook again (or a settings change that left TOTP as it was): nothing new.
    const again = await hook("totp", { identity_id: u.identityId });
    expect(again.status).toBe(200);
    expect(again.body.recorded).toBe(false);

    // Settings now need the second factor; Kratos counted the TOTP code just entered as one
    // (the session is aal2 already), so the next changes go through on this session.
    // Recovery codes: made, shown (Kratos answers the flow again, 400, with the codes), then saved in that flow.
    const codes = await kratos("/self-service/settings/api", u.sessionToken);
    const shown = await kratos(codes.body.ui.action, u.sessionToken, {
      method: "lookup_secret",
      lookup_secret_regenerate: true,
    });
    expect(shown.body.ui.nodes.some((n) => (n.attributes as { id?: string }).id === "lookup_secret_codes")).toBe(true);
    const saved = await kratos(codes.body.ui.action, u.sessionToken, {
      method: "lookup_secret",
      lookup_secret_confirm: true,
    });
    expect(saved.status, JSON.stringify(saved.body.ui.messages)).toBe(200);
    await settings(u.sessionToken, { method: "totp", totp_unlink: true });
    await expect
      .poll(() => mfaHistory(u.sessionToken), { timeout: 10_000 })
      .toEqual([
        ["user.mfa_disabled", "totp"],
        ["user.mfa_enabled", "lookup_secret"],
        ["user.mfa_enabled", "totp"],
      ]);
  });

  it("bad hook input gets a 4xx with the error shape, counted as a failed hook; no secret is a 401", async () => {
    const failed = async () => {
      const text = await (await fetch(`${auth().admin}/metrics`)).text();
      return Number(/gatehouse_webhook_total\{outcome="failed"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await failed();
    const u = await newUser("mfa-bad");
    for (const [method, json, status, code] of [
      ["sms", { identity_id: u.identityId }, 400, "bad_request"],
      ["totp", { identity_id: "x" }, 400, "bad_request"],
      ["totp", { identity_id: crypto.randomUUID() }, 404, "not_found"],
    ] as const) {
      const r = await hook(method, json);
      expect(r.status, `${method} ${JSON.stringify(json)}`).toBe(status);
      expectErrorShape(r.body, code);
    }
    // Kratos does not retry an ignored hook: each failure is visible in the metrics.
    expect((await failed()) - before).toBeGreaterThanOrEqual(3);
    const anon = await hook("totp", { identity_id: u.identityId }, "wrong-secret");
    expect(anon.status).toBe(401);
    // A person without TOTP whose hook arrives anyway: nothing to record.
    expect((await hook("totp", { identity_id: u.identityId })).body.recorded).toBe(false);
  });
});

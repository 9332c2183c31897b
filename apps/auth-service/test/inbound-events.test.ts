// Events in (POST /admin/events) against the real Kratos, Postgres, Redis and a real
// gateway: another service deactivates a person (their signed-in session is refused
// through the gateway on its next request, their tokens soon after, and no new
// exchange succeeds until they are reactivated); upgrades and downgrades a customer
// (the same plan change, audit row and outbound event as the owner's API); each
// event id has its effect once; bad bodies are 400 naming the field.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PASSWORD, stack } from "../../../test/support/kratos.ts";
import { echoUpstream, routesFile, startGateway } from "../../gateway/test/harness.ts";
import { auth, call, expectErrorShape, newUser, token } from "./support.ts";

const post = (json: unknown, headers: Record<string, string> = { authorization: `Bearer ${auth().adminToken}` }) =>
  call("/admin/events", { base: auth().admin, headers, json });

/** A new sign-in of the person (native login flow): a new Kratos session token. */
async function signIn(email: string): Promise<string> {
  const s = stack();
  const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as { ui: { action: string } };
  const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  return ((await r.json()) as { session_token: string }).session_token;
}

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
    auth: { accept: [session, jwt] }
`),
  );
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const throughGateway = async (headers: Record<string, string>) => {
  const r = await fetch(`${gw.url}/api/x`, { headers });
  await r.arrayBuffer();
  return r.status;
};

/** Polls until the gateway refuses, up to `boundMs`; the last status. */
async function refusedWithin(headers: Record<string, string>, boundMs: number): Promise<number> {
  const until = Date.now() + boundMs;
  for (;;) {
    const status = await throughGateway(headers);
    if (status !== 200 || Date.now() > until) return status;
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe("user.deactivated / user.reactivated", () => {
  it("revokes every session and token, refuses new exchanges (403 user_deactivated) until reactivated; once per id", async () => {
    const u = await newUser("inbound-deact");
    const second = await signIn(u.email);
    const jwt = await token(u);
    expect(await throughGateway({ "x-session-token": u.sessionToken })).toBe(200);
    expect(await throughGateway({ authorization: `Bearer ${jwt}` })).toBe(200);

    const event = { id: randomUUID(), type: "user.deactivated", data: { identity_id: u.identityId } };
    const r = await post(event);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      id: event.id,
      type: "user.deactivated",
      duplicate: false,
      result: { identity_id: u.identityId, deactivated: true, changed: true, sessions_revoked: 2 },
    });
    // The signed-in session: refused on its very next request; its JWT once the revocation is heard (pushed).
    expect(await throughGateway({ "x-session-token": u.sessionToken })).toBe(401);
    expect(await throughGateway({ "x-session-token": second })).toBe(401);
    expect(await refusedWithin({ authorization: `Bearer ${jwt}` }, 1_000)).toBe(401);

    // Signing in again works at Kratos, but Gatehouse issues nothing.
    const again = await signIn(u.email);
    const refused = await call("/v1/token", { token: again, json: {} });
    expect(refused.status).toBe(403);
    expectErrorShape(refused.body, "user_deactivated");
    expect(await throughGateway({ "x-session-token": again })).toBe(403);

    // The same id again: the first answer, no second effect (the new session stays).
    const replay = await post(event);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ ...r.body, duplicate: true });
    // The same id with another body is a conflict, not a replay.
    const clash = await post({ ...event, type: "user.reactivated" });
    expect(clash.status).toBe(409);
    expectErrorShape(clash.body, "conflict");

    const back = await post({ id: randomUUID(), type: "user.reactivated", data: { identity_id: u.identityId } });
    expect(back.status).toBe(200);
    expect(back.body.result).toEqual({ identity_id: u.identityId, deactivated: false, changed: true });
    expect((await call("/v1/token", { token: again, json: {} })).status).toBe(200);
    expect(await throughGateway({ "x-session-token": again })).toBe(200);

    // Audited once each, in the person's own history, with the event id as the actor.
    const history = (await call("/v1/me/security-events", { token: again })).body.events as {
      action: string;
      actor: string;
    }[];
    const inbound = history.filter((e) => e.actor.startsWith("inbound:")).map((e) => [e.action, e.actor]);
    expect(inbound).toEqual([
      ["user.reactivated", `inbound:${(back.body as { id: string }).id}`],
      ["identity.sessions_revoked", `inbound:${event.id}`],
      ["user.deactivated", `inbound:${event.id}`],
    ]);
  });

  it("two deliveries of one id at once: one has the effect, the other gets its result", async () => {
    const u = await newUser("inbound-race");
    const event = { id: randomUUID(), type: "user.deactivated", data: { identity_id: u.identityId } };
    const [a, b] = await Promise.all([post(event), post(event)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body.duplicate, b.body.duplicate].sort()).toEqual([false, true]);
    expect(a.body.result).toEqual(b.body.result);
  });
});

describe("customer.upgraded / customer.downgraded", () => {
  it("changes the plan as the owner's API does: token claims, audit row (and so its outbound event); once per id", async () => {
    const owner = await newUser("inbound-plan");
    const org = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Inbound Co" } });
    expect(org.status).toBe(201);
    const orgId = (org.body.organization as { id: string; plan: string }).id;
    const claims = async () =>
      JSON.parse(Buffer.from((await token(owner, orgId)).split(".")[1] ?? "", "base64url").toString());
    expect((await claims()).plan).toBe("starter");

    const up = { id: randomUUID(), type: "customer.upgraded", data: { organization_id: orgId, plan: "enterprise" } };
    const r = await post(up);
    expect(r.status).toBe(200);
    expect(r.body.result).toEqual({
      organization_id: orgId,
      plan: "enterprise",
      previous_plan: "starter",
      changed: true,
    });
    expect((await claims()).plan).toBe("enterprise");
    expect((await post(up)).body).toEqual({ ...r.body, duplicate: true });

    const down = { id: randomUUID(), type: "customer.downgraded", data: { organization_id: orgId, plan: "pro" } };
    expect((await post(down)).body.result).toMatchObject({ plan: "pro", previous_plan: "enterprise", changed: true });
    expect((await claims()).plan).toBe("pro");

    const log = await call(`/v1/organizations/${orgId}/audit?type=organization.plan_changed`, {
      token: owner.sessionToken,
    });
    expect(log.status).toBe(200);
    expect(
      (log.body.entries as { actor: string; after: { plan: string } }[]).map((e) => [e.actor, e.after.plan]),
    ).toEqual([
      [`inbound:${down.id}`, "pro"],
      [`inbound:${up.id}`, "enterprise"],
    ]);
  });
});

describe("bad input", () => {
  it("400 naming the field, 401 without the operator token, 404 for an unknown subject", async () => {
    const id = randomUUID();
    const someone = randomUUID();
    const cases: [unknown, string][] = [
      [{ type: "user.deactivated", data: { identity_id: someone } }, "id"],
      [{ id: "nope", type: "user.deactivated", data: { identity_id: someone } }, "id"],
      [{ id, type: "user.exploded", data: { identity_id: someone } }, "type"],
      [{ id, type: "user.deactivated", data: { identity_id: "x" } }, "data.identity_id"],
      [{ id, type: "user.deactivated", data: {} }, "data.identity_id"],
      [{ id, type: "user.deactivated", data: { identity_id: someone, extra: 1 } }, "data"],
      [{ id, type: "customer.upgraded", data: { organization_id: someone, plan: "platinum" } }, "data.plan"],
      [{ id, type: "customer.upgraded", data: { organization_id: someone, plan: "pro" }, x: 1 }, "body"],
      [{ id, type: "user.deactivated", occurred_at: "yesterday", data: { identity_id: someone } }, "occurred_at"],
      [[], "body"],
    ];
    for (const [json, field] of cases) {
      const r = await post(json);
      expect(r.status, JSON.stringify(json)).toBe(400);
      expectErrorShape(r.body, "bad_request");
      expect(r.body.message as string, JSON.stringify(json)).toMatch(new RegExp(`^${field.replaceAll(".", "\\.")}\\b`));
    }
    const notJson = await call("/admin/events", {
      base: auth().admin,
      headers: { authorization: `Bearer ${auth().adminToken}`, "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expectErrorShape(notJson.body, "invalid_json");

    const noToken = await post({ id, type: "user.deactivated", data: { identity_id: someone } }, {});
    expect(noToken.status).toBe(401);
    const unknown = await post({ id, type: "user.deactivated", data: { identity_id: someone } });
    expect(unknown.status).toBe(404);
    expectErrorShape(unknown.body, "not_found");
    const noOrg = await post({
      id: randomUUID(),
      type: "customer.downgraded",
      data: { organization_id: someone, plan: "starter" },
    });
    expect(noOrg.status).toBe(404);
    // Nothing was recorded for a refused event: the id can be sent again once it is right.
    const u = await newUser("inbound-after-404");
    const fixed = await post({ id, type: "user.deactivated", data: { identity_id: u.identityId } });
    expect(fixed.status).toBe(200);
    expect(fixed.body.duplicate).toBe(false);
  });
});

// Lockouts as events, against the real Kratos, Redis, Postgres and auth-service: the
// gateway's lock reaches the person's security history as user.account_locked (an
// unknown identifier is locked the same way and records nothing), and an operator's
// unlock clears the gateway's lock, audited as user.account_unlocked. The gateway
// reports with LOCKOUT_REPORT_TOKEN, which no other admin endpoint accepts; the event
// reaches a real webhook receiver verifying with the `standardwebhooks` package.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape } from "../../auth-service/test/support.ts";
import { startReceiver } from "../../auth-service/test/webhook-receiver.ts";
import { routesFile, startGateway } from "./harness.ts";

const lockoutToken = () => {
  const t = auth().env.LOCKOUT_REPORT_TOKEN;
  if (!t) throw new Error("test stack did not provide LOCKOUT_REPORT_TOKEN");
  return t;
};

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway(routesFile("routes: []\n"), {
    BRUTE_FORCE_MAX_FAILURES: "5",
    BRUTE_FORCE_MAX_IP_FAILURES: "10000",
    BRUTE_FORCE_DELAYS_MS: "1",
    LOGIN_FAILURE_FLOOR_MS: "0",
    AUTH_ADMIN_URL: auth().admin,
    LOCKOUT_REPORT_TOKEN: lockoutToken(),
  });
});
afterAll(() => gw?.stop());

async function loginAttempt(identifier: string, password: string): Promise<number> {
  const flow = (await (await fetch(`${gw.url}/self-service/login/api`)).json()) as { id: string };
  const r = await fetch(`${gw.url}/self-service/login?flow=${flow.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier, password }),
  });
  await r.arrayBuffer();
  return r.status;
}

const admin = (path: string, json?: unknown) =>
  call(path, {
    base: auth().admin,
    method: "POST",
    ...(json === undefined ? {} : { json }),
    headers: { authorization: `Bearer ${auth().adminToken}` },
  });

async function history(sessionToken: string): Promise<string[]> {
  const r = await call("/v1/me/security-events", { token: sessionToken });
  return (r.body.events as { action: string }[]).map((e) => e.action);
}

async function lockOut(identifier: string): Promise<void> {
  for (let i = 0; i < 5; i++) expect(await loginAttempt(identifier, "wrong-password-123")).toBe(400);
  expect(await loginAttempt(identifier, "wrong-password-123")).toBe(429);
}

describe("lockouts as events", () => {
  it("a lock emits user.account_locked; an operator unlock clears it and emits user.account_unlocked", async () => {
    const email = uniqueEmail("lock-ev");
    const reg = await registerApi(stack(), { email });
    const sessionToken = reg.body.session_token as string;
    // A respelling locks the same account, and the event still finds it.
    await lockOut(` ${email.toUpperCase()}`);
    await expect.poll(() => history(sessionToken), { timeout: 5_000 }).toContain("user.account_locked");
    expect(await loginAttempt(email, PASSWORD)).toBe(429);

    const identityId = (reg.body.identity as { id: string }).id;
    const r = await admin(`/admin/users/${identityId}/unlock`);
    expect(r.status).toBe(200);
    expect(r.body.cleared).toBeGreaterThanOrEqual(1);
    expect(await loginAttempt(email, PASSWORD)).toBe(200);
    expect(await history(sessionToken)).toContain("user.account_unlocked");
  });

  it("an unknown identifier is locked alike and records nothing; the report is accepted the same way", async () => {
    const ghost = uniqueEmail("lock-ghost");
    await lockOut(ghost);
    // The report the gateway sent was answered like any other: no warning logged.
    await new Promise((res) => setTimeout(res, 500));
    expect(gw.logLines.filter((l) => l.includes("account lock not reported"))).toEqual([]);
    expect(gw.logLines.some((l) => l.includes(ghost))).toBe(false);
    const known = await admin("/admin/lockouts", { scope: "login", identifier: ghost, retry_after_seconds: 900 });
    expect(known.status).toBe(202);
  });

  it("five failed logins through the gateway deliver user.account_locked to a real receiver, signed", async () => {
    const receiver = await startReceiver();
    try {
      const sub = await call("/admin/webhooks/subscriptions", {
        base: auth().admin,
        headers: { authorization: `Bearer ${auth().adminToken}` },
        json: { url: receiver.url, event_types: ["user.account_locked"] },
      });
      expect(sub.status).toBe(201);
      receiver.secret = sub.body.secret as string;
      const email = uniqueEmail("lock-hook");
      const identityId = ((await registerApi(stack(), { email })).body.identity as { id: string }).id;
      await lockOut(email);
      const mine = () => receiver.received.filter((x) => (x.event.subject as { id: string }).id === identityId);
      await expect.poll(() => mine().length, { timeout: 15_000 }).toBe(1);
      expect(receiver.rejected).toBe(0);
      const got = mine()[0];
      expect(got?.id).toBe(got?.event.id);
      expect(got?.event).toMatchObject({
        type: "user.account_locked",
        actor: "gateway",
        subject: { type: "user", id: identityId },
        data: { after: { scope: "login" } },
      });
      // Never the identifier itself, nor a credential.
      expect(got?.body).not.toContain(email);
      const del = await call(`/admin/webhooks/subscriptions/${(sub.body.subscription as { id: string }).id}`, {
        base: auth().admin,
        method: "DELETE",
        headers: { authorization: `Bearer ${auth().adminToken}` },
      });
      expect(del.status).toBe(204);
    } finally {
      await receiver.kill();
    }
  });

  it("the gateway's LOCKOUT_REPORT_TOKEN is good for lockout reports only", async () => {
    const as = (token: string, path: string, json: unknown) =>
      call(path, { base: auth().admin, json, headers: { authorization: `Bearer ${token}` } });
    const report = { scope: "login", identifier: uniqueEmail("lock-token"), retry_after_seconds: 60 };
    expect((await as(lockoutToken(), "/admin/lockouts", report)).status).toBe(202);
    expect((await as(auth().adminToken, "/admin/lockouts", report)).status).toBe(202);
    const wrong = await as(`${lockoutToken()}x`, "/admin/lockouts", report);
    expect(wrong.status).toBe(401);
    expectErrorShape(wrong.body, "unauthenticated");
    for (const [path, json] of [
      ["/admin/sessions/revoke", { identity_id: crypto.randomUUID() }],
      [`/admin/users/${crypto.randomUUID()}/unlock`, {}],
      [
        "/admin/events",
        { id: crypto.randomUUID(), type: "user.deactivated", data: { identity_id: crypto.randomUUID() } },
      ],
      ["/admin/keys/rotate", {}],
    ] as const) {
      const r = await as(lockoutToken(), path, json);
      expect(r.status, path).toBe(401);
      expectErrorShape(r.body, "unauthenticated");
    }
  });

  it("bad input to the lockout endpoints gets a 4xx with the error shape", async () => {
    for (const [path, body, status, code] of [
      ["/admin/users/not-a-uuid/unlock", undefined, 400, "bad_request"],
      [`/admin/users/${crypto.randomUUID()}/unlock`, undefined, 404, "not_found"],
      ["/admin/lockouts", { scope: "login", identifier: "x" }, 400, "bad_request"],
      ["/admin/lockouts", { scope: "nope", identifier: "x", retry_after_seconds: 1 }, 400, "bad_request"],
    ] as const) {
      const r = await admin(path, body);
      expect(r.status, path).toBe(status);
      expectErrorShape(r.body, code);
    }
    const anon = await call("/admin/lockouts", { base: auth().admin, json: {} });
    expect(anon.status).toBe(401);
  });
});

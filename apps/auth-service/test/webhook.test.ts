import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape } from "./support.ts";

// Kratos' after-registration web_hook → the auth-service's admin listener.
let db: pg.Pool;
beforeAll(() => {
  db = new pg.Pool({ connectionString: inject("stack").DATABASE_URL, max: 2 });
});
afterAll(() => db.end());

const userRow = async (identityId: string) =>
  (await db.query("select email, name_first, name_last, signup_tier from users where identity_id = $1", [identityId]))
    .rows[0] as { email: string; name_first: string; name_last: string; signup_tier: string | null } | undefined;
const auditCount = async (identityId: string) =>
  Number(
    (await db.query("select count(*) from audit_log where target_id = $1 and action = 'user.created'", [identityId]))
      .rows[0].count,
  );

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

// secret null = send no secret header at all.
const hook = (
  body: unknown,
  secret: string | null = auth().env.WEBHOOK_SECRET ?? "",
  headers: Record<string, string> = {},
) =>
  call("/v1/webhooks/kratos/registration", {
    base: auth().admin,
    json: body,
    headers: { ...(secret !== null ? { "x-gatehouse-webhook-secret": secret } : {}), ...headers },
  });

describe("after-registration webhook (real Kratos → auth-service)", () => {
  it("a registration with a pricing tier creates the user record with that tier", async () => {
    const s = stack();
    const email = uniqueEmail("hook");
    const reg = await registerApi(
      s,
      { email, name: { first: "Tier", last: "Pro" } },
      { transientPayload: { tier: "pro" } },
    );
    expect(reg.status).toBe(200);
    const id = reg.body.identity?.id ?? "";
    const row = await waitFor(() => userRow(id));
    expect(row).toEqual({ email, name_first: "Tier", name_last: "Pro", signup_tier: "pro" });
    expect(await auditCount(id)).toBe(1);
  });

  it("without a tier, the user is created with none", async () => {
    const reg = await registerApi(stack(), { email: uniqueEmail("hook-none") });
    const row = await waitFor(() => userRow(reg.body.identity?.id ?? ""));
    expect(row.signup_tier).toBeNull();
  });

  it("replays and concurrent duplicates create one user and one audit row", async () => {
    const id = crypto.randomUUID();
    const body = {
      identity_id: id,
      email: uniqueEmail("replay"),
      name: { first: "R", last: "P" },
      transient_payload: { tier: "enterprise" },
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => hook(body)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.filter((r) => r.body.created === true)).toHaveLength(1);
    expect((await hook(body)).body.created).toBe(false);
    expect(await auditCount(id)).toBe(1);
    expect((await userRow(id))?.signup_tier).toBe("enterprise");
  });

  it("refuses a missing or wrong secret and changes nothing", async () => {
    const id = crypto.randomUUID();
    const body = { identity_id: id, email: uniqueEmail("nosecret") };
    for (const secret of [null, "", "wrong", `${auth().env.WEBHOOK_SECRET}x`]) {
      const r = await hook(body, secret);
      expect(r.status).toBe(401);
      expectErrorShape(r.body, "unauthenticated");
    }
    expect(await userRow(id)).toBeUndefined();
  });

  it("answers malformed bodies with a 4xx naming the problem and changes nothing", async () => {
    const id = crypto.randomUUID();
    const cases: [string, unknown, number, string][] = [
      ["missing email", { identity_id: id }, 400, "email"],
      ["bad uuid", { identity_id: "x", email: uniqueEmail() }, 400, "identity_id"],
      ["email wrong type", { identity_id: id, email: 42 }, 400, "email"],
      ["array body", [1, 2], 400, "body"],
    ];
    for (const [name, body, status, field] of cases) {
      const r = await hook(body);
      expect(r.status, name).toBe(status);
      expectErrorShape(r.body, "bad_request");
      expect(r.body.message, name).toContain(field);
    }
    const notJson = await call("/v1/webhooks/kratos/registration", {
      base: auth().admin,
      body: "{not json",
      headers: { "content-type": "application/json", "x-gatehouse-webhook-secret": auth().env.WEBHOOK_SECRET ?? "" },
    });
    expect(notJson.status).toBe(400);
    expectErrorShape(notJson.body, "invalid_json");
    const form = await call("/v1/webhooks/kratos/registration", {
      base: auth().admin,
      body: "identity_id=x",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-gatehouse-webhook-secret": auth().env.WEBHOOK_SECRET ?? "",
      },
    });
    expect(form.status).toBe(415);
    expectErrorShape(form.body, "unsupported_media_type");
    const huge = await hook({ identity_id: id, email: uniqueEmail(), transient_payload: { pad: "x".repeat(200_000) } });
    expect(huge.status).toBe(413);
    expectErrorShape(huge.body, "payload_too_large");
    expect(await userRow(id)).toBeUndefined();
  });

  it("an unknown tier is ignored, never stored", async () => {
    const id = crypto.randomUUID();
    expect(
      (
        await hook({
          identity_id: id,
          email: uniqueEmail("tier"),
          transient_payload: { tier: "platinum'; drop table users;--" },
        })
      ).status,
    ).toBe(200);
    expect((await userRow(id))?.signup_tier).toBeNull();
  });
});

describe("after-login webhook (real Kratos → auth-service): user.authenticated", () => {
  const signIns = async (identityId: string) =>
    (
      await db.query(
        `select a.after, (select count(*)::int from outbox o where o.topic = 'event'
           and o.payload->>'type' = 'user.authenticated' and o.payload->'subject'->>'id' = $1) as events
         from audit_log a where a.action = 'user.authenticated' and a.target_id = $1`,
        [identityId],
      )
    ).rows as { after: { flowId: string; aal: string; methods: string[] }; events: number }[];
  const login =
    (path: string) =>
    (body: unknown, secret: string | null = auth().env.WEBHOOK_SECRET ?? "") =>
      call(path, {
        base: auth().admin,
        json: body,
        headers: secret !== null ? { "x-gatehouse-webhook-secret": secret } : {},
      });
  const loginHook = login("/v1/webhooks/kratos/login");

  it("a password sign-in is recorded once, with its flow, aal and method and no cookie or header; a repeat changes nothing", async () => {
    const s = stack();
    const email = uniqueEmail("signin");
    const reg = await registerApi(s, { email });
    const id = reg.body.identity?.id ?? "";
    const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as {
      id: string;
      ui: { action: string };
    };
    const action = new URL(flow.ui.action);
    const r = await fetch(`${s.kratosPublic}${action.pathname}${action.search}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
    });
    expect(r.status).toBe(200);

    const rows = await waitFor(async () => {
      const got = await signIns(id);
      return got.length > 0 ? got : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.after).toEqual({ flowId: flow.id, aal: "aal1", methods: ["password"] });
    expect(rows[0]?.events).toBe(1);
    expect(JSON.stringify(rows[0])).not.toMatch(/cookie|ory_|header|token/i);

    // Kratos delivering the same sign-in again: recorded once.
    const again = await loginHook({
      identity_id: id,
      flow_id: flow.id,
      aal: "aal1",
      methods: ["password"],
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ok: true, recorded: false });
    expect(await signIns(id)).toHaveLength(1);
  });

  it("refuses a missing or wrong secret (401) and a malformed body (400), as JSON", async () => {
    const good = {
      identity_id: crypto.randomUUID(),
      flow_id: crypto.randomUUID(),
      aal: "aal1",
      methods: ["password"],
    };
    for (const secret of [null, "wrong-secret-wrong-secret-wrong-secret"]) {
      const r = await loginHook(good, secret);
      expect(r.status).toBe(401);
      expectErrorShape(r.body, "unauthenticated");
    }
    for (const bad of [
      { ...good, identity_id: "x" },
      { ...good, aal: "aal9" },
      { ...good, methods: ["<script>"] },
      {},
    ]) {
      const r = await loginHook(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expectErrorShape(r.body, "bad_request");
    }
  });
});

describe("after a password change or a recovery: user.password_changed / user.recovered", () => {
  it("each is recorded with its event, beside the sessions it ended", async () => {
    const reg = await registerApi(stack(), { email: uniqueEmail("pwchange") });
    const id = reg.body.identity?.id ?? "";
    for (const [reason, action] of [
      ["password_changed", "user.password_changed"],
      ["recovered", "user.recovered"],
    ] as const) {
      const r = await call(`/v1/webhooks/kratos/sessions-revoked?reason=${reason}`, {
        base: auth().admin,
        json: { identity_id: id },
        headers: { "x-gatehouse-webhook-secret": auth().env.WEBHOOK_SECRET ?? "" },
      });
      expect(r.status).toBe(200);
      const rows = await db.query(
        `select a.action, (select count(*)::int from outbox o where o.topic = 'event'
           and o.payload->>'type' = a.action and o.payload->'subject'->>'id' = $1) as events
         from audit_log a where a.target_id = $1 and a.action in ($2, 'identity.other_sessions_revoked')`,
        [id, action],
      );
      expect(rows.rows.find((x) => x.action === action)).toEqual({ action, events: 1 });
      expect(rows.rows.some((x) => x.action === "identity.other_sessions_revoked")).toBe(true);
    }
  });
});

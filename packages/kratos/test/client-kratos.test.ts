// The client against the REAL Kratos v1.3.1 of the test stack.
import { createHmac, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../../../test/support/browser.ts";
import {
  PASSWORD,
  registerApi,
  type StackUrls,
  stack,
  startBrowserFlow,
  submitBrowserFlow,
  uniqueEmail,
} from "../../../test/support/kratos.ts";
import {
  createKratosClient,
  credentialFrom,
  type KratosClient,
  KratosError,
  type KratosErrorCode,
} from "../src/index.ts";

let s: StackUrls;
let kratos: KratosClient;

beforeAll(() => {
  s = stack();
  kratos = createKratosClient({ publicUrl: s.kratosPublic, adminUrl: s.kratosAdmin });
});
afterAll(async () => {
  await kratos.close();
});

async function expectCode(p: Promise<unknown>, code: KratosErrorCode): Promise<KratosError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KratosError);
  expect((err as KratosError).code, (err as KratosError).message).toBe(code);
  return err as KratosError;
}

async function register(): Promise<{ email: string; token: string; identityId: string; sessionId: string }> {
  const email = uniqueEmail("kc");
  const reg = await registerApi(s, { email, name: { first: "Grace", last: "Hopper" } });
  expect(reg.status).toBe(200);
  const session = reg.body.session as { id: string };
  return { email, token: reg.body.session_token ?? "", identityId: reg.body.identity?.id ?? "", sessionId: session.id };
}

/** Native-app login (GET /self-service/login/api, POST method=password): a new session token. */
async function loginApi(email: string): Promise<string> {
  const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as { ui: { action: string } };
  const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { session_token: string }).session_token;
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret, as an authenticator app computes it. */
function totp(secretBase32: string, at = Date.now()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretBase32.replace(/=+$/, "").toUpperCase())
    bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => Number.parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const off = (h[h.length - 1] ?? 0) & 0xf;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** Adds TOTP to the identity through the API settings flow of the given session. */
async function enableTotp(token: string): Promise<void> {
  const flow = (await (
    await fetch(`${s.kratosPublic}/self-service/settings/api`, { headers: { "x-session-token": token } })
  ).json()) as { ui: { action: string; nodes: { attributes: { id?: string; text?: { text: string } } }[] } };
  const secret = flow.ui.nodes.find((n) => n.attributes.id === "totp_secret_key")?.attributes.text?.text;
  expect(secret).toBeTruthy();
  const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "x-session-token": token },
    body: JSON.stringify({ method: "totp", totp_code: totp(secret ?? "") }),
  });
  expect(r.status).toBe(200);
}

describe("whoami against the real Kratos", () => {
  it("a session token from API registration gives the typed session", async () => {
    const u = await register();
    const session = await kratos.whoami({ kind: "token", value: u.token });
    expect(session.id).toBe(u.sessionId);
    expect(session.active).toBe(true);
    expect(session.aal).toBe("aal1");
    expect(session.amr).toEqual(["password"]);
    expect(session.expiresAt).toBeInstanceOf(Date);
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000); // session.lifespan 24h
    expect(session.authenticatedAt.getTime()).toBeLessThanOrEqual(Date.now() + 5000);
    expect(session.identity).toEqual({
      id: u.identityId,
      schemaId: "person",
      state: "active",
      traits: { email: u.email, name: { first: "Grace", last: "Hopper" } },
      emailVerified: false,
    });
  });

  it("a browser session cookie works when the Cookie header also carries unrelated cookies", async () => {
    const b = new Browser();
    const email = uniqueEmail("kc-browser");
    const { flow } = await startBrowserFlow(b, s, "registration");
    const reg = await submitBrowserFlow(b, flow, {
      method: "password",
      password: PASSWORD,
      traits: { email, name: { first: "Ada", last: "Lovelace" } },
    });
    expect(reg.status).toBe(200);
    const cookie = (await b.jar.getCookies(s.kratosBrowser)).find((c) => c.key === "ory_kratos_session");
    expect(cookie?.value).toBeTruthy();
    // What the browser sends to an app on the cookie domain: its own cookies, the CSRF cookie, Kratos'.
    const header = `${await b.jar.getCookieString(s.kratosBrowser)}; theme=dark; _ga=GA1.2.3.4`;
    expect(header).toContain("csrf_token_");
    const cred = credentialFrom({ cookieHeader: header });
    expect(cred).toEqual({ kind: "cookie", value: cookie?.value });

    const session = await kratos.whoami(cred ?? { kind: "cookie", value: "" });
    expect(session.identity.traits.email).toBe(email);
    expect(session.amr).toEqual(["password"]);
  });

  it("a garbage token or cookie is 'unauthenticated'", async () => {
    const e1 = await expectCode(
      kratos.whoami({ kind: "token", value: "ory_st_notarealtoken0000000000000" }),
      "unauthenticated",
    );
    expect(e1.status).toBe(401);
    const e2 = await expectCode(kratos.whoami({ kind: "cookie", value: "MTc5garbage" }), "unauthenticated");
    expect(e2.status).toBe(401);
  });

  it("a password-only session of a user with TOTP is 'aal2_required' with Kratos' aal2 login URL", async () => {
    const u = await register();
    await enableTotp(u.token);
    // Kratos upgrades the session that completed the TOTP set-up to aal2.
    const upgraded = await kratos.whoami({ kind: "token", value: u.token });
    expect(upgraded.aal).toBe("aal2");
    expect(upgraded.amr).toEqual(["password", "totp"]);

    const passwordOnly = await loginApi(u.email);
    const err = await expectCode(kratos.whoami({ kind: "token", value: passwordOnly }), "aal2_required");
    expect(err.status).toBe(403);
    expect(err.kratosErrorId).toBe("session_aal2_required");
    expect(err.redirectBrowserTo).toMatch(/\/self-service\/login\/browser\?aal=aal2$/);
  });
});

describe("admin calls against the real Kratos", () => {
  it("revokeSession: the session stops working; revoking again or an unknown id is fine", async () => {
    const u = await register();
    const cred = { kind: "token", value: u.token } as const;
    const session = await kratos.whoami(cred);
    await kratos.revokeSession(session.id);
    await expectCode(kratos.whoami(cred), "unauthenticated");
    await kratos.revokeSession(session.id);
    await kratos.revokeSession(randomUUID());
  });

  it("listIdentitySessions lists every session; revokeIdentitySessions kills them all", async () => {
    const u = await register();
    const tokens = [u.token, await loginApi(u.email), await loginApi(u.email)];
    const sessionIds = await Promise.all(
      tokens.map(async (t) => (await kratos.whoami({ kind: "token", value: t })).id),
    );

    expect((await kratos.listIdentitySessions(u.identityId)).sort()).toEqual([...sessionIds].sort());

    await kratos.revokeIdentitySessions(u.identityId);
    for (const t of tokens) await expectCode(kratos.whoami({ kind: "token", value: t }), "unauthenticated");
    expect(await kratos.listIdentitySessions(u.identityId)).toEqual([]);
    // Nothing left to revoke (Kratos answers 404) is still success.
    await kratos.revokeIdentitySessions(u.identityId);
    await kratos.revokeIdentitySessions(randomUUID());
  });

  it("listIdentitySessions returns every session across pages despite Kratos v1.3.1's off-by-one pages", async () => {
    const u = await register();
    const tokens = [u.token];
    for (let i = 0; i < 4; i++) tokens.push(await loginApi(u.email));
    const ids = await Promise.all(tokens.map(async (t) => (await kratos.whoami({ kind: "token", value: t })).id));
    for (const pageSize of [1, 2, 3, 5]) {
      expect((await kratos.listIdentitySessions(u.identityId, { pageSize })).sort(), `pageSize ${pageSize}`).toEqual(
        [...ids].sort(),
      );
    }
  });

  it("listIdentitySessions leaves revoked sessions out unless asked", async () => {
    const u = await register();
    const second = await kratos.whoami({ kind: "token", value: await loginApi(u.email) });
    await kratos.revokeSession(u.sessionId);
    expect(await kratos.listIdentitySessions(u.identityId)).toEqual([second.id]);
    expect((await kratos.listIdentitySessions(u.identityId, { state: "any" })).sort()).toEqual(
      [u.sessionId, second.id].sort(),
    );
    expect(await kratos.listIdentitySessions(u.identityId, { state: "inactive" })).toEqual([u.sessionId]);
    expect(await kratos.listIdentitySessions(randomUUID())).toEqual([]);
  });

  it("getIdentity returns the identity, and undefined for an unknown id", async () => {
    const u = await register();
    expect(await kratos.getIdentity(u.identityId)).toEqual({
      id: u.identityId,
      schemaId: "person",
      state: "active",
      traits: { email: u.email, name: { first: "Grace", last: "Hopper" } },
      emailVerified: false,
      // What the person has set up (never the secrets): a password, and the email code
      // Kratos attaches to the address (passwordless sign-in by code is on).
      credentialTypes: ["code", "password"],
    });
    expect(await kratos.getIdentity(randomUUID())).toBeUndefined();
  });

  it("emailVerified follows Kratos once the address is verified", async () => {
    const u = await register();
    const patch = await fetch(`${s.kratosAdmin}/admin/identities/${u.identityId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { op: "replace", path: "/verifiable_addresses/0/verified", value: true },
        { op: "replace", path: "/verifiable_addresses/0/status", value: "completed" },
      ]),
    });
    expect(patch.status).toBe(200);
    expect((await kratos.getIdentity(u.identityId))?.emailVerified).toBe(true);
    expect((await kratos.whoami({ kind: "token", value: u.token })).identity.emailVerified).toBe(true);
  });

  it("ready() is true", async () => {
    expect(await kratos.ready()).toBe(true);
  });
});

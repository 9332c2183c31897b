// Social sign-in in Chromium against the stack's real OpenID Provider (panva's
// oidc-provider in tools/oidc-provider, PKCE required for every client): sign-up and
// sign-in through the IdP's own sign-in and consent pages, the Gatehouse token such a
// session mints, the claims mapper's rule for unverified addresses, Kratos v1.3.1's
// account linking when the address already has a password account, and what a person
// sees when the provider is down. Screenshots under test-results/social/.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stackConfig } from "../../tools/stack/config.ts";
import { idp } from "../../tools/stack/services.ts";
import { readState, stopProcess, writeState } from "../../tools/stack/supervisor.ts";
import { launchChromium } from "../support/chromium.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/social");
const env = inject("stack");
const need = (k: string) =>
  env[k] ??
  (() => {
    throw new Error(`the test stack did not provide ${k}`);
  })();
const WEB = need("WEB_URL");
const IDP = need("IDP_URL");
const AUTH = need("AUTH_SERVICE_URL");
const KRATOS_ADMIN = need("KRATOS_ADMIN_URL");
const GATEWAY = env.GATEWAY_INTERNAL_URL ?? need("GATEWAY_URL");
const IDP_PASSWORD = "idp-password";

let browser: Browser;

async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  return { ctx, page };
}

const onApp = (path: string) => (u: URL) => u.origin === new URL(WEB).origin && u.pathname === path;
const shot = (page: Page, name: string) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });

/**
 * Clicks the provider's button on an app page and goes through the IdP: its sign-in page
 * (unless the IdP still has a session) and its consent page (unless already granted).
 * Returns the authorization request's query, as the browser sent it to the IdP.
 */
async function viaIdp(page: Page, email: string): Promise<URLSearchParams> {
  const authorize = page.waitForRequest((r) => r.url().startsWith(`${IDP}/auth?`));
  await page.getByTestId("submit-provider-local").click();
  const query = new URL((await authorize).url()).searchParams;
  await page.waitForURL((u) => u.origin !== new URL(IDP).origin || u.pathname.startsWith("/interaction/"));
  if (new URL(page.url()).origin === new URL(IDP).origin) {
    if (await page.getByLabel("Password").count()) {
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(IDP_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
    }
    const allow = page.getByRole("button", { name: "Allow" });
    await allow.or(page.locator("body:not(:has(form))")).first().waitFor();
    if (await allow.count()) await allow.click();
  }
  await page.waitForURL((u) => u.origin === new URL(WEB).origin);
  return query;
}

async function sessionCookie(ctx: BrowserContext): Promise<string> {
  const c = (await ctx.cookies(WEB)).find((x) => x.name === "ory_kratos_session");
  if (!c) throw new Error("no session cookie in the browser");
  return `${c.name}=${c.value}`;
}

/** The Gatehouse token a session mints (auth-service POST /v1/token), its claims, and the gateway's answer to it. */
async function tokenFor(cookie: string) {
  const r = await fetch(`${AUTH}/v1/token`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json" },
  });
  expect(r.status).toBe(200);
  const { access_token: jwt } = (await r.json()) as { access_token: string };
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
  const me = await fetch(`${GATEWAY}/v1/me`, {
    headers: { authorization: `Bearer ${jwt}`, accept: "application/json" },
  });
  return { claims, meStatus: me.status, me: (await me.json()) as { email?: string } };
}

async function signOut(page: Page): Promise<void> {
  await page.goto(`${WEB}/dashboard`);
  await page.getByTestId("sign-out").click();
  await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
}

async function identityByEmail(email: string) {
  const r = await fetch(`${KRATOS_ADMIN}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`);
  const list = (await r.json()) as { id: string; credentials?: Record<string, { identifiers?: string[] }> }[];
  return list[0];
}

describe("social sign-in with the local OpenID Provider (PKCE), in Chromium", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(need("GATEHOUSE_DOMAIN"));
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("signs up with the IdP, signs out, signs in again; the session mints a Gatehouse token", {
    timeout: 180_000,
  }, async () => {
    const { ctx, page } = await newPage();
    await page.goto(`${WEB}/auth/registration`);
    await page.waitForURL((u) => onApp("/auth/registration")(u) && u.searchParams.has("flow"));
    await shot(page, "01-registration-with-provider");
    const q = await viaIdp(page, "grace@idp.example");
    // Kratos sent a PKCE challenge (the IdP also refuses any client that does not).
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Signed up and in at once: the provider verified the address, so no code by mail.
    await page.waitForURL(onApp("/onboard"));
    await shot(page, "02-signed-up");
    const first = await tokenFor(await sessionCookie(ctx));
    expect(first.claims).toMatchObject({ email: "grace@idp.example", email_verified: true, aal: "aal1" });
    expect(first.claims.amr).toEqual(["oidc"]);
    expect(first.claims.name).toEqual({ first: "Grace", last: "Hopper" });
    expect(first.meStatus).toBe(200);
    expect(first.me.email).toBe("grace@idp.example");

    await page.getByLabel("Organization name").fill("Compilers Inc");
    await page.getByTestId("create-organization").click();
    await page.waitForURL(onApp("/dashboard"));
    await signOut(page);
    await viaIdp(page, "grace@idp.example");
    await page.waitForURL(onApp("/dashboard"));
    await shot(page, "03-signed-in-again");
    const again = await tokenFor(await sessionCookie(ctx));
    expect(again.claims.sub).toBe(first.claims.sub);
    expect(again.claims.role).toBe("owner");
    await ctx.close();
  });

  it("an address the IdP has not verified is not taken: Kratos asks for one", { timeout: 120_000 }, async () => {
    const { ctx, page } = await newPage();
    await page.goto(`${WEB}/auth/registration`);
    await page.waitForURL((u) => onApp("/auth/registration")(u) && u.searchParams.has("flow"));
    await viaIdp(page, "eve@idp.example");
    await page.waitForURL((u) => onApp("/auth/registration")(u));
    await shot(page, "04-unverified-email-asked");
    const email = page.getByLabel("Email", { exact: true });
    expect(await email.inputValue()).toBe("");
    expect(await page.getByLabel("First name").inputValue()).toBe("Eve");
    expect(await identityByEmail("eve@idp.example")).toBeUndefined();
    await ctx.close();
  });

  it("the IdP's address already has a password account: Kratos links after the password", {
    timeout: 180_000,
  }, async () => {
    const email = "linus@idp.example";
    const password = "linus-password-2024!";
    const created = await fetch(`${KRATOS_ADMIN}/admin/identities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        schema_id: "person",
        traits: { email, name: { first: "Linus", last: "Pauling" } },
        credentials: { password: { config: { password } } },
      }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const { ctx, page } = await newPage();
    await page.goto(`${WEB}/auth/login`);
    await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
    await viaIdp(page, email);
    // No second account, no session: the login page says why and asks for the password.
    await page.waitForURL((u) => onApp("/auth/login")(u));
    await page.getByText("that email is already used by another account").waitFor();
    await shot(page, "05-link-asks-for-password");
    expect(await ctx.cookies(WEB).then((cs) => cs.some((c) => c.name === "ory_kratos_session"))).toBe(false);
    await page.getByLabel("Password").fill(password);
    await page.getByTestId("submit-method-password").click();
    await page.waitForURL((u) => u.origin === new URL(WEB).origin && !u.pathname.startsWith("/auth/"));
    const linked = await identityByEmail(email);
    expect(linked?.id).toBe(id);
    expect(linked?.credentials?.oidc?.identifiers).toEqual(["local:u-linus"]);

    // From now on the IdP alone signs this account in.
    await signOut(page);
    await viaIdp(page, email);
    await page.waitForURL((u) => u.origin === new URL(WEB).origin && !u.pathname.startsWith("/auth/"));
    expect((await tokenFor(await sessionCookie(ctx))).claims.sub).toBe(id);
    await ctx.close();
  });

  it("the provider is down: the app says so plainly, and nothing answers 500", { timeout: 120_000 }, async () => {
    // Every test file of the run shares the stack: the IdP is started again at the end.
    const cfg = stackConfig("test", { basePort: Number(need("GATEHOUSE_PORT_BASE")) });
    const state = readState(cfg.stateFile);
    const before = state?.services.find((s) => s.name === "idp");
    if (!state || !before) throw new Error("the stack runs no idp");
    await stopProcess(before.pid);
    try {
      const { ctx, page } = await newPage();
      const statuses: number[] = [];
      page.on("response", (r) => statuses.push(r.status()));
      await page.goto(`${WEB}/auth/login`);
      await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
      await page.getByTestId("submit-provider-local").click();
      await page.waitForURL((u) => u.origin === new URL(WEB).origin && u.searchParams.has("id"));
      await page.getByRole("alert").first().waitFor();
      await shot(page, "06-provider-down");
      expect(await page.getByRole("alert").first().textContent()).toMatch(/sign-in provider is not available/i);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      // The other ways in are one click away.
      await page.getByRole("link", { name: "Go to sign in" }).click();
      await page.waitForURL((u) => onApp("/auth/login")(u));
      await ctx.close();
    } finally {
      const again = { ...(await idp.start(cfg)), startedAt: new Date().toISOString() };
      const now = readState(cfg.stateFile) ?? state;
      writeState(cfg.stateFile, { ...now, services: now.services.map((s) => (s.name === "idp" ? again : s)) });
    }
  });
});

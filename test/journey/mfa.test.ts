// An organization that requires a second factor, in Chromium: its owner turns the
// setting on in the organization settings; a member who signs in with a password only
// is sent (guard → second-factor step → no factor to offer) to set one up, and no
// guarded page lets them in until they have; the code that sets TOTP up raises the
// session to aal2 and the pages open (`aal: aal2` in the token); the next password
// sign-in stops at the second-factor step until the code is given. Screenshots under
// test-results/screenshots/mfa/, axe-core on each page state.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, joinOrg, newUser } from "../../apps/auth-service/test/support.ts";
import { launchChromium } from "../support/chromium.ts";
import { PASSWORD } from "../support/kratos.ts";
import { axeViolations, claimsOf as journeyClaims } from "../support/web-journey.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/screenshots/mfa");
const env = inject("stack");
const need = (k: string): string => {
  const v = env[k];
  if (!v) throw new Error(`the test stack did not provide ${k}`);
  return v;
};
const WEB = need("WEB_URL");
const AUTH = need("AUTH_SERVICE_URL");

let browser: Browser;
const onApp = (path: string) => (u: URL) => u.origin === new URL(WEB).origin && u.pathname === path;
const shot = (page: Page, name: string) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
const axeFindings: string[] = [];

/** axe-core's serious and critical violations, collected per page state. */
async function axe(page: Page, label: string): Promise<void> {
  for (const v of await axeViolations(page)) axeFindings.push(`${label}: ${v}`);
}

const claimsOf = (ctx: BrowserContext) => journeyClaims(ctx, WEB, AUTH);

async function signIn(ctx: BrowserContext, email: string): Promise<Page> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${WEB}/auth/login`);
  await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("submit-method-password").click();
  await page.waitForURL((u) => !u.pathname.startsWith("/auth/login"));
  return page;
}

describe("an organization that requires a second factor (Chromium)", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(need("GATEHOUSE_DOMAIN"), [WEB]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("owner turns it on; a password-only member must set up TOTP, then reaches the pages at aal2", {
    timeout: 300_000,
  }, async () => {
    const owner = await newUser("mfa-owner");
    const onboarded = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Strict Corp" } });
    const orgId = (onboarded.body.organization as { id: string }).id;
    const member = await newUser("mfa-member");
    await joinOrg(owner, orgId, member, "member");

    // Below Enterprise the setting is offered but cannot be turned on.
    const ownerCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
    const ownerPage = await signIn(ownerCtx, owner.email);
    await ownerPage.goto(`${WEB}/organization`);
    await expect.poll(() => ownerPage.locator("#require-mfa").isDisabled()).toBe(true);
    const upgrade = await call(`/v1/organizations/${orgId}`, {
      method: "PATCH",
      token: owner.sessionToken,
      json: { plan: "enterprise" },
    });
    expect(upgrade.status).toBe(200);
    await ownerPage.goto(`${WEB}/organization`);
    await ownerPage.locator("#require-mfa").check();
    await shot(ownerPage, "01-owner-turns-it-on");
    await axe(ownerPage, "organization settings (owner)");
    await ownerPage.getByTestId("save-require-mfa").click();
    await ownerPage.locator("#require-mfa-message .message-success").waitFor();

    // The member, with a password only: every guarded page sends them to set up a factor.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
    const page = await signIn(ctx, member.email);
    await page.waitForURL(onApp("/auth/settings"));
    await page.getByTestId("mfa-required").waitFor();
    await shot(page, "02-member-sent-to-set-up");
    await axe(page, "settings (second factor required)");
    const weak = await claimsOf(ctx);
    expect(weak).toMatchObject({ org: orgId, aal: "aal1", mfa_required: true });
    for (const path of ["/dashboard", "/team", "/organization"]) {
      await page.goto(`${WEB}${path}`);
      await page.waitForURL(onApp("/auth/settings"));
    }
    // An API-style call (not a page load) to a guarded page gets the catalogue's JSON instead.
    const api = await page.evaluate(async () => {
      const r = await fetch("/dashboard", { headers: { accept: "application/json" }, redirect: "manual" });
      return { status: r.status, body: await r.text() };
    });
    expect(api.status).toBe(403);
    expect(JSON.parse(api.body)).toMatchObject({ error: "aal2_required" });

    // TOTP set up (the previous window's code), then the second-factor step, then in.
    await page.waitForURL((u) => onApp("/auth/settings")(u) && u.searchParams.has("flow"));
    const secret = ((await page.getByTestId("totp_secret_key").textContent()) ?? "").trim();
    const used = totpCounter() - 1;
    await page.getByLabel("Verify code").fill(totp(secret, used * 30_000));
    await page.getByTestId("submit-method-totp").click();
    // The code just proved the second factor: Kratos raises the session to aal2 and
    // follows the flow's return_to, the guarded page they last asked for.
    await page.waitForURL(onApp("/organization")).catch(async (e: unknown) => {
      await shot(page, "xx-after-totp-setup");
      throw new Error(`after the TOTP setup: ${page.url()}`, { cause: e });
    });
    await shot(page, "03-member-in-after-setting-up-totp");
    const strong = await claimsOf(ctx);
    expect(strong).toMatchObject({ sub: member.identityId, org: orgId, aal: "aal2", mfa_required: true });
    expect(strong.amr).toContain("totp");

    // Next time, a password alone is not enough: the second-factor step, then in.
    await page.getByTestId("sign-out").click();
    await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
    await page.getByLabel("Email", { exact: true }).fill(member.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByTestId("submit-method-password").click();
    await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
    await shot(page, "04-member-second-factor-step");
    await axe(page, "second-factor step");
    await page.goto(`${WEB}/team`);
    await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
    while (totpCounter() <= used) await new Promise((r) => setTimeout(r, 250));
    await page.locator('input[name="totp_code"]').fill(totp(secret));
    await page.getByTestId("submit-method-totp").click();
    await page.waitForURL(onApp("/team"));
    await shot(page, "05-member-in-at-aal2");
    const again = await claimsOf(ctx);
    expect(again).toMatchObject({ sub: member.identityId, aal: "aal2", mfa_required: true });
    expect(again.amr).toEqual(["password", "totp"]);

    await ownerCtx.close();
    await ctx.close();
    expect(axeFindings, "axe-core: serious or critical violations").toEqual([]);
  });
});

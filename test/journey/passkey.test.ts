// Passkeys in headless Chromium with a virtual WebAuthn authenticator (the DevTools
// Protocol's WebAuthn domain through a CDP session): sign-up with a passkey, sign-in
// with it (aal1, amr passkey in the Gatehouse token), then with TOTP added the same
// passkey sign-in asks for the second factor and reaches aal2. Kratos' own webauthn.js
// (its `script` node, served through the gateway) talks to the authenticator; the app
// only renders the nodes. Screenshots under test-results/passkey/.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitForCode } from "../../tools/mailcatcher/client.ts";
import { launchChromium } from "../support/chromium.ts";
import { claimsOf as journeyClaims } from "../support/web-journey.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/passkey");
const env = inject("stack");
const need = (k: string): string => {
  const v = env[k];
  if (!v) throw new Error(`the test stack did not provide ${k}`);
  return v;
};
const WEB = need("WEB_URL");
const AUTH = need("AUTH_SERVICE_URL");
const email = `passkey-${Date.now().toString(36)}@example.org`;

let browser: Browser;
const onApp = (path: string) => (u: URL) => u.origin === new URL(WEB).origin && u.pathname === path;
const signedInPage = (u: URL) => u.origin === new URL(WEB).origin && !u.pathname.startsWith("/auth/");
const shot = (page: Page, name: string) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });

const claimsOf = (ctx: BrowserContext) => journeyClaims(ctx, WEB, AUTH);

/** Clicks a passkey button once Kratos' webauthn.js has defined its function. */
async function trigger(page: Page, name: string): Promise<void> {
  await page.waitForFunction((n) => typeof (window as unknown as Record<string, unknown>)[n] === "function", name);
  await page.getByTestId(`trigger-${name}`).click();
}

async function signOut(page: Page): Promise<void> {
  await page.goto(`${WEB}/dashboard`);
  await page.getByTestId("sign-out").click();
  await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
}

describe("passkeys in Chromium (virtual authenticator)", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(need("GATEHOUSE_DOMAIN"), [WEB]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("signs up and in with a passkey (aal1); with TOTP added the passkey sign-in reaches aal2", {
    timeout: 240_000,
  }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    // A platform authenticator that holds discoverable credentials and verifies the user.
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    await page.goto(`${WEB}/auth/registration`);
    await page.waitForURL((u) => onApp("/auth/registration")(u) && u.searchParams.has("flow"));
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("First name").fill("Pat");
    await page.getByLabel("Last name").fill("Key");
    await page.getByTestId("submit-method-profile").click();
    await shot(page, "01-registration-methods");
    const signedUp = new Date(Date.now() - 1_000);
    await trigger(page, "oryPasskeyRegistration");
    // As after a password sign-up: signed in, then asked to verify the address.
    await page.waitForURL(onApp("/auth/verification"));
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.rpId).toBe(need("GATEHOUSE_DOMAIN"));
    expect(credentials[0]?.isResidentCredential).toBe(true);
    const signup = await claimsOf(ctx);
    expect(signup).toMatchObject({ email, aal: "aal1" });
    expect(signup.amr).toEqual(["passkey"]);

    // The verification step offers "Resend code"; the resent mail is the product's template.
    // The first code's mail is in first, so the resent one is the only later one.
    const first = await waitForCode(need("MAIL_URL"), email, { since: signedUp });
    const resent = new Date(Date.parse(first.message.receivedAt) + 1);
    await page.getByRole("button", { name: "Resend code" }).click();
    const { code, message } = await waitForCode(need("MAIL_URL"), email, { since: resent });
    expect(message.id).not.toBe(first.message.id);
    expect(message.subject).toBe("Verify your email for Gatehouse");
    expect(message.html).toContain("This code expires in 15 minutes");
    await page.getByLabel(/code/i).fill(code);
    await page.getByTestId("submit-method-code").click();
    await page.getByRole("heading", { name: "Email verified" }).waitFor();

    await signOut(page);
    await shot(page, "02-login-with-passkey-button");
    await trigger(page, "oryPasskeyLogin");
    await page.waitForURL(signedInPage);
    const signin = await claimsOf(ctx);
    expect(signin.sub).toBe(signup.sub);
    expect(signin).toMatchObject({ aal: "aal1", amr: ["passkey"] });

    // TOTP as a second factor (enrolled with the previous window's code, as the journey does).
    await page.goto(`${WEB}/auth/settings`);
    await page.waitForURL((u) => onApp("/auth/settings")(u) && u.searchParams.has("flow"));
    const secret = ((await page.getByTestId("totp_secret_key").textContent()) ?? "").trim();
    const used = totpCounter() - 1;
    await page.getByLabel("Verify code").fill(totp(secret, used * 30_000));
    await page.getByTestId("submit-method-totp").click();
    await page.locator(".flow-messages .message-success").waitFor();

    await signOut(page);
    await trigger(page, "oryPasskeyLogin");
    await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
    await shot(page, "03-passkey-then-second-factor");
    // Before the second factor there is no token: Kratos wants aal2 for this account.
    const c = (await ctx.cookies(WEB)).find((x) => x.name === "ory_kratos_session");
    const early = await fetch(`${AUTH}/v1/token`, {
      method: "POST",
      headers: { cookie: `${c?.name}=${c?.value}`, "content-type": "application/json" },
    });
    expect([401, 403]).toContain(early.status);
    while (totpCounter() <= used) await new Promise((r) => setTimeout(r, 250));
    await page.locator('input[name="totp_code"]').fill(totp(secret));
    await page.getByTestId("submit-method-totp").click();
    await page.waitForURL(signedInPage);
    const strong = await claimsOf(ctx);
    expect(strong.sub).toBe(signup.sub);
    expect(strong.aal).toBe("aal2");
    expect(strong.amr).toEqual(["passkey", "totp"]);
    await ctx.close();
  });
});

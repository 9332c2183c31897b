// A person's sessions on the account settings page (issue 15): in Chromium, signed in
// from two browsers and a native app, they see all three, sign one browser out (which
// is sent to the login page on its next request), then every other session.
// Screenshots under test-results/sessions/.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/chromium.ts";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/sessions");
const env = inject("stack");
const WEB = env.WEB_URL as string;

let browser: Browser;
beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  browser = await launchChromium(env.GATEHOUSE_DOMAIN as string);
});
afterAll(async () => {
  await browser?.close();
});

async function signedInBrowser(email: string): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${WEB}/auth/login`);
  await page.waitForURL((u) => u.pathname === "/auth/login" && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("submit-method-password").click();
  await page.waitForURL((u) => u.pathname !== "/auth/login");
  return ctx;
}

/** The Kratos session id behind a browser, as the app's list shows it for that browser. */
async function currentSessionId(ctx: BrowserContext): Promise<string> {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${WEB}/auth/settings`);
  const id = await page.locator("[data-testid=my-sessions] li[data-current=true]").getAttribute("data-session");
  if (!id) throw new Error("no current session listed");
  return id;
}

describe("my sessions in a real browser", () => {
  it("lists the sessions, signs one out, then all the others", { timeout: 180_000 }, async () => {
    const email = uniqueEmail("sessions-web");
    const reg = await registerApi(stack(), { email });
    expect(reg.status).toBe(200);
    const a = await signedInBrowser(email);
    const b = await signedInBrowser(email);
    const bSid = await currentSessionId(b);

    const page = a.pages()[0] ?? (await a.newPage());
    await page.goto(`${WEB}/auth/settings`);
    const items = page.locator("[data-testid=my-sessions] li");
    // Browser A (current), browser B and the registration's native session.
    await expect.poll(() => items.count()).toBe(3);
    expect(await page.locator("li[data-current=true]").count()).toBe(1);
    await page.screenshot({ path: `${OUT}/01-three-sessions.png`, fullPage: true });

    const row = page.locator(`li[data-session="${bSid}"]`);
    await row.getByTestId("revoke-session").click();
    await row.getByTestId("revoke-session-confirm").click();
    await expect.poll(() => items.count()).toBe(2);
    await page.screenshot({ path: `${OUT}/02-one-signed-out.png`, fullPage: true });

    // Browser B is signed out on its next request.
    const bPage = b.pages()[0] ?? (await b.newPage());
    await bPage.goto(`${WEB}/dashboard`);
    await bPage.waitForURL((u) => u.pathname === "/auth/login");

    await page.getByTestId("revoke-other-sessions").click();
    await page.getByTestId("revoke-other-sessions-confirm").click();
    await expect.poll(() => items.count()).toBe(1);
    expect(await page.locator("li[data-current=true]").count()).toBe(1);
    await page.screenshot({ path: `${OUT}/03-only-this-one.png`, fullPage: true });
    await a.close();
    await b.close();
  });
});

// The product's own sign-in form meets the login limit (security issue, item 3): in
// Chromium, on the app's login page, the form posts to the gateway (never to Kratos'
// port), and after five wrong passwords the person is told, in words, how long to
// wait — also when they then type the right one. Screenshots under
// test-results/lockout/.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/chromium.ts";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/lockout");
const env = inject("stack");
const WEB = env.WEB_URL as string;
const GATEWAY = env.GATEWAY_URL as string;

let browser: Browser;
beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  browser = await launchChromium(env.GATEHOUSE_DOMAIN as string);
});
afterAll(async () => {
  await browser?.close();
});

describe("sign-in lockout in a real browser", () => {
  it("wrong passwords on the product's login page lead to a lockout a person understands", {
    timeout: 120_000,
  }, async () => {
    const email = uniqueEmail("lockout");
    expect((await registerApi(stack(), { email })).status).toBe(200);
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    const attempt = async (password: string) => {
      await page.goto(`${WEB}/auth/login`);
      await page.waitForURL((u) => u.pathname === "/auth/login" && u.searchParams.has("flow"));
      const action = await page.locator("form[method='POST'], form[method='post']").first().getAttribute("action");
      // Browsers reach Kratos only through the gateway, which counts the attempt.
      expect(new URL(action ?? "").origin).toBe(new URL(GATEWAY).origin);
      await page.getByLabel("Email", { exact: true }).fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByTestId("submit-method-password").click();
      await page.waitForURL(
        (u) => u.pathname === "/auth/login" || u.pathname === "/dashboard" || u.pathname === "/onboard",
      );
    };

    for (let i = 1; i <= 5; i++) {
      await attempt("not-my-password-0000");
      expect(new URL(page.url()).pathname).toBe("/auth/login");
      expect(await page.getByTestId("throttled").count()).toBe(0);
      await page.screenshot({ path: `${OUT}/0${i}-wrong-password.png` });
    }
    await attempt("not-my-password-0000");
    const notice = page.getByTestId("throttled");
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Too many attempts\. .*wait (\d+ minutes|a minute|\d+ seconds)/);
    await page.screenshot({ path: `${OUT}/06-locked.png` });

    // The right password does not get through while locked, and says the same.
    await attempt(PASSWORD);
    expect(new URL(page.url()).pathname).toBe("/auth/login");
    await page.getByTestId("throttled").waitFor();
    await page.screenshot({ path: `${OUT}/07-locked-right-password.png` });
    await ctx.close();
  });
});

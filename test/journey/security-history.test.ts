// A person's security history page (/security, issue 15) in Chromium: their sign-ins,
// the TOTP they set up and the session they signed out, newest first in the product's
// words, paged with "Load older" (a plain link with ?before=), axe-clean, the pager
// reachable by keyboard with a visible focus; and a second person sees none of it.
// Screenshots under test-results/screenshots/security-history/.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/chromium.ts";
import { type Flow, PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";
import { at, axeViolations, journeyPage, need, signIn } from "../support/web-journey.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/screenshots/security-history");
const WEB = need("WEB_URL");

let browser: Browser;
beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  browser = await launchChromium(need("GATEHOUSE_DOMAIN"));
});
afterAll(async () => {
  await browser?.close();
});

/** A sign-in through Kratos' API flow (no browser): one more user.authenticated. */
async function apiSignIn(email: string): Promise<void> {
  const s = stack();
  const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as Flow;
  const action = new URL(flow.ui.action);
  const r = await fetch(`${s.kratosPublic}${action.pathname}${action.search}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  expect(r.status).toBe(200);
}

async function signedIn(email: string): Promise<Page> {
  const { page } = await journeyPage(browser);
  await signIn(WEB, page, email, PASSWORD);
  await page.waitForURL((u) => !at(WEB, "/auth/login")(u));
  return page;
}

/** The entries on the page as shown: id, type and sentence. */
function entries(page: Page) {
  return page.locator("[data-testid=security-events] li").evaluateAll((lis) =>
    lis.map((li) => ({
      id: Number(li.getAttribute("data-event")),
      action: li.getAttribute("data-action"),
      text: li.querySelector("strong")?.textContent ?? "",
      datetime: li.querySelector("time")?.getAttribute("datetime") ?? "",
      title: li.querySelector("time")?.getAttribute("title") ?? "",
    })),
  );
}

/** Reloads /security until an entry of `action` shows (Kratos' web hooks are asynchronous). */
async function waitForEntry(page: Page, action: string): Promise<void> {
  await expect
    .poll(
      async () => {
        await page.goto(`${WEB}/security`);
        return page.locator(`li[data-action="${action}"]`).count();
      },
      { timeout: 20_000, interval: 500 },
    )
    .toBeGreaterThan(0);
}

describe("the security history page", () => {
  it("shows a person's own events newest first, paged; another person sees none", { timeout: 180_000 }, async () => {
    const email = uniqueEmail("history");
    expect((await registerApi(stack(), { email })).status).toBe(200);
    // Enough sign-ins that the history has a second page (10 a page).
    for (let i = 0; i < 7; i++) await apiSignIn(email);
    const page = await signedIn(email);
    const other = await signedIn(email);
    await other.goto(`${WEB}/auth/settings`);
    const otherSid = await other
      .locator("[data-testid=my-sessions] li[data-current=true]")
      .getAttribute("data-session");

    // Sets up TOTP in the app's settings (the previous window's code, as an app would).
    await page.goto(`${WEB}/auth/settings`);
    await page.waitForURL((u) => at(WEB, "/auth/settings")(u) && u.searchParams.has("flow"));
    const secret = ((await page.getByTestId("totp_secret_key").textContent()) ?? "").trim();
    await page.getByLabel("Verify code").fill(totp(secret, (totpCounter() - 1) * 30_000));
    await page.getByTestId("submit-method-totp").click();
    await page.locator(".flow-messages .message-success").waitFor();
    await waitForEntry(page, "user.mfa_enabled");

    // Signs the other browser out from the sessions card, then opens the history from settings.
    await page.goto(`${WEB}/auth/settings`);
    const row = page.locator(`li[data-session="${otherSid}"]`);
    await row.getByTestId("revoke-session").click();
    await row.getByTestId("revoke-session-confirm").click();
    await row.waitFor({ state: "detached" });
    await page.getByTestId("security-history-link").click();
    await page.waitForURL(at(WEB, "/security"));

    const first = await entries(page);
    expect(first).toHaveLength(10);
    expect(first.slice(0, 3).map((e) => e.text)).toEqual([
      "Session signed out",
      "Second factor added: TOTP",
      "Signed in with password",
    ]);
    expect(first.slice(2).every((e) => e.action === "user.authenticated")).toBe(true);
    for (const e of first) {
      expect(Number.isNaN(Date.parse(e.datetime))).toBe(false);
      expect(e.title).toMatch(/\d{4}/);
    }
    expect(await page.locator("[data-testid=security-events] time").first().textContent()).toMatch(/just now|minute/);
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe("Security history");
    await page.screenshot({ path: `${OUT}/01-newest.png`, fullPage: true });
    expect(await axeViolations(page), "axe-core on /security").toEqual([]);

    // The pager by keyboard: Tab reaches "Load older" and shows where the focus is.
    await page.locator("h1").click();
    let focused = { testid: "", outlined: false };
    for (let n = 0; n < 30 && focused.testid !== "load-older"; n++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const cs = getComputedStyle(el);
        const outlined =
          (cs.outlineStyle !== "none" && Number.parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== "none";
        return { testid: el.dataset.testid ?? "", outlined };
      });
    }
    expect(focused).toEqual({ testid: "load-older", outlined: true });
    await page.screenshot({ path: `${OUT}/02-load-older-focused.png` });
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => at(WEB, "/security")(u) && u.searchParams.get("before") === String(first.at(-1)?.id));

    const older = await entries(page);
    // 12 in all: created, 9 sign-ins (7 by API, 2 browsers), TOTP, the session signed out.
    expect(older.map((e) => e.action)).toEqual(["user.authenticated", "user.created"]);
    expect(older.at(-1)?.text).toBe("Account created");
    const ids = [...first, ...older].map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(await page.getByTestId("load-older").count()).toBe(0);
    expect(await page.getByTestId("newest").getAttribute("href")).toBe("/security");
    await page.screenshot({ path: `${OUT}/03-older.png`, fullPage: true });
    expect(await axeViolations(page), "axe-core on /security?before=").toEqual([]);

    // Someone else: their own sign-in only, none of the first person's entries.
    const email2 = uniqueEmail("history-b");
    expect((await registerApi(stack(), { email: email2 })).status).toBe(200);
    const page2 = await signedIn(email2);
    await waitForEntry(page2, "user.authenticated");
    const theirs = await entries(page2);
    expect(theirs.map((e) => e.action).sort()).toEqual(["user.authenticated", "user.created"]);
    expect(theirs.filter((e) => ids.includes(e.id))).toEqual([]);
    expect(await page2.getByTestId("load-older").count()).toBe(0);
    await page2.screenshot({ path: `${OUT}/04-someone-else.png`, fullPage: true });
    expect(await axeViolations(page2), "axe-core on someone else's /security").toEqual([]);
  });
});

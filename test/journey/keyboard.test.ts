// Two passes in Chromium against the real stack, sharing one stack start:
//
// 1. Keyboard only. The people and organizations are set up with the mouse; then the
//    main journey is done with Tab, Shift+Tab, Enter, Space, arrows and Escape and
//    nothing else: skip link, sign-in, the navigation, a member's role (select and
//    save), the remove-member dialog (focus kept inside, Escape closes it and focus
//    goes back to its button), the organization switcher, TOTP setup and the backup
//    codes' copy and download. Every element Tab lands on must show where the focus
//    is (an outline or a box-shadow), each target is reached within a stated number
//    of presses, and the focused states are screenshots under
//    test-results/screenshots/keyboard/.
// 2. The refusal page: a signed-in person refused a page by the guard (here the example
//    API behind the gateway: no organization, so no `org:read`) sees a page saying what
//    to do, with no serious axe-core findings, while a fetch asking for JSON on the same
//    URL still gets the JSON 403 {error, message, request_id}.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/chromium.ts";
import { verifyEmail } from "../support/invitations.ts";
import { at as atWeb, axeViolations, identityId, journeyPage, need, register } from "../support/web-journey.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/screenshots/keyboard");
const PASSWORD = "keyboard-only-password-2024!";

const WEB = need("WEB_URL");
const GATEWAY = need("GATEWAY_URL");
const KRATOS_ADMIN = need("KRATOS_ADMIN_URL");
const DOMAIN = need("GATEHOUSE_DOMAIN");

const run = Date.now().toString(36);
const owner = `kbd-owner-${run}@example.org`;
const member = `kbd-member-${run}@example.org`;
const at = (path: string) => atWeb(WEB, path);

let browser: Browser;
let shot = 0;
/** Tab presses each target took, for the log. */
const presses: string[] = [];
/** Elements Tab landed on that showed no focus indicator. */
const unseen = new Set<string>();

const newPage = (options: BrowserContextOptions = {}) => journeyPage(browser, options);

const snap = (page: Page, label: string) =>
  page.screenshot({ path: `${OUT}/${String(++shot).padStart(2, "0")}-${label}.png` });

interface Focus {
  matches: boolean;
  visible: boolean;
  where: string;
  inDialog: boolean;
}

/** The focused element: whether it matches `selector`, shows focus, and what it is. */
function focus(page: Page, selector: string): Promise<Focus> {
  return page.evaluate((sel) => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { matches: false, visible: true, where: "body", inDialog: false };
    const shows = (e: Element) => {
      const cs = getComputedStyle(e);
      return (cs.outlineStyle !== "none" && Number.parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== "none";
    };
    // A visually hidden radio or checkbox shows its focus on its label.
    const labels = "labels" in el ? [...((el as HTMLInputElement).labels ?? [])] : [];
    const id = el.id ? `#${el.id}` : "";
    const testId = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : "";
    const text = (el.getAttribute("aria-label") ?? el.textContent ?? "").trim().slice(0, 40);
    return {
      matches: el.matches(sel),
      visible: shows(el) || labels.some(shows),
      where: `${location.pathname} ${el.tagName.toLowerCase()}${id}${testId} "${text}"`,
      inDialog: el.closest("dialog[open]") !== null,
    };
  }, selector);
}

/** Presses Tab (or Shift+Tab) until `selector` has the focus, at most `max` times. */
async function tabTo(page: Page, selector: string, max: number, label: string, back = false): Promise<void> {
  let last = "";
  for (let n = 1; n <= max; n++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const f = await focus(page, selector);
    if (!f.visible) unseen.add(f.where);
    last = f.where;
    if (f.matches) {
      presses.push(`${label}: ${n}`);
      return;
    }
  }
  throw new Error(`${label}: ${selector} not reached in ${max} presses (focus ended on ${last})`);
}

/** Arrow keys on a focused select until it shows `value` (a closed select changes in place). */
async function choose(page: Page, value: string): Promise<void> {
  for (const key of ["ArrowDown", "ArrowUp"]) {
    for (let i = 0; i < 4; i++) {
      if ((await page.evaluate(() => (document.activeElement as HTMLSelectElement).value)) === value) return;
      await page.keyboard.press(key);
    }
  }
  throw new Error(`the select never showed ${value}`);
}

const focused = (page: Page) => page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120) ?? "");

describe("keyboard only, and the refusal page, in Chromium", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(DOMAIN, [WEB]);
  });

  afterAll(async () => {
    console.log(
      `keyboard (${owner}, ${member}):\n  Tab presses: ${presses.join("; ")}\n  no focus indicator: ${[...unseen].join("; ") || "none"}\n  screenshots: ${OUT}`,
    );
    await browser?.close();
  });

  it("the main journey with the keyboard alone; every focus stop visible", { timeout: 300_000 }, async () => {
    // Set-up, with the mouse: the owner's organization, a member who also has their own.
    const o = await newPage();
    await register(WEB, o.page, owner, "Kim", PASSWORD);
    await o.page.waitForURL(at("/auth/verification"));
    await o.page.goto(`${WEB}/onboard`);
    await o.page.getByLabel("Organization name").fill("Keyboard Co");
    await o.page.getByTestId("create-organization").click();
    await o.page.waitForURL(at("/dashboard"));
    const m = await newPage();
    await register(WEB, m.page, member, "Jo", PASSWORD);
    await m.page.waitForURL(at("/auth/verification"));
    await verifyEmail(KRATOS_ADMIN, await identityId(KRATOS_ADMIN, member), member);
    await m.page.goto(`${WEB}/onboard`);
    await m.page.getByLabel("Organization name").fill("Jo Labs");
    await m.page.getByTestId("create-organization").click();
    await m.page.waitForURL(at("/dashboard"));
    await o.page.goto(`${WEB}/team`);
    await o.page.getByLabel("Email address").fill(member);
    await o.page.getByTestId("invite-member").click();
    await m.page.goto((await o.page.getByTestId("invitation-link").inputValue()).trim());
    await m.page.getByTestId("accept-invitation").click();
    await m.page.waitForURL(at("/dashboard"));
    await o.ctx.close();

    // From here on: the keyboard only (page.goto stands for typing an address).
    const k = await newPage();
    const page = k.page;
    await page.goto(`${WEB}/auth/login`);
    await page.waitForURL((u) => at("/auth/login")(u) && u.searchParams.has("flow"));
    await tabTo(page, "input[name=identifier]", 6, "sign-in: email");
    await page.keyboard.type(owner);
    await tabTo(page, "input[name=password]", 3, "sign-in: password");
    await page.keyboard.type(PASSWORD);
    await snap(page, "sign-in-password-focused");
    await page.keyboard.press("Enter");
    await page.waitForURL(at("/dashboard"));

    // The skip link comes first and leads past the navigation.
    await tabTo(page, "a.skip-link", 1, "skip link");
    await snap(page, "skip-link-focused");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.closest("main")?.id), await focused(page)).toBe("main");

    // The navigation, from the top of the page.
    await page.goto(`${WEB}/dashboard`);
    await tabTo(page, 'nav a[href="/team"]', 5, "navigation: Team");
    await snap(page, "navigation-focused");
    await page.keyboard.press("Enter");
    await page.waitForURL(at("/team"));

    // A member's role: select, save; the select keeps the saved role.
    const row = `tr[data-member="${member}"]`;
    await tabTo(page, `${row} select`, 30, "team: role select");
    await choose(page, "admin");
    await tabTo(page, `${row} button[type=submit]`, 2, "team: save role");
    await snap(page, "save-role-focused");
    await page.keyboard.press("Enter");
    await page.locator(row).getByText("Role changed to admin.").waitFor();
    expect(await page.locator(`${row} select`).inputValue()).toBe("admin");

    // Remove asks in a dialog: focus inside, kept inside, Escape closes, focus returns.
    await tabTo(page, `${row} [data-testid=remove-member]`, 4, "team: remove");
    await page.keyboard.press("Enter");
    await page.locator(`${row} dialog[open]`).waitFor();
    expect((await focus(page, "dialog[open] *")).inDialog, await focused(page)).toBe(true);
    await snap(page, "remove-dialog-focused");
    for (const back of [false, false, false, true, true, true]) {
      await page.keyboard.press(back ? "Shift+Tab" : "Tab");
      const f = await focus(page, "*");
      expect(f.inDialog, `focus left the dialog for ${f.where}`).toBe(true);
      if (!f.visible) unseen.add(f.where);
    }
    await page.keyboard.press("Escape");
    await page.locator(`${row} dialog[open]`).waitFor({ state: "detached" });
    expect((await focus(page, `${row} [data-testid=remove-member]`)).matches, await focused(page)).toBe(true);
    await page.reload();
    await page.locator(row).waitFor();

    // Settings: TOTP set up, then backup codes copied and downloadable.
    await page.goto(`${WEB}/dashboard`);
    await tabTo(page, 'nav a[href="/auth/settings"]', 10, "navigation: Settings");
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => at("/auth/settings")(u) && u.searchParams.has("flow"));
    const secret = ((await page.getByTestId("totp_secret_key").textContent()) ?? "").trim();
    await tabTo(page, "input[name=totp_code]", 40, "settings: TOTP code");
    await page.keyboard.type(totp(secret, (totpCounter() - 1) * 30_000));
    await tabTo(page, "[data-testid=submit-method-totp]", 3, "settings: verify TOTP");
    await snap(page, "totp-verify-focused");
    await page.keyboard.press("Enter");
    await page.locator(".flow-messages .message-success").waitFor();
    await tabTo(page, "[data-testid=submit-lookup_secret_regenerate-true]", 60, "settings: backup codes");
    await page.keyboard.press("Space");
    await page.getByTestId("lookup-codes").waitFor();
    await tabTo(page, "[data-testid=copy-codes]", 60, "settings: copy codes");
    await page.keyboard.press("Enter");
    await page.getByTestId("copy-codes").getByText("Copied").waitFor();
    expect((await page.evaluate(() => navigator.clipboard.readText())).split("\n").length).toBeGreaterThanOrEqual(8);
    await tabTo(page, "[data-testid=download-codes]", 2, "settings: download codes");
    await snap(page, "download-codes-focused");
    await k.ctx.close();

    // The switcher, for the member in two organizations.
    await m.page.goto(`${WEB}/dashboard`);
    const before = await m.page.getByTestId("org-name").textContent();
    await tabTo(m.page, "#org-switch", 15, "organization switcher");
    const other = await m.page.evaluate(() => {
      const s = document.activeElement as HTMLSelectElement;
      return [...s.options].find((x) => !x.selected)?.value ?? "";
    });
    await choose(m.page, other);
    await tabTo(m.page, "[data-testid=org-switch-submit]", 2, "organization switcher: switch");
    await snap(m.page, "org-switch-focused");
    await m.page.keyboard.press("Enter");
    await m.page.waitForFunction(
      (was) => document.querySelector("[data-testid=org-name]")?.textContent !== was,
      before,
    );
    await m.ctx.close();

    expect([...unseen], "elements Tab reached without a visible focus indicator").toEqual([]);
  });

  it("a refused page load gets a page; a fetch for JSON gets the JSON 403", { timeout: 120_000 }, async () => {
    // The page has a strict CSP (no script); axe is injected past it, as a tool would.
    const p = await newPage({ bypassCSP: true });
    const email = `kbd-no-org-${run}@example.org`;
    await register(WEB, p.page, email, "Noor", PASSWORD);
    await p.page.waitForURL(at("/auth/verification"));
    const res = await p.page.goto(`${GATEWAY}/v1/projects`);
    expect(res?.status()).toBe(403);
    expect(res?.headers()["content-type"]).toMatch(/^text\/html/);
    await p.page.getByRole("heading", { name: "You cannot open this page" }).waitFor();
    expect(await p.page.getByRole("alert").textContent()).toMatch(/role does not give the access/);
    expect(await p.page.locator("main").textContent()).toMatch(/Ask an owner or admin/);
    await p.page.screenshot({ path: `${OUT}/refusal-page.png`, fullPage: true });
    expect(await axeViolations(p.page)).toEqual([]);
    const json = await p.page.evaluate(async () => {
      const r = await fetch("/v1/projects", { headers: { accept: "application/json" } });
      return { status: r.status, type: r.headers.get("content-type"), body: await r.json() };
    });
    expect(json.status).toBe(403);
    expect(json.type).toMatch(/^application\/json/);
    expect(json.body).toMatchObject({
      error: "forbidden",
      message: expect.any(String),
      request_id: expect.any(String),
    });
    await p.ctx.close();
  });
});

// The product as a team meets it, in Chromium against the real stack: long names,
// organization settings and the switcher, roles, confirmations, API keys, teams, the
// audit log, profile renames reaching every view, Kratos' messages in our words, the
// sign-out notice, TOTP and backup codes. Every step saves a screenshot under
// test-results/screenshots/product/ and runs axe-core (injected into the page) on
// it: a serious or critical violation fails the test (all of them listed at its end).
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/chromium.ts";
import { verifyEmail } from "../support/invitations.ts";
import {
  at as atWeb,
  axeViolations,
  identityId as identityIdOf,
  journeyPage,
  need,
  register as registerIn,
  signIn as signInTo,
} from "../support/web-journey.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/screenshots/product");
const PASSWORD_A = "product-owner-password-2024!";
const PASSWORD_B = "product-member-password-2024!";

const env = inject("stack");
const WEB = need("WEB_URL");
const GATEWAY_INTERNAL = env.GATEWAY_INTERNAL_URL ?? need("GATEWAY_URL");
const KRATOS_ADMIN = need("KRATOS_ADMIN_URL");
const DOMAIN = need("GATEHOUSE_DOMAIN");

const run = Date.now().toString(36);
const emailA = `prod-owner-${run}@example.org`;
const emailB = `prod-member-${run}@example.org`;
const LONG_NAME = "W".repeat(200);

let browser: Browser;
let stepNo = 0;
const results: string[] = [];

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
const file = (label: string, suffix = "") => `${OUT}/${String(stepNo).padStart(2, "0")}-${slug(label)}${suffix}.png`;

/** axe's findings per page state; the test fails at its end when there is any (all listed at once). */
const axeFindings: string[] = [];

/** A screenshot a person can look at, and the accessibility check of the same state. */
async function look(page: Page, label: string): Promise<void> {
  await page.screenshot({ path: file(label), fullPage: true });
  for (const v of await axeViolations(page)) axeFindings.push(`${label} (${new URL(page.url()).pathname}): ${v}`);
}

async function step(name: string, page: () => Page, fn: () => Promise<void>): Promise<void> {
  stepNo += 1;
  const t0 = performance.now();
  try {
    await fn();
    await look(page(), name);
    results.push(`✓ ${stepNo}. ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    await page()
      .screenshot({ path: file(name, "-FAILED"), fullPage: true })
      .catch(() => {});
    results.push(`✗ ${stepNo}. ${name}: ${(e as Error).message.split("\n")[0]}`);
    throw new Error(`product step ${stepNo} "${name}" failed: ${(e as Error).message}`, { cause: e });
  }
}

const newPage = () => journeyPage(browser);

const at = (path: string) => atWeb(WEB, path);
const register = (page: Page, email: string, first: string, password: string) =>
  registerIn(WEB, page, email, first, password);
const signIn = (page: Page, email: string, password: string) => signInTo(WEB, page, email, password);
const identityId = (email: string) => identityIdOf(KRATOS_ADMIN, email);

/** Whether the page scrolls sideways (the layout is wider than the window). */
const overflowsX = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);

/** Reloads `path` until `ready` holds (a change that arrives through a webhook or pub/sub). */
async function eventually(page: Page, path: string, ready: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await page.goto(`${WEB}${path}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${path} did not show the change within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("the product as a team meets it, in Chromium", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    // The clipboard API needs a secure context; the test stack is plain http.
    browser = await launchChromium(DOMAIN, [WEB]);
  });

  afterAll(async () => {
    console.log(
      `product (${emailA}, ${emailB}):\n  ${results.join("\n  ")}\n  axe: ${axeFindings.length ? axeFindings.join("\n       ") : "no serious or critical violations"}\n  screenshots: ${OUT}`,
    );
    await browser?.close();
  });

  it("names, organization, roles, keys, teams, audit, renames, messages, sign-out, TOTP", {
    timeout: 600_000,
  }, async () => {
    const a = await newPage();
    const b = await newPage();
    const A = () => a.page;
    const B = () => b.page;

    await step("onboarding states the 200-character limit and refuses 500 without cutting them", A, async () => {
      await register(A(), emailA, "Ada", PASSWORD_A);
      await A().waitForURL(at("/auth/verification"));
      await A().goto(`${WEB}/onboard`);
      await A()
        .getByText(/up to 200 characters/i)
        .waitFor();
      await A().getByLabel("Organization name").fill("x".repeat(500));
      await A().getByTestId("create-organization").click();
      await A().locator("#org-name-error").waitFor();
      expect(await A().locator("#org-name-error").textContent()).toMatch(/at most 200 characters \(this is 500\)/);
      expect((await A().getByLabel("Organization name").inputValue()).length).toBe(500);
    });

    await step("a 200-character unbroken name wraps: no sideways scrolling at 1280 px or 360 px", A, async () => {
      await A().getByLabel("Organization name").fill(LONG_NAME);
      await A().getByTestId("create-organization").click();
      await A().waitForURL(at("/dashboard"));
      expect(await A().getByTestId("org-name").getAttribute("title")).toBe(LONG_NAME);
      expect(await overflowsX(A())).toBe(false);
      // Plan, role and sign-in stay visible beside or below the name.
      await A().getByTestId("plan").waitFor({ state: "visible" });
      await A().setViewportSize({ width: 360, height: 780 });
      await A().reload();
      expect(await overflowsX(A())).toBe(false);
      await look(A(), "dashboard at 360 px");
      for (const path of ["/team", "/organization", "/api-keys", "/teams", "/audit"]) {
        await A().goto(`${WEB}${path}`);
        expect(await overflowsX(A()), `${path} at 360 px`).toBe(false);
        await look(A(), `${path} at 360 px`);
      }
      await A().setViewportSize({ width: 1280, height: 860 });
    });

    await step("a member of two organizations switches between them", B, async () => {
      await register(B(), emailB, "Grace", PASSWORD_B);
      await B().waitForURL(at("/auth/verification"));
      await verifyEmail(KRATOS_ADMIN, await identityId(emailB), emailB);
      await B().goto(`${WEB}/onboard`);
      await B().getByLabel("Organization name").fill("Hopper Labs");
      await B().getByTestId("create-organization").click();
      await B().waitForURL(at("/dashboard"));

      await A().goto(`${WEB}/team`);
      await A().getByLabel("Email address").fill(emailB);
      await A().getByTestId("invite-member").click();
      const link = (await A().getByTestId("invitation-link").inputValue()).trim();
      await B().goto(link);
      await B().getByTestId("accept-invitation").click();
      await B().waitForURL(at("/dashboard"));
      // Each switch waits for what tells the two organizations apart (name and role).
      const switcher = B().getByTestId("org-switch");
      const acme = await switcher.locator("option", { hasText: "WWWW" }).getAttribute("value");
      expect(acme).toMatch(/^[0-9a-f-]{36}$/);
      await switcher.selectOption({ label: "Hopper Labs" });
      await B().getByTestId("org-switch-submit").click();
      await B().getByTestId("org-name").getByText("Hopper Labs").waitFor();
      expect(await B().getByTestId("role").textContent()).toBe("owner");
      await B()
        .getByTestId("org-switch")
        .selectOption(acme ?? "");
      await B().getByTestId("org-switch-submit").click();
      await B().locator(`[data-testid=org-name][title="${LONG_NAME}"]`).waitFor();
      expect(await B().getByTestId("role").textContent()).toBe("member");
    });

    await step("the role select shows the saved role (Admin), not Member", A, async () => {
      await A().goto(`${WEB}/team`);
      const row = A().locator(`tr[data-member="${emailB}"]`);
      await row.getByLabel(`Role of ${emailB}`).selectOption("admin");
      await row.getByRole("button", { name: "Save role" }).click();
      await row.getByText("Role changed to admin.").waitFor();
      expect(await row.locator(".badge").textContent()).toBe("admin");
      expect(await row.getByLabel(`Role of ${emailB}`).inputValue()).toBe("admin");
      // And after a reload, from the server.
      await A().reload();
      expect(await A().locator(`tr[data-member="${emailB}"]`).getByLabel(`Role of ${emailB}`).inputValue()).toBe(
        "admin",
      );
    });

    await step("removing a member asks first; Cancel keeps them", A, async () => {
      const row = A().locator(`tr[data-member="${emailB}"]`);
      await row.getByTestId("remove-member").click();
      await row.getByText(/Remove .* from the organization\?/).waitFor();
      await look(A(), "remove asks");
      await row.getByTestId("remove-member-cancel").click();
      await A().reload();
      await A().locator(`tr[data-member="${emailB}"]`).waitFor();
    });

    await step("organization settings: an admin sees the new name after the owner renames it", A, async () => {
      await A().goto(`${WEB}/organization`);
      await A().locator("#org-rename").fill("Acme Rockets");
      await A().getByTestId("rename-organization").click();
      await A().getByText("Organization renamed.").waitFor();
      await A().goto(`${WEB}/dashboard`);
      expect(await A().getByTestId("org-name").textContent()).toBe("Acme Rockets");
      await B().goto(`${WEB}/dashboard`);
      expect(await B().getByTestId("org-name").textContent()).toBe("Acme Rockets");
      await A().goto(`${WEB}/organization`);
      await A().getByTestId("delete-organization").click();
      await A()
        .getByText(/Type its name to confirm/)
        .waitFor();
      await A().getByLabel("Organization name").fill("not the name");
      await A().getByTestId("delete-organization-confirm").click();
      await A().locator("#confirm-name-error").waitFor();
    });

    let rawKey = "";
    await step("API keys: created with read scope, shown once with copy, used, listed by prefix", A, async () => {
      await A().goto(`${WEB}/api-keys`);
      await A().getByTestId("keys-empty").waitFor();
      await A().locator("#key-name").fill("CI reads");
      await A().getByTestId("create-api-key").click();
      rawKey = await A().getByTestId("new-api-key").inputValue();
      expect(rawKey).toMatch(/^sk_/);
      await A().getByTestId("copy").click();
      await A().getByTestId("copy").getByText("Copied").waitFor();
      expect(await A().evaluate(() => navigator.clipboard.readText())).toBe(rawKey);
      await look(A(), "api key shown once");
      // An organization key (the default) with org:read reads projects through the gateway.
      const r = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, { headers: { authorization: `Bearer ${rawKey}` } });
      expect(r.status).toBe(200);
      const w = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, {
        method: "POST",
        headers: { authorization: `Bearer ${rawKey}`, "content-type": "application/json" },
        body: '{"name":"no"}',
      });
      expect(w.status).toBe(403);
      // The guard README's rule: the owner's cookie beside the key does not lift it (the
      // explicit credential decides), and two different explicit credentials are a 400.
      const kc = (await a.ctx.cookies(WEB)).find((x) => x.name === "ory_kratos_session");
      const cookie = `${kc?.name}=${kc?.value}`;
      for (const header of [{ authorization: `Bearer ${rawKey}` }, { "x-api-key": rawKey }]) {
        const both = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, {
          method: "POST",
          headers: { cookie, ...header, "content-type": "application/json" },
          body: '{"name":"no"}',
        });
        expect(both.status, JSON.stringify(Object.keys(header))).toBe(403);
      }
      const asOwner = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json" },
        body: '{"name":"by the owner"}',
      });
      expect(asOwner.status).toBe(201);
      const two = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, {
        headers: { authorization: `Bearer ${rawKey}`, "x-api-key": `${rawKey.slice(0, -1)}x` },
      });
      expect(two.status).toBe(400);
      expect(((await two.json()) as { error: string }).error).toBe("ambiguous_credentials");
      await A().reload();
      const row = A().locator('tr[data-key="CI reads"]');
      expect(await row.locator("code").textContent()).toBe(`${rawKey.slice(0, 12)}…`);
      expect(await A().content()).not.toContain(rawKey);
      await eventually(A(), "/api-keys", async () => {
        return (await A().locator('tr[data-key="CI reads"] [data-testid=last-used]').textContent()) !== "never";
      });
    });

    await step("API keys: revoking asks, then the key stops working", A, async () => {
      const row = A().locator('tr[data-key="CI reads"]');
      await row.getByTestId("revoke-key").click();
      await row.getByTestId("revoke-key-confirm").click();
      await A().getByTestId("keys-empty").waitFor();
      const deadline = Date.now() + 10_000;
      let status = 0;
      do {
        const r = await fetch(`${GATEWAY_INTERNAL}/v1/projects`, { headers: { authorization: `Bearer ${rawKey}` } });
        status = r.status;
        if (status !== 401) await new Promise((res) => setTimeout(res, 250));
      } while (status !== 401 && Date.now() < deadline);
      expect(status).toBe(401);
    });

    await step("teams: create one, make the admin its lead", A, async () => {
      await A().goto(`${WEB}/teams`);
      await A().getByTestId("teams-empty").waitFor();
      await A().getByLabel("New team").fill("Platform");
      await A().getByTestId("create-team").click();
      const team = A().locator('section[data-team="Platform"]');
      await team.waitFor();
      await team.getByTestId("team-person").selectOption({ label: "Grace Tester" });
      await team.getByTestId("team-role").selectOption("lead");
      await team.getByTestId("add-team-member").click();
      await team.locator(`tr[data-team-member="${emailB}"]`).getByText("lead").waitFor();
    });

    await step("a profile rename reaches the team and teams pages at once", A, async () => {
      await B().goto(`${WEB}/auth/settings`);
      await B().waitForURL((u) => at("/auth/settings")(u) && u.searchParams.has("flow"));
      await B().locator('[data-group="profile"]').getByLabel("First name").fill("Gracie");
      await B().getByTestId("submit-method-profile").click();
      await B().locator(".flow-messages .message-success").waitFor();
      await eventually(A(), "/team", async () =>
        ((await A().locator(`tr[data-member="${emailB}"]`).textContent()) ?? "").includes("Gracie"),
      );
      await eventually(A(), "/teams", async () =>
        ((await A().locator(`tr[data-team-member="${emailB}"]`).textContent()) ?? "").includes("Gracie"),
      );
    });

    await step("the audit log filters by kind", A, async () => {
      await A().goto(`${WEB}/audit`);
      await A().getByTestId("audit").waitFor();
      await A().getByLabel("What").selectOption("organization");
      await A().getByTestId("filter-audit").click();
      await A().waitForURL((u) => at("/audit")(u) && u.searchParams.get("kind") === "organization");
      const actions = await A()
        .locator("tr[data-action]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
      expect(actions).toContain("organization.renamed");
      expect(actions.every((x) => x?.startsWith("organization."))).toBe(true);
    });

    let secret = "";
    await step("settings: TOTP, then backup codes with copy and download, cards in place", A, async () => {
      await A().goto(`${WEB}/auth/settings`);
      await A().waitForURL((u) => at("/auth/settings")(u) && u.searchParams.has("flow"));
      secret = ((await A().getByTestId("totp_secret_key").textContent()) ?? "").trim();
      const used = totpCounter() - 1;
      await A()
        .getByLabel("Verify code")
        .fill(totp(secret, used * 30_000));
      await A().getByTestId("submit-method-totp").click();
      await A().locator(".flow-messages .message-success").waitFor();
      const order = () =>
        A()
          .locator("form[data-group]")
          .evaluateAll((f) => f.map((x) => x.getAttribute("data-group")));
      const before = await order();
      await A().getByTestId("submit-lookup_secret_regenerate-true").click();
      await A().getByTestId("lookup-codes").waitFor();
      expect(await order()).toEqual(before);
      await A().getByTestId("copy-codes").click();
      const copied = await A().evaluate(() => navigator.clipboard.readText());
      expect(copied.split("\n").length).toBeGreaterThanOrEqual(8);
      const href = (await A().getByTestId("download-codes").getAttribute("href")) ?? "";
      expect(decodeURIComponent(href)).toContain(copied.split("\n")[0] ?? "?");
    });

    await step("sign-out says so; the TOTP prompt does not offer backup codes that were never saved", A, async () => {
      await A().getByTestId("sign-out").click();
      await A().waitForURL((u) => at("/auth/login")(u) && u.searchParams.has("flow"));
      await A().getByTestId("signed-out").waitFor();
      await look(A(), "signed out");
      await signIn(A(), emailA, PASSWORD_A);
      await A().getByRole("heading", { name: "Two-factor authentication" }).waitFor();
      const intro = (await A().locator(".auth-card .muted").first().textContent()) ?? "";
      expect(intro).toMatch(/authenticator app/);
      expect(intro).not.toMatch(/backup/i);
    });

    await step("Kratos' duplicate-account message in our words, with the way to sign in", B, async () => {
      const c = await newPage();
      try {
        await register(c.page, emailA, "Someone", "someone-else-password-2024!");
        const msg = c.page.locator(".message-error").first();
        await msg.waitFor();
        expect(await msg.textContent()).toMatch(/already an account with this email address/);
        expect(await c.page.getByTestId("message-action").getAttribute("href")).toBe("/auth/login");
        await look(c.page, "duplicate account");
      } finally {
        await c.ctx.close();
      }
    });

    await a.ctx.close();
    await b.ctx.close();
    expect(readdirSync(OUT).filter((f) => f.endsWith("-FAILED.png"))).toEqual([]);
    expect(axeFindings, "axe-core: serious or critical violations").toEqual([]);
  });
});

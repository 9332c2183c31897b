// The product journey in a real browser (Debian's Chromium driven by playwright-core,
// never a downloaded browser), against the test stack's hostnames: the marketing site
// on www., the app on app., Kratos on auth., the API through gateway., all resolved to
// 127.0.0.1 by Chromium's host resolver rules, with the Kratos session cookie on the
// parent domain (.gatehouse.test) shared by all of them.
//
// Each step saves a screenshot under test-results/screenshots/journey/ (NN-step.png, and
// NN-step-FAILED.png when it fails); a failure names its step.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitForCode } from "../../tools/mailcatcher/client.ts";
import { launchChromium } from "../support/chromium.ts";
import { totp, totpCounter } from "./totp.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/screenshots/journey");
const PASSWORD_A = "journey-owner-password-2024!";
const PASSWORD_B = "journey-member-password-2024!";
const PASSWORD_B2 = "journey-member-new-password-2025!";

const env = inject("stack");
function need(key: string): string {
  const v = env[key];
  if (!v)
    throw new Error(`the test stack did not provide ${key} (is the exampleWeb service in tools/stack/services.ts?)`);
  return v;
}

const WEB = need("WEB_URL");
const MARKETING = need("MARKETING_URL");
const GATEWAY = need("GATEWAY_URL");
const GATEWAY_INTERNAL = env.GATEWAY_INTERNAL_URL ?? GATEWAY;
const MAIL = need("MAIL_URL");
const DOMAIN = need("GATEHOUSE_DOMAIN");

const run = Date.now().toString(36);
const emailA = `owner-${run}@example.org`;
const emailB = `member-${run}@example.org`;

let browser: Browser;
let stepNo = 0;
const results: string[] = [];

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
}

async function snap(page: Page, label: string): Promise<void> {
  await page.screenshot({ path: `${OUT}/${String(stepNo).padStart(2, "0")}-${slug(label)}.png`, fullPage: true });
}

/** Runs one step; screenshots the page at its end; a failure is rethrown with the step's name. */
async function step<T>(name: string, page: () => Page, fn: () => Promise<T>): Promise<T> {
  stepNo += 1;
  const t0 = performance.now();
  try {
    const out = await fn();
    await snap(page(), name);
    results.push(`✓ ${stepNo}. ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return out;
  } catch (e) {
    await page()
      .screenshot({ path: `${OUT}/${String(stepNo).padStart(2, "0")}-${slug(name)}-FAILED.png`, fullPage: true })
      .catch(() => {});
    results.push(`✗ ${stepNo}. ${name}: ${(e as Error).message.split("\n")[0]}`);
    throw new Error(`journey step ${stepNo} "${name}" failed: ${(e as Error).message}`, { cause: e });
  }
}

async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  return { ctx, page };
}

const at = (base: string, path: string) => (u: URL) => u.origin === new URL(base).origin && u.pathname === path;

/** A page showing JSON (Chromium wraps it in <pre>): its parsed body. */
async function pageJson<T>(page: Page): Promise<T> {
  return JSON.parse((await page.locator("pre").first().textContent()) ?? "") as T;
}

/** A TOTP code from a 30 s window later than `usedCounter` (Kratos may refuse a code twice). */
async function freshTotp(secret: string, usedCounter: number): Promise<string> {
  while (totpCounter() <= usedCounter) await new Promise((r) => setTimeout(r, 250));
  return totp(secret);
}

async function sessionCookie(ctx: BrowserContext): Promise<string | undefined> {
  const c = (await ctx.cookies(WEB)).find((x) => x.name === "ory_kratos_session");
  return c ? `${c.name}=${c.value}` : undefined;
}

/** The example API, as a server or script calls it: through the gateway, with a cookie. */
async function apiStatus(path: string, cookie: string | undefined, init: RequestInit = {}): Promise<number> {
  const r = await fetch(`${GATEWAY_INTERNAL}${path}`, {
    ...init,
    headers: { accept: "application/json", ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) },
  });
  await r.body?.cancel();
  return r.status;
}

async function register(page: Page, email: string, first: string, last: string, password: string): Promise<Date> {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("First name").fill(first);
  await page.getByLabel("Last name").fill(last);
  await page.getByTestId("submit-method-profile").click();
  // Kratos' two-step registration: the password comes on the second screen.
  await page.getByLabel("Password").fill(password);
  const since = new Date(Date.now() - 1_000);
  await page.getByTestId("submit-method-password").click();
  await page.waitForURL(at(WEB, "/auth/verification"));
  return since;
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${WEB}/auth/login`);
  await page.waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("submit-method-password").click();
}

describe("product journey in Chromium", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(DOMAIN);
  });

  afterAll(async () => {
    console.log(`journey (${emailA}, ${emailB}):\n  ${results.join("\n  ")}\n  screenshots: ${OUT}`);
    await browser?.close();
  });

  it("sign-up from the pricing page to logout, across app, API and gateway", { timeout: 300_000 }, async () => {
    const a = await newPage();
    const b = await newPage();
    const A = () => a.page;
    const B = () => b.page;

    await step("marketing: Get started on Pro opens registration with the tier", A, async () => {
      // Anything but landing and pricing on the marketing host belongs to the app host.
      await A().goto(`${MARKETING}/auth/login`);
      await A().waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
      await A().goto(`${MARKETING}/`);
      expect(await A().getByRole("heading", { level: 1 }).textContent()).toMatch(/ship projects/i);
      await snap(A(), "landing");
      await A().getByRole("link", { name: "See pricing" }).click();
      await A().waitForURL(at(MARKETING, "/pricing"));
      await snap(A(), "pricing");
      await A().getByRole("link", { name: "Get started with Pro" }).click();
      await A().waitForURL((u) => at(WEB, "/auth/registration")(u) && u.searchParams.has("flow"));
      expect(await A().getByTestId("chosen-plan").textContent()).toBe("Pro");
    });

    await step("registration, then the verification code from the mail catcher", A, async () => {
      const since = await register(A(), emailA, "Ada", "Lovelace", PASSWORD_A);
      await snap(A(), "verification-sent");
      const { code } = await waitForCode(MAIL, emailA, { since });
      await A().getByLabel(/code/i).fill(code);
      await A().getByTestId("submit-method-code").click();
      await A().getByRole("heading", { name: "Email verified" }).waitFor();
      // The tier reached the auth-service through Kratos' webhook (transient_payload).
      const db = new pg.Client({ connectionString: need("DATABASE_URL") });
      await db.connect();
      try {
        let tier: string | null = null;
        for (let i = 0; i < 40 && tier === null; i++) {
          const r = await db.query<{ signup_tier: string | null }>("select signup_tier from users where email = $1", [
            emailA,
          ]);
          tier = r.rows[0]?.signup_tier ?? null;
          if (tier === null) await new Promise((res) => setTimeout(res, 250));
        }
        expect(tier, "signup_tier recorded from transient_payload").toBe("pro");
      } finally {
        await db.end();
      }
    });

    await step("onboarding creates the organization on Pro; the dashboard shows owner", A, async () => {
      await A()
        .getByRole("link", { name: /continue/i })
        .click();
      await A().waitForURL(at(WEB, "/onboard"));
      expect(await A().locator("#plan-pro").isChecked()).toBe(true);
      await A().getByLabel("Organization name").fill("Acme Rockets");
      await snap(A(), "onboarding");
      await A().getByTestId("create-organization").click();
      await A().waitForURL(at(WEB, "/dashboard"));
      expect(await A().getByTestId("role").textContent()).toBe("owner");
      expect(await A().getByTestId("plan").textContent()).toBe("pro");
      expect(await A().getByTestId("org-name").textContent()).toBe("Acme Rockets");
    });

    await step("the API through the gateway, with the shared session cookie", A, async () => {
      await A().getByLabel("New project").fill("Launch site");
      await A().getByTestId("create-project").click();
      await A().getByTestId("projects").getByText("Launch site").waitFor();
      await snap(A(), "dashboard-with-project");
      await A().goto(`${GATEWAY}/v1/me`);
      const me = await pageJson<{ email: string; role: string; plan: string }>(A());
      expect(me).toMatchObject({ email: emailA, role: "owner", plan: "pro" });
      // Signed in: the app's root and the login page send the user on to the dashboard.
      await A().goto(`${WEB}/`);
      await A().waitForURL(at(WEB, "/dashboard"));
      await A().goto(`${WEB}/auth/login`);
      await A().waitForURL(at(WEB, "/dashboard"));
    });

    await step("a second user is invited as member and accepts: reads work, admin actions get 403", B, async () => {
      await B().goto(`${WEB}/auth/registration`);
      await B().waitForURL((u) => at(WEB, "/auth/registration")(u) && u.searchParams.has("flow"));
      const since = await register(B(), emailB, "Grace", "Hopper", PASSWORD_B);
      const { code } = await waitForCode(MAIL, emailB, { since });
      await B().getByLabel(/code/i).fill(code);
      await B().getByTestId("submit-method-code").click();
      await B().getByRole("heading", { name: "Email verified" }).waitFor();

      await A().goto(`${WEB}/team`);
      await A().getByLabel("Email address").fill(emailB);
      await A().getByLabel("Role", { exact: true }).selectOption("member");
      await A().getByTestId("invite-member").click();
      const link = (await A().getByTestId("invitation-link").inputValue()).trim();
      expect(link).toMatch(/\/invite\?token=inv_/);
      await A().locator(`tr[data-invitation="${emailB}"]`).waitFor();
      await snap(A(), "team-invited");

      // The link's token moves into a cookie at once: the accept page's address has none.
      await B().goto(link);
      await B().waitForURL(at(WEB, "/invitations/accept"));
      expect(B().url()).not.toContain("inv_");
      await snap(B(), "accept-invitation");
      await B().getByTestId("accept-invitation").click();
      await B().waitForURL(at(WEB, "/dashboard"));
      await A().goto(`${WEB}/team`);
      await A().locator(`tr[data-member="${emailB}"]`).waitFor();
      expect(await A().locator(`tr[data-invitation="${emailB}"]`).count()).toBe(0);
      await snap(A(), "team-owner");

      await B().goto(`${WEB}/dashboard`);
      expect(await B().getByTestId("role").textContent()).toBe("member");
      await B().getByTestId("projects").getByText("Launch site").waitFor();
      await B().getByLabel("New project").fill("Not allowed");
      await B().getByTestId("create-project").click();
      expect(await B().locator("#project-message [role=alert]").textContent()).toMatch(/not allowed/i);
      await snap(B(), "member-refused");
      await B().goto(`${WEB}/team`);
      await B().getByTestId("read-only").waitFor();
      expect(await B().getByTestId("invite-member").count()).toBe(0);
      await snap(B(), "team-member");

      // At the API, from the browser on the gateway's origin (the cookie is shared).
      await B().goto(`${GATEWAY}/v1/projects`);
      const list = await pageJson<{ projects: { id: string; name: string }[] }>(B());
      expect(list.projects.map((p) => p.name)).toContain("Launch site");
      const id = list.projects[0]?.id ?? "";
      // Scripts run from a gateway page without the API's CSP (its upgrade-insecure-requests
      // would turn the plain-http test origin into https).
      await B().goto(`${GATEWAY}/health/alive`);
      const statuses = await B().evaluate(async (projectId) => {
        const json = { "content-type": "application/json", accept: "application/json" };
        const post = await fetch("/v1/projects", { method: "POST", headers: json, body: '{"name":"nope"}' });
        const del = await fetch(`/v1/projects/${projectId}`, { method: "DELETE", headers: json });
        return [post.status, del.status];
      }, id);
      expect(statuses).toEqual([403, 403]);
    });

    let secret = "";
    let used = 0;
    await step("TOTP enrolment in settings, then a login that asks for the second factor", A, async () => {
      await A().goto(`${WEB}/auth/settings`);
      await A().waitForURL((u) => at(WEB, "/auth/settings")(u) && u.searchParams.has("flow"));
      secret = ((await A().getByTestId("totp_secret_key").textContent()) ?? "").trim();
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      await snap(A(), "settings-totp");
      // Enrol with the previous 30 s window's code (Kratos accepts one step of clock
      // skew, as authenticator apps need), so the login below can use the current
      // window's code at once instead of waiting for a code not yet used.
      used = totpCounter() - 1;
      await A()
        .getByLabel("Verify code")
        .fill(totp(secret, used * 30_000));
      await A().getByTestId("submit-method-totp").click();
      await A().locator(".flow-messages .message-success").waitFor();

      await A().getByTestId("sign-out").click();
      await A().waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
      await signIn(A(), emailA, PASSWORD_A);
      await A().getByRole("heading", { name: "Two-factor authentication" }).waitFor();
      await snap(A(), "second-factor");
      await A()
        .locator('input[name="totp_code"]')
        .fill(await freshTotp(secret, used));
      await A().getByTestId("submit-method-totp").click();
      await A().waitForURL(at(WEB, "/dashboard"));
      await A().getByText("with two-factor authentication").waitFor();
    });

    await step("recovery by code, then a new password in settings", B, async () => {
      await B().goto(`${WEB}/dashboard`);
      await B().getByTestId("sign-out").click();
      await B().waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
      await B().getByRole("link", { name: "Forgot your password?" }).click();
      await B().waitForURL((u) => at(WEB, "/auth/recovery")(u) && u.searchParams.has("flow"));
      await B().getByLabel("Email", { exact: true }).fill(emailB);
      const since = new Date(Date.now() - 1_000);
      await B().getByTestId("submit-method-code").click();
      const { code } = await waitForCode(MAIL, emailB, { since, subject: /recover/i });
      await B().getByLabel(/code/i).fill(code);
      await snap(B(), "recovery-code");
      await B().getByTestId("submit-method-code").click();
      await B().waitForURL(at(WEB, "/auth/settings"));
      await B().locator('[data-group="password"] input[name="password"]').fill(PASSWORD_B2);
      await B().getByTestId("submit-method-password").click();
      await B().locator(".flow-messages .message-success").waitFor();
      await snap(B(), "password-changed");
      // The new password works; the old one does not.
      await B().getByTestId("sign-out").click();
      await B().waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
      await signIn(B(), emailB, PASSWORD_B);
      await B().locator(".message-error").first().waitFor();
      await signIn(B(), emailB, PASSWORD_B2);
      await B().waitForURL(at(WEB, "/dashboard"));
    });

    await step("logout: the API answers 401 and protected pages go to the login", A, async () => {
      const cookie = await sessionCookie(a.ctx);
      expect(cookie, "signed in before logout").toBeDefined();
      expect(await apiStatus("/v1/me", cookie)).toBe(200);
      await A().goto(`${WEB}/dashboard`);
      await A().getByTestId("sign-out").click();
      await A().waitForURL((u) => at(WEB, "/auth/login")(u) && u.searchParams.has("flow"));
      expect(await sessionCookie(a.ctx), "the browser's cookie is cleared").toBeUndefined();
      // The old cookie is revoked: the gateway follows the auth-service's invalidation
      // channel, so this is immediate; allow a few seconds for the pub/sub hop.
      const deadline = Date.now() + 10_000;
      let status = await apiStatus("/v1/me", cookie);
      while (status !== 401 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = await apiStatus("/v1/me", cookie);
      }
      expect(status).toBe(401);
      await A().goto(`${WEB}/dashboard`);
      await A().waitForURL((u) => at(WEB, "/auth/login")(u));
      const back = new URL(A().url()).searchParams;
      expect(back.has("flow") || back.get("return_to")?.endsWith("/dashboard")).toBe(true);
      await A().goto(`${WEB}/team`);
      await A().waitForURL((u) => at(WEB, "/auth/login")(u));
      // Signed out, the app's root is the marketing site.
      await A().goto(`${WEB}/`);
      await A().waitForURL(at(MARKETING, "/"));
    });

    await a.ctx.close();
    await b.ctx.close();
    expect(readdirSync(OUT).filter((f) => f.endsWith("-FAILED.png"))).toEqual([]);
  });
});

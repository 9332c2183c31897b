// Passwordless sign-up and sign-in by a one-time code sent by email (Kratos' `code`
// method with passwordless_enabled), in Chromium: the code read from the mail catcher,
// "Resend code", the token such a session mints, and the gateway's limit on code
// attempts, counted like password attempts. Screenshots under test-results/email-code/.
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { listMail, waitForCode } from "../../tools/mailcatcher/client.ts";
import { launchChromium } from "../support/chromium.ts";
import { claimsOf as journeyClaims } from "../support/web-journey.ts";

const OUT = resolve(import.meta.dirname, "../../test-results/email-code");
const env = inject("stack");
const need = (k: string): string => {
  const v = env[k];
  if (!v) throw new Error(`the test stack did not provide ${k}`);
  return v;
};
const WEB = need("WEB_URL");
const MAIL = need("MAIL_URL");
const AUTH = need("AUTH_SERVICE_URL");
const KRATOS_ADMIN = need("KRATOS_ADMIN_URL");
const run = Date.now().toString(36);

let browser: Browser;

async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  return { ctx, page };
}

const onApp = (path: string) => (u: URL) => u.origin === new URL(WEB).origin && u.pathname === path;
const shot = (page: Page, name: string) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
const since = () => new Date(Date.now() - 1_000);

async function createPasswordless(email: string): Promise<string> {
  const r = await fetch(`${KRATOS_ADMIN}/admin/identities`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ schema_id: "person", traits: { email, name: { first: "Code", last: "User" } } }),
  });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

/** The login page, the address typed, "Send sign in code": the code step. */
async function askForCode(page: Page, email: string): Promise<Date> {
  await page.goto(`${WEB}/auth/login`);
  await page.waitForURL((u) => onApp("/auth/login")(u) && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  const t = since();
  await page.getByTestId("submit-method-code").click();
  await page.locator('input[name="code"]').waitFor();
  return t;
}

const claimsOf = (ctx: BrowserContext) => journeyClaims(ctx, WEB, AUTH);

describe("the product's code emails (kratos-config/courier-templates)", () => {
  const dir = resolve(import.meta.dirname, "../../kratos-config/courier-templates");
  const templates = ["login_code", "registration_code", "verification_code", "recovery_code"];

  it("each has a subject, an HTML and a text body naming the product, the code and its real lifespan", () => {
    const yml = parse(readFileSync(resolve(dir, "../kratos.yml"), "utf8")) as {
      selfservice: { methods: { code: { config: { lifespan: string } } } };
    };
    const minutes = /^(\d+)m$/.exec(yml.selfservice.methods.code.config.lifespan)?.[1];
    expect(minutes, "code lifespan in minutes").toBeDefined();
    expect(readdirSync(dir).sort()).toEqual([...templates].sort());
    for (const t of templates) {
      const read = (f: string) => readFileSync(resolve(dir, t, "valid", f), "utf8");
      expect(read("email.subject.gotmpl"), t).toMatch(/Gatehouse/);
      for (const body of [read("email.body.gotmpl"), read("email.body.plaintext.gotmpl")]) {
        expect(body, t).toMatch(/Gatehouse/);
        expect(body, t).toMatch(/\{\{ \.(Login|Registration|Verification|Recovery)Code \}\}/);
        expect(body, t).toContain(`expires in ${minutes} minutes`);
      }
    }
  });
});

describe("sign-in by email code, in Chromium", () => {
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium(need("GATEHOUSE_DOMAIN"));
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("signs up without a password: the code from the mail verifies the address too", { timeout: 120_000 }, async () => {
    const email = `code-signup-${run}@example.org`;
    const { ctx, page } = await newPage();
    await page.goto(`${WEB}/auth/registration`);
    await page.waitForURL((u) => onApp("/auth/registration")(u) && u.searchParams.has("flow"));
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("First name").fill("Ada");
    await page.getByLabel("Last name").fill("Code");
    await page.getByTestId("submit-method-profile").click();
    // Second step: a password, or a code by email.
    const t = since();
    await page.getByTestId("submit-method-code").click();
    await page.locator('input[name="code"]').waitFor();
    await shot(page, "01-signup-code-sent");
    const { code, message } = await waitForCode(MAIL, email, { since: t });
    expect(message.subject).toBe("Your Gatehouse sign-up code");
    await page.locator('input[name="code"]').fill(code);
    await page.getByTestId("submit-method-code").click();
    await page.waitForURL((u) => u.origin === new URL(WEB).origin && !u.pathname.startsWith("/auth/registration"));
    const claims = await claimsOf(ctx);
    expect(claims).toMatchObject({ email, aal: "aal1", email_verified: true });
    expect(claims.amr).toEqual(["code"]);
    await ctx.close();
  });

  it("signs in with the code; 'Resend code' sends a new one, which works", { timeout: 120_000 }, async () => {
    const email = `code-signin-${run}@example.org`;
    const id = await createPasswordless(email);
    const { ctx, page } = await newPage();
    const t1 = await askForCode(page, email);
    const first = await waitForCode(MAIL, email, { since: t1 });
    await shot(page, "02-signin-code-sent");
    const t2 = since();
    await page.getByTestId("submit-resend-code").click();
    await page.locator('input[name="code"]').waitFor();
    const { code, message } = await waitForCode(MAIL, email, { since: t2, except: [first.message] });
    expect((await listMail(MAIL, email)).length).toBe(2);
    // The product's own template (kratos-config/courier-templates): name, code, expiry.
    expect(message.subject).toBe("Your Gatehouse sign-in code");
    expect(message.html).toMatch(new RegExp(`<span data-code[^>]*>${code}</span>`));
    expect(message.html).toContain("This code expires in 15 minutes");
    expect(message.text).toContain("This code expires in 15 minutes");
    await page.locator('input[name="code"]').fill(code);
    await page.getByTestId("submit-method-code").click();
    await page.waitForURL((u) => u.origin === new URL(WEB).origin && !u.pathname.startsWith("/auth/"));
    const claims = await claimsOf(ctx);
    expect(claims.sub).toBe(id);
    expect(claims.amr).toEqual(["code"]);
    expect(claims.aal).toBe("aal1");
    await ctx.close();
  });

  it("wrong codes count like wrong passwords: the gateway locks the account's sign-in", {
    timeout: 120_000,
  }, async () => {
    const email = `code-guess-${run}@example.org`;
    await createPasswordless(email);
    const { ctx, page } = await newPage();
    const t = await askForCode(page, email);
    const { code } = await waitForCode(MAIL, email, { since: t });
    const wrong = code === "000000" ? "111111" : "000000";
    // Asking for the code checked no secret, so it counts nothing (only as a mail attempt,
    // scope login_code); five wrong codes make BRUTE_FORCE_MAX_FAILURES (5).
    for (let i = 0; i < 5; i++) {
      await page.locator('input[name="code"]').fill(wrong);
      await page.getByTestId("submit-method-code").click();
      await page.locator(".message-error").first().waitFor();
    }
    // Locked: even the right code is refused, and the page says to wait.
    await page.locator('input[name="code"]').fill(code);
    await page.getByTestId("submit-method-code").click();
    await page.getByTestId("throttled").waitFor();
    await shot(page, "03-code-attempts-locked");
    expect(await page.getByTestId("throttled").textContent()).toMatch(/too many attempts/i);
    expect((await ctx.cookies(WEB)).some((c) => c.name === "ory_kratos_session")).toBe(false);
    await ctx.close();
  });
});

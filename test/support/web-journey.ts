// What the product's Chromium journeys (test/journey/product.test.ts, keyboard.test.ts)
// share: the stack's URLs, a browser page as they use it, axe-core's serious and
// critical findings on a page, registration and sign-in through the app's own forms,
// a Kratos identity's id by email, and the claims of the token a browser's session gets.
import { createRequire } from "node:module";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { inject } from "vitest";

/** A value the test stack provides (its URLs, its domain); missing is a broken harness. */
export function need(key: string): string {
  const v = inject("stack")[key];
  if (!v) throw new Error(`the test stack did not provide ${key}`);
  return v;
}

/** A fresh context and page: a desktop window, the clipboard allowed, patient timeouts. */
export async function journeyPage(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    locale: "en-US",
    permissions: ["clipboard-read", "clipboard-write"],
    ...options,
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  return { ctx, page };
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe-core's global, injected above
    const axe = (window as any).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return (r.violations as { id: string; impact: string; nodes: { target: string[] }[] }[]).map((v) => ({
      id: v.id,
      impact: v.impact,
      where: v.nodes.map((n) => n.target.join(" ")).slice(0, 3),
    }));
  });
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id} at ${v.where.join(", ")}`);
}

/** A URL predicate: `path` on the app's origin. */
export const at = (web: string, path: string) => (u: URL) => u.origin === new URL(web).origin && u.pathname === path;

export async function register(web: string, page: Page, email: string, first: string, password: string) {
  await page.goto(`${web}/auth/registration`);
  await page.waitForURL((u) => at(web, "/auth/registration")(u) && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("First name").fill(first);
  await page.getByLabel("Last name").fill("Tester");
  await page.getByTestId("submit-method-profile").click();
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("submit-method-password").click();
}

export async function signIn(web: string, page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${web}/auth/login`);
  await page.waitForURL((u) => at(web, "/auth/login")(u) && u.searchParams.has("flow"));
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("submit-method-password").click();
}

export async function identityId(kratosAdmin: string, email: string): Promise<string> {
  const r = await fetch(`${kratosAdmin}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`);
  const list = (await r.json()) as { id: string }[];
  const id = list[0]?.id;
  if (!id) throw new Error(`no identity for ${email}`);
  return id;
}

/** The claims of the token the auth-service mints for the browser context's Kratos session. */
export async function claimsOf(ctx: BrowserContext, web: string, auth: string): Promise<Record<string, unknown>> {
  const c = (await ctx.cookies(web)).find((x) => x.name === "ory_kratos_session");
  if (!c) throw new Error("no session cookie");
  const r = await fetch(`${auth}/v1/token`, {
    method: "POST",
    headers: { cookie: `${c.name}=${c.value}`, "content-type": "application/json" },
  });
  if (r.status !== 200) throw new Error(`token exchange answered ${r.status}: ${await r.text()}`);
  const { access_token: jwt } = (await r.json()) as { access_token: string };
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
}

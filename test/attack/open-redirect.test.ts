// No return_to sends a browser off the product (security issue, item 5). Kratos reads
// "http:\\evil.example" as a URL with an empty host, fills in its own and redirects
// to a Location browsers read as evil.example; the gateway (and the app) check every
// return_to with the guard's validator before Kratos sees it. Every place that takes
// a return_to is tried with ~2,000 generated payloads (open-redirect-corpus.ts), each
// sent both as a value and as raw query text; every Location a browser would follow
// must stay on the product's hosts, read the way a browser reads it (WHATWG URL).
// Safe targets must still work, so nothing here passes by dropping everything.
import { describe, expect, inject, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";
import { openRedirectPayloads, safeReturnTargets } from "./open-redirect-corpus.ts";

const env = () => inject("stack");
const GATEWAY = () => env().GATEWAY_URL as string;
const WEB = () => env().WEB_URL as string;

function productHosts(): Set<string> {
  const e = env();
  return new Set([e.WEB_URL, e.MARKETING_URL, e.GATEWAY_URL, e.API_URL].map((u) => new URL(u as string).host));
}

/** Where a browser goes with this Location, or undefined when it goes nowhere (no Location). */
function offProduct(location: string | null, base: string): string | undefined {
  if (location === null) return undefined;
  let u: URL;
  try {
    u = new URL(location, base);
  } catch {
    return undefined; // a browser does not follow what it cannot parse
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || !productHosts().has(u.host)) return u.href;
  // A redirect to a Kratos flow start carries the return_to on to where it will lead.
  const next = u.searchParams.get("return_to");
  return next === null ? undefined : offProduct(next, u.href);
}

/** The payload as a query value (encoded), and as raw query text (only what would end the query escaped). */
function queryForms(payload: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const raw = payload.replace(/[#&\s\u0000-\u001f\u007f-\uffff]/g, (c) => encodeURIComponent(c));
  return [encodeURIComponent(payload), raw];
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function signedInBrowser(): Promise<Browser> {
  const email = uniqueEmail("redirect");
  expect((await registerApi(stack(), { email })).status).toBe(200);
  const b = new Browser();
  const start = await b.request(`${GATEWAY()}/self-service/login/browser`, { headers: { accept: "application/json" } });
  const flow = start.json<{ ui: { action: string; nodes: { attributes: { name?: string; value?: unknown } }[] } }>();
  const csrf = flow.ui.nodes.find((n) => n.attributes.name === "csrf_token")?.attributes.value;
  const r = await b.request(flow.ui.action, {
    json: { method: "password", identifier: email, password: PASSWORD, csrf_token: csrf },
  });
  expect(r.status).toBe(200);
  return b;
}

const payloads = () => openRedirectPayloads(new URL(WEB()).host);

describe("open redirects through return_to", () => {
  it("signed in, Kratos' browser flows redirect at once: never off the product (gateway passthrough)", {
    timeout: 180_000,
  }, async () => {
    const b = await signedInBrowser();
    const cookie = await b.jar.getCookieString(GATEWAY());
    const internal = env().GATEWAY_INTERNAL_URL as string;
    const host = new URL(GATEWAY()).host;
    const offenders: string[] = [];
    // Every payload at the login (both query forms), a third of them at registration.
    const cases = payloads().flatMap((p, i) =>
      (i % 3 === 0 ? ["login", "registration"] : ["login"]).flatMap((flow) => queryForms(p).map((q) => ({ flow, q }))),
    );
    expect(cases.length).toBeGreaterThan(4_000);
    await inParallel(cases, 16, async ({ flow, q }) => {
      const r = await fetch(`${internal}/self-service/${flow}/browser?return_to=${q}`, {
        headers: { cookie, host },
        redirect: "manual",
      });
      await r.body?.cancel();
      const off = offProduct(r.headers.get("location"), GATEWAY());
      if (off !== undefined) offenders.push(`${flow} ${q} → ${off}`);
    });
    expect(offenders.slice(0, 20)).toEqual([]);
    // A safe target still works.
    for (const target of safeReturnTargets(WEB())) {
      const r = await b.request(`${GATEWAY()}/self-service/login/browser?return_to=${encodeURIComponent(target)}`);
      expect(r.headers.get("location")).toBe(target);
    }
  });

  it("a new flow of every kind keeps no unsafe return_to, and logout links carry none", {
    timeout: 180_000,
  }, async () => {
    const b = await signedInBrowser();
    const anonymous = new Browser();
    const sample = payloads().filter((_, i) => i % 15 === 0);
    const offenders: string[] = [];
    const kinds = ["login", "registration", "recovery", "verification"] as const;
    await inParallel(
      sample.flatMap((p) => queryForms(p)),
      12,
      async (q) => {
        for (const kind of kinds) {
          const r = await anonymous.request(`${GATEWAY()}/self-service/${kind}/browser?return_to=${q}`, {
            headers: { accept: "application/json" },
          });
          const flow = r.status === 200 ? r.json<{ return_to?: string }>() : {};
          const off = offProduct(flow.return_to ?? null, GATEWAY());
          if (off !== undefined) offenders.push(`${kind} ${q} → ${off}`);
        }
        const settings = await b.request(`${GATEWAY()}/self-service/settings/browser?return_to=${q}`, {
          headers: { accept: "application/json" },
        });
        const off = offProduct(settings.json<{ return_to?: string }>().return_to ?? null, GATEWAY());
        if (off !== undefined) offenders.push(`settings ${q} → ${off}`);
        const logout = await b.request(`${GATEWAY()}/self-service/logout/browser?return_to=${q}`, {
          headers: { accept: "application/json" },
        });
        const link = logout.status === 200 ? logout.json<{ logout_url?: string }>().logout_url : undefined;
        const offLogout = offProduct(link ?? null, GATEWAY());
        if (offLogout !== undefined) offenders.push(`logout ${q} → ${offLogout}`);
      },
    );
    expect(offenders.slice(0, 20)).toEqual([]);
    const safe = safeReturnTargets(WEB())[0] as string;
    const r = await anonymous.request(`${GATEWAY()}/self-service/login/browser?return_to=${encodeURIComponent(safe)}`, {
      headers: { accept: "application/json" },
    });
    expect(r.json<{ return_to?: string }>().return_to).toBe(safe);
  });

  it("the app's own sign-in pages pass no unsafe return_to on, signed in or not", { timeout: 180_000 }, async () => {
    const signedIn = await signedInBrowser();
    const anonymous = new Browser();
    const sample = payloads().filter((_, i) => i % 12 === 0);
    const offenders: string[] = [];
    await inParallel(
      sample.flatMap((p) => queryForms(p)),
      8,
      async (q) => {
        for (const [who, b] of [
          ["anonymous", anonymous],
          ["signed in", signedIn],
        ] as const) {
          for (const page of ["login", "registration"]) {
            const url = `${WEB()}/auth/${page}?return_to=${q}`;
            const r = await b.request(url);
            const off = offProduct(r.headers.get("location"), url);
            if (off !== undefined) offenders.push(`${who} /auth/${page} ${q} → ${off}`);
          }
        }
      },
    );
    expect(offenders.slice(0, 20)).toEqual([]);
    const safe = safeReturnTargets(WEB())[0] as string;
    const r = await signedIn.request(`${WEB()}/auth/login?return_to=${encodeURIComponent(safe)}`);
    expect(r.headers.get("location")).toBe(safe);
  });
});

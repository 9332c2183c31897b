// One enforcement core, proven identical at every entry point: the conformance table
// (cases.ts) run against the gateway's proxied routes, the Express middleware, the
// guard in front of http-proxy-middleware and the Next.js middleware entry
// (runners.ts), each on the real test stack (auth-service, Kratos, Redis) with real
// users. Every entry point must give every row the same answer: the same status and
// error code in the same refusal form, the same login redirect, and for an allowed
// request the same caller passed on, with the same headers added and stripped.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, joinOrg, newUser } from "../../apps/auth-service/test/support.ts";
import { Browser } from "../support/browser.ts";
import { PASSWORD, stack, startBrowserFlow, submitBrowserFlow } from "../support/kratos.ts";
import { CASES, type Case, COOKIE, CREDENTIALS, caseName, type Person, type World } from "./cases.ts";
import { expressRunner, gatewayRunner, nextRunner, PATHS, proxyRunner, type Runner, type Seen } from "./runners.ts";

const env = inject("stack");
const domain = env.GATEHOUSE_DOMAIN as string;
const RUNNERS: Runner[] = [
  gatewayRunner(domain),
  expressRunner(domain, env),
  proxyRunner(domain, env),
  nextRunner(domain, env),
];

async function loginCookie(email: string): Promise<string> {
  const b = new Browser();
  const { flow } = await startBrowserFlow(b, stack(), "login");
  const r = await submitBrowserFlow(b, flow, { method: "password", identifier: email, password: PASSWORD });
  if (r.status !== 200) throw new Error(`browser login failed: ${r.status} ${r.text.slice(0, 200)}`);
  const c = await b.cookie(stack().kratosBrowser, COOKIE);
  if (!c) throw new Error("no session cookie after the browser login");
  return c.value;
}

async function person(
  prefix: string,
  role: Person["role"],
  join?: { owner: Person; orgId: string },
  requireMfa = false,
) {
  const u = await newUser(prefix);
  let orgId = join?.orgId;
  if (join) await joinOrg(join.owner, join.orgId, u, role);
  else {
    const r = await call("/v1/onboarding", { token: u.sessionToken, json: { name: `Conformance ${prefix}` } });
    orgId = (r.body.organization as { id: string }).id;
  }
  if (requireMfa) {
    const body = { plan: "enterprise", require_mfa: true };
    const r = await call(`/v1/organizations/${orgId}`, { method: "PATCH", token: u.sessionToken, json: body });
    if (r.status !== 200) throw new Error(`require_mfa failed: ${r.status} ${r.text}`);
  }
  const cookie = await loginCookie(u.email);
  const minted = await call("/v1/token", { headers: { cookie: `${COOKIE}=${cookie}` }, json: {} });
  if (minted.status !== 200) throw new Error(`token exchange failed: ${minted.status} ${minted.text}`);
  const p: Person = { ...u, role, cookie, jwt: minted.body.access_token as string };
  return { p, orgId: orgId as string };
}

let world: World;

beforeAll(async () => {
  const { p: owner, orgId } = await person("cf-owner", "owner");
  const { p: member } = await person("cf-member", "member", { owner, orgId });
  const { p: mfa } = await person("cf-mfa", "owner", undefined, true);
  world = { owner, member, mfa, marker: `spoof${randomUUID().slice(0, 8)}` };
  for (const r of RUNNERS) await r.start();
}, 180_000);

afterAll(async () => {
  for (const r of RUNNERS) await r.stop();
});

const API = [["Accept", "application/json"]] as const;
const PAGE = [
  ["Accept", "text/html,application/xhtml+xml"],
  ["Sec-Fetch-Mode", "navigate"],
] as const;

const jwtSubject = (authorization: string | undefined) => {
  const payload = authorization?.match(/^Bearer [^.]+\.([^.]+)\./)?.[1];
  return payload ? (JSON.parse(Buffer.from(payload, "base64url").toString()) as { sub?: string }).sub : undefined;
};

/** Everything that differs from the row's expectation, in words. */
function problems(r: Runner, c: Case, requestId: string, seen: Seen): string[] {
  const out: string[] = [];
  const e = c.expect;
  const h = seen.headers;
  if ("allowed" in e) {
    if (seen.status !== 200) return [`answered ${seen.status} ${seen.body.slice(0, 200)}, expected to be let through`];
    const down = seen.downstream ?? {};
    const who = e.allowed === "anonymous" ? undefined : world[e.allowed];
    if (who === undefined) {
      if (seen.identity) out.push(`passed on as ${JSON.stringify(seen.identity)}, expected nobody`);
    } else if (
      seen.identity?.subject !== who.identityId ||
      seen.identity.role !== who.role ||
      seen.identity.email !== who.email
    )
      out.push(`passed on as ${JSON.stringify(seen.identity)}, expected the ${e.allowed}`);
    // Stripped everywhere: what the client claimed about itself.
    if (JSON.stringify(down).includes(world.marker)) out.push("a made-up identity value reached the code behind");
    for (const name of ["remote-user", "x_user_email"])
      if (down[name] !== undefined) out.push(`the client's ${name} reached the code behind`);
    // Where the principal is handed over as an object, no X-User-Id is left at all.
    if (!r.forwards && down["x-user-id"] !== undefined) out.push("the client's X-User-Id reached the code behind");
    if (r.forwards) {
      // Added by the guard, and the client's credentials stripped.
      if (jwtSubject(down.authorization) !== who?.identityId)
        out.push(`Authorization upstream is ${down.authorization ? "not the caller's JWT" : "missing"}`);
      if (who === undefined && down.authorization !== undefined) out.push("an anonymous request carries Authorization");
      if (who !== undefined && down["x-user-aal"] === undefined) out.push("no X-User-Aal");
      if (down["x-request-id"] !== requestId) out.push(`X-Request-Id upstream ${down["x-request-id"]}`);
      if ((down.cookie ?? "").includes(COOKIE)) out.push("the Kratos cookie went on");
      if (c.credential.includes("another cookie") && down.cookie !== "theme=dark")
        out.push(`the client's other cookie became ${down.cookie}`);
      if (down["x-session-token"] !== undefined) out.push("X-Session-Token went on");
    }
    return out;
  }
  if (h["x-request-id"] !== requestId) out.push(`X-Request-Id ${h["x-request-id"]}, expected the client's`);
  if (!(h["cache-control"] ?? "").includes("no-store")) out.push("cacheable");
  if ("login" in e) {
    if (seen.status !== 303) return [...out, `answered ${seen.status} ${seen.body.slice(0, 200)}, expected a 303`];
    const to = new URL(h.location ?? "", "http://invalid.example");
    if (to.host !== `app.${domain}` || to.pathname !== "/auth/login") out.push(`sent to ${h.location}`);
    if (to.searchParams.get("aal") !== (e.aal ?? null))
      out.push(`aal=${to.searchParams.get("aal")}, expected ${e.aal}`);
    const back = to.searchParams.get("return_to");
    if (back !== `http://${r.host}${PATHS[c.route]}`) out.push(`return_to ${back}`);
    return out;
  }
  if (seen.status !== e.status)
    return [...out, `answered ${seen.status} ${seen.body.slice(0, 200)}, expected ${e.status}`];
  if ("page" in e) {
    if (!(h["content-type"] ?? "").startsWith("text/html")) out.push(`content-type ${h["content-type"]}`);
    if (!seen.body.includes(`data-error="${e.error}"`)) out.push(`a page without data-error="${e.error}"`);
    if (!seen.body.includes(requestId)) out.push("a page without the request id");
    if (!seen.body.includes(`/auth/login?return_to=`)) out.push("a page without the way to sign in again");
    return out;
  }
  if (!(h["content-type"] ?? "").startsWith("application/json")) out.push(`content-type ${h["content-type"]}`);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(seen.body) as Record<string, unknown>;
  } catch {
    out.push(`a body that is not JSON: ${seen.body.slice(0, 100)}`);
  }
  if (body.error !== e.error) out.push(`error ${String(body.error)}, expected ${e.error}`);
  if (body.request_id !== requestId) out.push(`request_id ${String(body.request_id)}`);
  if (typeof body.message !== "string" || body.message === "") out.push("no message");
  if (e.status === 401 && h["www-authenticate"] !== 'Bearer realm="gatehouse"')
    out.push(`WWW-Authenticate ${h["www-authenticate"]}`);
  return out;
}

describe.each(RUNNERS.map((r) => [r.name, r] as const))("conformance: %s", (_name, r) => {
  it.each(CASES.map((c) => [caseName(c), c] as const))("%s", async (_case, c) => {
    const requestId = `cf-${randomUUID()}`;
    const seen = await r.send({
      method: "GET",
      path: PATHS[c.route],
      headers: [
        ["Host", r.host],
        ["X-Request-Id", requestId],
        ...(c.page ? PAGE : API),
        ...(CREDENTIALS[c.credential]?.(world) ?? []),
      ],
    });
    expect(problems(r, c, requestId, seen)).toEqual([]);
  });
});

// Rules (roles, permissions, organization, aal2) and the browser-vs-API split,
// against real users of the real stack: an owner, an admin and a member of one
// organization, and a user without one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuard, type Decision, type Guard } from "../src/index.ts";
import { type StubAuthService, startStubAuthService } from "./stub-auth-service.ts";
import {
  addMember,
  BROWSER_NAV,
  exchangeToken,
  newUser,
  onboard,
  req,
  stackEnv,
  stackGuardOptions,
  type TestUser,
} from "./support.ts";

const JSON_ACCEPT = { accept: "application/json" };

describe("authorization rules (real stack)", () => {
  let guard: Guard;
  let owner: TestUser;
  let admin: TestUser;
  let member: TestUser;
  let loner: TestUser;
  let orgId: string;
  let page: string;
  beforeAll(async () => {
    guard = createGuard(stackGuardOptions());
    [owner, admin, member, loner] = await Promise.all([
      newUser("owner"),
      newUser("admin"),
      newUser("member"),
      newUser("loner"),
    ]);
    orgId = await onboard(owner, "Rules Inc");
    await addMember(owner, orgId, admin, "admin");
    await addMember(owner, orgId, member, "member");
    page = `http://${stackEnv().appHost}/settings/members`;
  });
  afterAll(async () => {
    await guard.close();
  });

  const as = (user: TestUser, extra: Record<string, string> = JSON_ACCEPT) => ({
    "x-session-token": user.sessionToken,
    ...extra,
  });
  const status = (d: Decision) => (d.kind === "deny" ? d.status : d.kind === "redirect" ? 303 : 200);

  it("roles: the listed roles pass, others get 403 (no implied hierarchy)", async () => {
    const rule = { roles: ["admin"] };
    expect(status(await guard.check(req(page, as(admin)), rule))).toBe(200);
    const denied = await guard.check(req(page, as(member)), rule);
    expect(denied).toMatchObject({ kind: "deny", status: 403, error: "forbidden" });
    expect(status(await guard.check(req(page, as(owner)), rule))).toBe(403);
    expect(status(await guard.check(req(page, as(owner)), { roles: ["owner", "admin"] }))).toBe(200);
    expect(status(await guard.check(req(page, as(loner)), rule))).toBe(403);
  });

  it("a browser lacking the role gets 403 too, not a login redirect: a page with the way on", async () => {
    const browser = await guard.check(req(page, as(member, BROWSER_NAV)), { roles: ["admin"] });
    expect(browser).toMatchObject({ kind: "deny", status: 403, error: "forbidden" });
    // Answered as a page (enforce/page.ts): sign in again (back here afterwards) or go to the app.
    const links = (browser as { page?: { signIn?: string; home?: string } }).page;
    expect(new URL(links?.signIn ?? "").searchParams.get("return_to")).toBe(page);
    expect(links?.home).toBeTruthy();
    // An API caller gets the JSON: no page.
    expect(await guard.check(req(page, as(member)), { roles: ["admin"] })).not.toHaveProperty("page");
  });

  it("permissions: every listed permission is required", async () => {
    expect(status(await guard.check(req(page, as(admin)), { permissions: ["members:write"] }))).toBe(200);
    expect(status(await guard.check(req(page, as(member)), { permissions: ["members:write"] }))).toBe(403);
    expect(status(await guard.check(req(page, as(owner)), { permissions: ["members:write", "billing:write"] }))).toBe(
      200,
    );
    expect(status(await guard.check(req(page, as(admin)), { permissions: ["members:write", "billing:write"] }))).toBe(
      403,
    );
  });

  it("organization: some organization, or that one", async () => {
    expect(status(await guard.check(req(page, as(member)), { organization: true }))).toBe(200);
    expect(status(await guard.check(req(page, as(loner)), { organization: true }))).toBe(403);
    expect(status(await guard.check(req(page, as(member)), { organization: orgId }))).toBe(200);
    const otherOrg = await onboard(loner, "Elsewhere");
    // Session path: the auth-service refuses a token for an organization the caller is not in.
    expect(await guard.check(req(page, as(member)), { organization: otherOrg })).toMatchObject({
      kind: "deny",
      status: 403,
      error: "forbidden",
    });
    // JWT path: compared against the token's org claim.
    const token = await exchangeToken(member);
    const bearer = { authorization: `Bearer ${token}`, ...JSON_ACCEPT };
    expect(status(await guard.check(req(page, bearer), { organization: orgId }))).toBe(200);
    expect(status(await guard.check(req(page, bearer), { organization: otherOrg }))).toBe(403);
  });

  it("aal2: an aal1 session gets 403 as an API caller and the second-factor login as a browser", async () => {
    const api = await guard.check(req(page, as(admin)), { aal: "aal2" });
    expect(api).toMatchObject({ kind: "deny", status: 403, error: "aal2_required" });
    const browser = await guard.check(req(page, as(admin, BROWSER_NAV)), { aal: "aal2" });
    expect(browser.kind).toBe("redirect");
    const location = new URL((browser as { location: string }).location);
    expect(location.pathname).toBe("/self-service/login/browser");
    expect(location.searchParams.get("aal")).toBe("aal2");
    expect(location.searchParams.get("return_to")).toBe(page);
  });

  it("role is checked before aal: no pointless second-factor trip for somebody who lacks the role", async () => {
    expect(await guard.check(req(page, as(member, BROWSER_NAV)), { roles: ["admin"], aal: "aal2" })).toMatchObject({
      kind: "deny",
      status: 403,
      error: "forbidden",
    });
  });

  it("browser GET without a session → 303 to login with return_to; XHR, JSON and non-GET → 401 JSON", async () => {
    const browser = await guard.check(req(page, BROWSER_NAV));
    expect(browser).toEqual({
      kind: "redirect",
      status: 303,
      location: `${stackEnv().kratosBrowser}/self-service/login/browser?return_to=${encodeURIComponent(page)}`,
    });
    expect((await guard.check(req(page, BROWSER_NAV, "HEAD"))).kind).toBe("redirect");
    const apiLike: [string, Record<string, string>, string][] = [
      ["XHR", { ...BROWSER_NAV, "x-requested-with": "XMLHttpRequest" }, "GET"],
      ["JSON", { accept: "application/json" }, "GET"],
      ["fetch()", { accept: "text/html", "sec-fetch-mode": "cors" }, "GET"],
      ["POST form", BROWSER_NAV, "POST"],
      ["DELETE", BROWSER_NAV, "DELETE"],
      ["no Accept", {}, "GET"],
    ];
    for (const [name, headers, method] of apiLike) {
      const d = await guard.check(req(page, headers, method));
      expect(d, name).toMatchObject({ kind: "deny", status: 401, error: "unauthenticated" });
    }
  });

  it("anonymous routes: allowed without a principal, with one when the credential works", async () => {
    const rule = { anonymous: true };
    expect(await guard.check(req(page, BROWSER_NAV), rule)).toEqual({ kind: "allow", headers: {} });
    expect(await guard.check(req(page, { "x-session-token": "ory_st_bogus" }), rule)).toEqual({
      kind: "allow",
      headers: {},
    });
    const d = await guard.check(req(page, as(member)), rule);
    expect(d.kind === "allow" && d.principal?.subject).toBe(member.identityId);
  });

  it("a route can restrict the accepted credential kinds", async () => {
    const token = await exchangeToken(member);
    expect(
      status(
        await guard.check(req(page, { authorization: `Bearer ${token}`, ...JSON_ACCEPT }), { accept: ["session"] }),
      ),
    ).toBe(401);
    expect(status(await guard.check(req(page, as(member)), { accept: ["jwt"] }))).toBe(401);
    expect(status(await guard.check(req(page, as(member)), { accept: ["session"] }))).toBe(200);
  });

  it("invalid rules and options fail loudly, naming the field", async () => {
    await expect(guard.check(req(page, as(member)), { roles: "admin" } as never)).rejects.toThrow(/rule\.roles/);
    await expect(guard.check(req(page, as(member)), { role: ["admin"] } as never)).rejects.toThrow(/rule\.role/);
    await expect(guard.check(req(page, as(member)), { aal: "aal3" } as never)).rejects.toThrow(/rule\.aal/);
    expect(() => createGuard({ ...stackGuardOptions(), timeoutMs: 60_000 })).toThrow(/options\.timeoutMs/);
    expect(() => createGuard({ ...stackGuardOptions(), audience: "" })).toThrow(/options\.audience/);
    expect(() => createGuard({ ...stackGuardOptions(), authServiceUrl: "ftp://x" })).toThrow(/options\.authServiceUrl/);
    expect(() => createGuard({ ...stackGuardOptions(), login: { url: "/login", allowedReturnHosts: ["a"] } })).toThrow(
      /options\.login\.url/,
    );
    expect(() => createGuard({ ...stackGuardOptions(), acept: ["jwt"] } as never)).toThrow(/options\.acept/);
  });
});

describe("aal2 satisfied (STUB issuer: the real stack has no second factor enrolled)", () => {
  let stub: StubAuthService;
  let guard: Guard;
  beforeAll(async () => {
    stub = await startStubAuthService();
    guard = createGuard({ authServiceUrl: stub.url, audience: "gatehouse" });
  });
  afterAll(async () => {
    await guard.close();
    await stub.close();
  });

  it("an aal2 token passes an aal2 rule and says so in X-User-Aal", async () => {
    const token = stub.mint({ aal: "aal2", amr: ["password", "totp"] });
    const d = await guard.check(req("http://app.example/x", { authorization: `Bearer ${token}` }), { aal: "aal2" });
    expect(d.kind).toBe("allow");
    expect(d.kind === "allow" && d.headers["x-user-aal"]).toBe("aal2");
  });

  it("the auth-service saying aal2_required (Kratos requires aal2) is a 403, not a logout", async () => {
    stub.mode = "403-aal";
    try {
      const d = await guard.check(req("http://app.example/x", { "x-session-token": "ory_st_needs_aal2" }));
      expect(d).toMatchObject({ kind: "deny", status: 403, error: "aal2_required" });
    } finally {
      stub.mode = "ok";
    }
  });
});

// Logout means logout on every entry point, the JWT path included: the auth-service
// pushes the revocation over Redis and every instance refuses the session's tokens
// from then on, with no network call per request. Two gateway instances and the
// example API (Express guard) hold the same token; a third guard that was away when
// the logout happened catches up from Redis when it (re)subscribes.
import { createGuard, subscribeInvalidations } from "@gatehouse/guard";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Browser } from "../../../test/support/browser.ts";
import {
  PASSWORD,
  registerApi,
  stack,
  startBrowserFlow,
  submitBrowserFlow,
  uniqueEmail,
  whoamiByCookie,
} from "../../../test/support/kratos.ts";
import { eventually } from "../../../test/support/private-services.ts";
import { call, newUser, token } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "../../gateway/test/harness.ts";
import { start as startApi } from "../src/main.ts";

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let upstream: Awaited<ReturnType<typeof echoUpstream>>;
let gateways: Gateway[] = [];
let api: Awaited<ReturnType<typeof startApi>>;
const clients: Redis[] = [];

beforeAll(async () => {
  const s = inject("stack");
  upstream = await echoUpstream();
  const routes = routesFile(`
routes:
  - name: jwt
    match: { path: /api/** }
    upstream: ${upstream.url}
    auth: { accept: [jwt] }
`);
  gateways = [await startGateway(routes), await startGateway(routes)];
  api = await startApi({
    API_PORT: "0",
    DATABASE_URL: s.DATABASE_URL,
    AUTH_SERVICE_URL: s.AUTH_SERVICE_URL,
    REDIS_URL: s.REDIS_URL,
  });
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  await api?.stop();
  await upstream?.close();
  for (const c of clients) c.disconnect();
});

const sidOf = (jwt: string): string =>
  (JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as { sid: string }).sid;

const entryPoints = (jwt: string) => [
  ...gateways.map((g, i) => ({
    name: `gateway ${i + 1}`,
    ask: () => fetch(`${g.url}/api/x`, { headers: { authorization: `Bearer ${jwt}` } }),
  })),
  {
    name: "example API",
    ask: () => fetch(`http://127.0.0.1:${api.port}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } }),
  },
];

describe("logout ends the session's JWTs everywhere", () => {
  it("two gateway instances and the Express guard refuse the token once the session is logged out", async () => {
    const u = await newUser("logout-jwt");
    const jwt = await token(u);
    const other = await token(await newUser("logout-bystander"));
    for (const e of entryPoints(jwt)) expect((await e.ask()).status, e.name).toBe(200);

    expect((await call("/v1/logout", { token: u.sessionToken, method: "POST" })).status).toBe(204);

    for (const e of entryPoints(jwt)) {
      // Pub/sub delivers in milliseconds; the poll is bounded.
      const r = await eventually(e.ask, (a) => a.status === 401, 10_000);
      expect(r.status, e.name).toBe(401);
      expect(((await r.json()) as { error: string }).error, e.name).toBe("session_revoked");
    }
    // Only that session: another user's token still works.
    for (const e of entryPoints(other)) expect((await e.ask()).status, e.name).toBe(200);
  });

  it("a logout done at Kratos itself (native app, through the gateway) ends the JWTs too", async () => {
    const r = await registerApi(stack(), { email: uniqueEmail("kratos-logout-api") });
    const sessionToken = r.body.session_token ?? "";
    const exchanged = await call("/v1/token", { token: sessionToken, json: {} });
    const jwt = exchanged.body.access_token as string;
    for (const e of entryPoints(jwt)) expect((await e.ask()).status, e.name).toBe(200);

    const out = await fetch(`${gateways[0]?.url}/self-service/logout/api`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_token: sessionToken }),
    });
    expect(out.status).toBe(204);
    for (const e of entryPoints(jwt)) {
      const refused = await eventually(e.ask, (a) => a.status === 401, 10_000);
      expect(refused.status, e.name).toBe(401);
    }
  });

  it("a logout done at Kratos itself (browser logout URL, through the gateway) ends the JWTs too", async () => {
    const s = stack();
    const b = new Browser();
    const email = uniqueEmail("kratos-logout-browser");
    const { flow } = await startBrowserFlow(b, s, "registration");
    const reg = await submitBrowserFlow(b, flow, {
      method: "password",
      password: PASSWORD,
      traits: { email, name: { first: "Ada", last: "Lovelace" } },
    });
    expect(reg.status).toBe(200);
    const cookie = await b.jar.getCookieString(s.kratosBrowser);
    const exchanged = await fetch(`${inject("stack").AUTH_SERVICE_URL}/v1/token`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: "{}",
    });
    const jwt = ((await exchanged.json()) as { access_token: string }).access_token;
    for (const e of entryPoints(jwt)) expect((await e.ask()).status, e.name).toBe(200);

    const started = await b.request(`${s.kratosBrowser}/self-service/logout/browser`, {
      headers: { accept: "application/json" },
    });
    const { logout_url } = started.json<{ logout_url: string }>();
    const out = await b.request(logout_url);
    expect(out.status).toBe(303);
    expect((await whoamiByCookie(b, s)).status).toBe(401);
    for (const e of entryPoints(jwt)) {
      const refused = await eventually(e.ask, (a) => a.status === 401, 10_000);
      expect(refused.status, e.name).toBe(401);
    }
  });

  it("an instance that was not subscribed during the logout catches up when it subscribes", async () => {
    const s = inject("stack");
    const u = await newUser("logout-late");
    const jwt = await token(u);
    expect((await call("/v1/logout", { token: u.sessionToken, method: "POST" })).status).toBe(204);

    // A guard that starts (or reconnects) only now: the pub/sub message is long gone.
    const url = s.REDIS_URL ?? "";
    const subscriber = new Redis(url);
    const reader = new Redis(url);
    clients.push(subscriber, reader);
    const invalidations = subscribeInvalidations(subscriber, { reader });
    expect(await eventually(async () => invalidations.isRevoked(sidOf(jwt)), Boolean, 10_000)).toBe(true);
    const guard = createGuard({ authServiceUrl: s.AUTH_SERVICE_URL ?? "", audience: "gatehouse", invalidations });
    try {
      const d = await guard.check(
        { method: "GET", url: "http://api.test/x", headers: new Headers({ authorization: `Bearer ${jwt}` }) },
        { accept: ["jwt"] },
      );
      expect(d).toMatchObject({ kind: "deny", status: 401, error: "session_revoked" });
    } finally {
      await guard.close();
    }
  });
});

// Kratos' own database killed: Kratos then answers whoami with 401 for every session,
// valid or not. Passed on, that signed everybody out (auth-service 401, gateway 401, a
// browser 303 to the login page). Here a private Kratos runs on a private Postgres,
// which is killed with -9; a session registered just before, never seen by any
// Gatehouse cache, must get 503 + Retry-After everywhere: the auth-service, the
// gateway (API and browser navigation) and the Express guard (example-api), with no
// redirect and no cookie cleared. And once Kratos is healthy, a 401 is still a 401.
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Running, startAuthService } from "../../apps/auth-service/test/in-process.ts";
import { start as startApi } from "../../apps/example-api/src/main.ts";
import { routesFile, startGateway } from "../../apps/gateway/test/harness.ts";
import { looksLikeKratosSession } from "../../packages/kratos/src/credentials.ts";
import { PASSWORD, uniqueEmail } from "../support/kratos.ts";
import {
  eventually,
  type PrivateKratos,
  type PrivatePostgres,
  privateKratos,
  privatePostgres,
  privateStackConfig,
} from "../support/private-services.ts";

let pg: PrivatePostgres;
let kratos: PrivateKratos;
let auth: Running;
let api: Awaited<ReturnType<typeof startApi>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
const authLog: string[] = [];

beforeAll(async () => {
  const cfg = await privateStackConfig("kratosdb", 30_000);
  pg = await privatePostgres(cfg);
  kratos = await privateKratos(cfg, pg.kratosDsn);
  // The auth-service's own database stays up (a fresh one on the shared test stack):
  // only Kratos' database goes away.
  auth = await startAuthService(
    {
      // On the private stack's ports, so Kratos' webhook reaches it and tokens name it
      // as their issuer (the default issuer the gateway's and example-api's guards expect).
      AUTH_PUBLIC_PORT: String(cfg.ports.authPublic),
      AUTH_ADMIN_PORT: String(cfg.ports.authAdmin),
      TOKEN_ISSUER: `http://127.0.0.1:${cfg.ports.authPublic}`,
      WEBHOOK_SECRET: cfg.secrets.webhook,
      KRATOS_PUBLIC_URL: kratos.publicUrl,
      KRATOS_ADMIN_URL: kratos.adminUrl,
      SESSION_CACHE_TTL_SECONDS: "0",
      LOG_LEVEL: "info",
    },
    { logLines: authLog },
  );
  api = await startApi({ API_PORT: "0", DATABASE_URL: inject("stack").DATABASE_URL, AUTH_SERVICE_URL: auth.url });
  gw = await startGateway(
    routesFile(`
routes:
  - name: api
    match: { path: /v1/** }
    upstream: http://127.0.0.1:${api.port}
    auth: { accept: [session, jwt, api_key] }
`),
    {
      AUTH_SERVICE_URL: auth.url,
      KRATOS_PUBLIC_URL: kratos.publicUrl,
      SESSION_CACHE_TTL_SECONDS: "0",
    },
  );
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await api?.stop();
  await auth?.stop();
  await kratos?.stop();
  await pg?.stop();
});

/** A session token from Kratos' API registration flow. */
async function registerToken(): Promise<string> {
  const flow = (await (await fetch(`${kratos.publicUrl}/self-service/registration/api`)).json()) as { id: string };
  const r = await fetch(`${kratos.publicUrl}/self-service/registration?flow=${flow.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({
      method: "password",
      password: PASSWORD,
      traits: { email: uniqueEmail("kdb"), name: { first: "K", last: "Db" } },
    }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { session_token: string }).session_token;
}

/** A browser session cookie value from Kratos' browser registration flow (SPA style). */
async function registerCookie(): Promise<string> {
  const start = await fetch(`${kratos.publicUrl}/self-service/registration/browser`, {
    headers: { accept: "application/json" },
  });
  const csrfCookie = start.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const flow = (await start.json()) as {
    id: string;
    ui: { nodes: { attributes: { name?: string; value?: string } }[] };
  };
  const csrf = flow.ui.nodes.find((n) => n.attributes.name === "csrf_token")?.attributes.value;
  const r = await fetch(`${kratos.publicUrl}/self-service/registration?flow=${flow.id}`, {
    method: "POST",
    headers: { cookie: csrfCookie, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({
      csrf_token: csrf,
      method: "password",
      password: PASSWORD,
      traits: { email: uniqueEmail("kdb-browser"), name: { first: "K", last: "Db" } },
    }),
  });
  expect(r.status).toBe(200);
  const session = r.headers.getSetCookie().find((c) => c.startsWith("ory_kratos_session="));
  expect(session).toBeDefined();
  return (session ?? "").split(";")[0]?.slice("ory_kratos_session=".length) ?? "";
}

interface Seen {
  status: number;
  retryAfter: string | null;
  location: string | null;
  setCookie: string[];
  body: Record<string, unknown>;
}

/** One request with node:http: fetch would replace Sec-Fetch-Mode (a page load sends "navigate"). */
function ask(url: string, init: { method?: string; headers: Record<string, string> }): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { text: text.slice(0, 200) };
        }
        const h = res.headers;
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: typeof h["retry-after"] === "string" ? h["retry-after"] : null,
          location: typeof h.location === "string" ? h.location : null,
          setCookie: h["set-cookie"] ?? [],
          body,
        });
      });
    });
    req.on("error", reject);
    req.end(init.method === "POST" ? "{}" : undefined);
  });
}

const asToken = (t: string) => ({ "x-session-token": t });
const asCookie = (c: string) => ({ cookie: `theme=dark; ory_kratos_session=${c}` });
const API = { accept: "application/json" };
// A top-level page load, as a browser sends it.
const NAVIGATION = {
  accept: "text/html,application/xhtml+xml",
  "sec-fetch-mode": "navigate",
  "sec-fetch-site": "none",
};

/** Every door a session comes through: the auth-service, the gateway (API, page load), the Express guard. */
function doors(cred: Record<string, string>) {
  return {
    "auth-service POST /v1/token": () =>
      ask(`${auth.url}/v1/token`, { method: "POST", headers: { ...cred, "content-type": "application/json" } }),
    "gateway, API call": () => ask(`${gw.url}/v1/me`, { headers: { ...cred, ...API } }),
    "gateway, browser navigation": () => ask(`${gw.url}/v1/me`, { headers: { ...cred, ...NAVIGATION } }),
    "example-api (Express guard)": () => ask(`http://127.0.0.1:${api.port}/v1/me`, { headers: { ...cred, ...API } }),
  };
}

describe("Kratos' database down: a valid session is 'unavailable', never 'signed out'", () => {
  it("with Kratos healthy, an unknown session is still a 401 and a page load still goes to the login page", async () => {
    const unknown = `ory_st_${randomBytes(16).toString("hex").slice(0, 32)}`;
    expect(looksLikeKratosSession({ kind: "token", value: unknown })).toBe(true);
    for (const [door, go] of Object.entries(doors(asToken(unknown)))) {
      const r = await go();
      if (door === "gateway, browser navigation") {
        expect(r.status, door).toBe(303);
        expect(r.location, door).toMatch(/\/auth\/login/);
      } else {
        expect(r.status, door).toBe(401);
      }
    }
  });

  it("kill -9 of Kratos' Postgres: 503 + Retry-After at every door for a session never seen before; no redirect, no cleared cookie; back to 200 after", async () => {
    const token = await registerToken();
    const cookie = await registerCookie();
    // The shapes Kratos really issues are the ones the readiness check guards.
    expect(looksLikeKratosSession({ kind: "token", value: token })).toBe(true);
    expect(looksLikeKratosSession({ kind: "cookie", value: cookie }), cookie).toBe(true);

    await pg.kill();
    try {
      // The premise: Kratos itself now says 401 for a valid session, and not ready.
      const ready = await eventually(
        async () => (await fetch(`${kratos.adminUrl}/admin/health/ready`)).status,
        (s) => s !== 200,
        20_000,
      );
      expect(ready).not.toBe(200);
      const direct = await fetch(`${kratos.publicUrl}/sessions/whoami`, { headers: asToken(token) });
      expect(direct.status).toBe(401);

      for (const cred of [asToken(token), asCookie(cookie)]) {
        for (const [door, go] of Object.entries(doors(cred))) {
          const what = `${door} with ${Object.keys(cred)[0]}`;
          const r = await go();
          expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(503);
          expect(r.retryAfter, what).toMatch(/^\d+$/);
          expect(r.location, what).toBeNull();
          expect(
            r.setCookie.filter((c) => /ory_kratos_session/i.test(c)),
            what,
          ).toEqual([]);
          expect(r.body, what).toMatchObject({ error: "dependency_unavailable" });
          expect(typeof r.body.request_id, what).toBe("string");
        }
      }
      // The auth-service's readiness names Kratos as what is missing.
      const readiness = await ask(`${auth.admin}/health/ready`, { headers: {} });
      expect(readiness.status).toBe(503);
      expect(readiness.body.checks).toMatchObject({ kratos: false, postgres: true });
    } finally {
      await pg.restart();
    }

    const back = await eventually(
      () => doors(asToken(token))["gateway, API call"](),
      (r) => r.status === 200,
      30_000,
    );
    expect(back.status).toBe(200);
    for (const [door, go] of Object.entries(doors(asCookie(cookie)))) {
      expect((await eventually(go, (r) => r.status === 200, 10_000)).status, door).toBe(200);
    }

    // No error path logged a credential.
    const logs = [...authLog, ...gw.logLines].join("\n");
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(cookie);
  }, 120_000);
});

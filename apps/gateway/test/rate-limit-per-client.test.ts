// The gateway's exchanges carry the end client's address, so the auth-service's rate
// limit counts each client instead of treating the gateway as one client: a client
// guessing session tokens meets 429 (as 429, never as "signed out"), the others do not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startAuthService } from "../../auth-service/test/in-process.ts";
import { newUser } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let auth: Running;
let upstream: Awaited<ReturnType<typeof echoUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  auth = await startAuthService({ RATE_LIMIT_PER_MINUTE: "5" });
  upstream = await echoUpstream();
  gw = await startGateway(
    routesFile(`
routes:
  - name: app
    match: { path: /app/** }
    upstream: ${upstream.url}
    auth: { accept: [session] }
`),
    { AUTH_SERVICE_URL: auth.url, TOKEN_ISSUER: "http://auth.in-process.test" },
  );
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await auth?.stop();
});

const get = (headers: Record<string, string>) => fetch(`${gw.url}/app/x`, { headers });

describe("the auth-service's rate limit behind the gateway", () => {
  it("counts the client guessing tokens, not everyone behind the gateway", async () => {
    const guesses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await get({ "x-session-token": `ory_st_guess${i}`, "x-forwarded-for": "203.0.113.10" });
      guesses.push(r.status);
    }
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);

    const other = await newUser("behind-gw");
    const ok = await get({ "x-session-token": other.sessionToken, "x-forwarded-for": "203.0.113.11" });
    expect(ok.status).toBe(200);
    expect((await get({ "x-session-token": "ory_st_guess9", "x-forwarded-for": "203.0.113.12" })).status).toBe(401);
  });
});

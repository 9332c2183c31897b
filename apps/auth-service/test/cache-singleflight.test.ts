// One cold session asked for by 1,000 requests at once reaches Kratos once: the
// session cache's in-flight map makes every concurrent miss for the same
// credential wait on the same whoami. Kratos is reached through a counting
// proxy, so the count is what Kratos saw, not what the service says it did.
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PASSWORD, stack } from "../../../test/support/kratos.ts";
import { countingProxy } from "../../../tools/stack/counting-proxy.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { newUser } from "./support.ts";

const CONCURRENCY = 1_000;

/** A further session of an existing identity, through the native-app login flow. */
async function login(email: string): Promise<string> {
  const s = stack();
  const flow = (await (await fetch(`${s.kratosPublic}/self-service/login/api`)).json()) as { ui: { action: string } };
  const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ method: "password", identifier: email, password: PASSWORD }),
  });
  const body = (await r.json()) as { session_token?: string };
  if (r.status !== 200 || !body.session_token) throw new Error(`login failed: ${r.status}`);
  return body.session_token;
}

interface Burst {
  whoami: number;
  replies: { status: number; token: string | undefined }[];
}

/** Fires CONCURRENCY exchanges of one session at once, over connections opened beforehand. */
async function burst(url: string, sessionToken: string, proxy: { readonly count: number }): Promise<Burst> {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  try {
    // Open every connection first, so the exchanges start together instead of
    // trickling in behind connection set-up.
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const r = await pool.request({ path: "/health/alive", method: "GET" });
        await r.body.dump();
      }),
    );
    const before = proxy.count;
    const replies = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const r = await pool.request({
          path: "/v1/token",
          method: "POST",
          headers: { "x-session-token": sessionToken, "content-type": "application/json" },
          body: "{}",
        });
        const body = (await r.body.json()) as { access_token?: string };
        return { status: r.statusCode, token: body.access_token };
      }),
    );
    return { whoami: proxy.count - before, replies };
  } finally {
    await pool.close();
  }
}

describe(`session cache single-flight: ${CONCURRENCY} concurrent POST /v1/token for one uncached session`, () => {
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let svc: Running;
  let result: Burst;

  beforeAll(async () => {
    proxy = await countingProxy(stack().kratosPublic, "/sessions/whoami");
    svc = await startAuthService({ KRATOS_PUBLIC_URL: proxy.url, RATE_LIMIT_PER_MINUTE: "1000000" });
    // The service learns the user (record, roles) from a first session; the burst
    // then uses a second, never-seen session of the same user. What is cold is the
    // session, which is what the session cache single-flights.
    const user = await newUser("singleflight");
    const first = await fetch(`${svc.url}/v1/token`, {
      method: "POST",
      headers: { "x-session-token": user.sessionToken, "content-type": "application/json" },
      body: "{}",
    });
    if (first.status !== 200) throw new Error(`first exchange: ${first.status}`);
    const cold = await login(user.email);
    result = await burst(svc.url, cold, proxy);
  });
  afterAll(async () => {
    await svc?.stop();
    await proxy?.close();
  });

  it("Kratos sees exactly one whoami", () => {
    expect(result.whoami).toBe(1);
  });

  it("every request gets a 200 with an access token", () => {
    expect(result.replies.filter((r) => r.status !== 200 || !r.token)).toEqual([]);
    expect(result.replies).toHaveLength(CONCURRENCY);
  });

  // The mint is single-flighted too (src/exchange/exchange.ts): one signature for the burst.
  it("every request gets the same token (one mint for the burst)", () => {
    expect(new Set(result.replies.map((r) => r.token)).size).toBe(1);
  });
});

import { createServer, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerApi, stack, uniqueEmail } from "../support/kratos.ts";

// Until the auth-service runs in the test stack, a tiny receiver on its admin
// port stands in for it, to prove what Kratos sends after registration.
interface Received {
  path: string;
  secret: string | undefined;
  cookie: string | undefined;
  body: Record<string, unknown>;
}
const received: Received[] = [];
let server: ReturnType<typeof createServer>;

beforeAll(async () => {
  const port = Number(stack().env.AUTH_ADMIN_PORT);
  server = createServer((req: IncomingMessage, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", () => {
      received.push({
        path: req.url ?? "",
        secret: req.headers["x-gatehouse-webhook-secret"] as string | undefined,
        cookie: req.headers.cookie,
        body: JSON.parse(raw) as Record<string, unknown>,
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function waitFor<T>(fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting for the webhook");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("after-registration web_hook", () => {
  it("carries the identity and the transient payload (pricing tier), authenticated by the shared secret", async () => {
    const s = stack();
    const email = uniqueEmail("hook");
    const reg = await registerApi(
      s,
      { email, name: { first: "Tier", last: "Pro" } },
      { transientPayload: { tier: "pro" } },
    );
    expect(reg.status).toBe(200);
    const hit = await waitFor(() => received.find((r) => r.body.email === email));
    expect(hit.path).toBe("/v1/webhooks/kratos/registration");
    expect(hit.secret).toBe(s.env.WEBHOOK_SECRET);
    expect(hit.body).toMatchObject({
      identity_id: reg.body.identity?.id,
      email,
      name: { first: "Tier", last: "Pro" },
      transient_payload: { tier: "pro" },
    });
    // The body mapping never forwards request headers (cookies) to the auth-service.
    expect(JSON.stringify(hit.body)).not.toMatch(/cookie|ory_kratos_session/i);
    expect(hit.cookie).toBeUndefined();
  });

  it("sends an empty transient payload when the registration had none", async () => {
    const s = stack();
    const email = uniqueEmail("hook-none");
    expect((await registerApi(s, { email })).status).toBe(200);
    const hit = await waitFor(() => received.find((r) => r.body.email === email));
    expect(hit.body.transient_payload).toEqual({});
  });
});

// POST /v1/token has two front doors (src/http/token.ts): a node:http lane for
// ordinary requests and the Express route for everything else (other spellings of
// the path, compressed bodies, …). A client must not be able to tell them apart:
// same answers, same security and CORS headers, one rate limit.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { stack } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, newUser } from "./support.ts";

// Headers a browser or a proxy acts on; both doors must send them alike.
const COMPARED = [
  "content-type",
  "cache-control",
  "content-security-policy",
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "vary",
  "retry-after",
];

describe("POST /v1/token answers the same through either front door", () => {
  it("valid and invalid requests: same status, error code and headers on /v1/token and /v1/token/", async () => {
    const u = await newUser("lane");
    const s = stack();
    const appOrigin = `http://app.${s.domain}:${Number(s.env.GATEHOUSE_PORT_BASE) + 1}`;
    const cases: [string, Parameters<typeof call>[1]][] = [
      ["session token, empty body", { token: u.sessionToken, json: {} }],
      ["session token, no body", { token: u.sessionToken, method: "POST" }],
      ["allowed origin", { token: u.sessionToken, json: {}, headers: { origin: appOrigin } }],
      ["foreign origin", { token: u.sessionToken, json: {}, headers: { origin: "https://evil.example" } }],
      ["no credential", { json: {} }],
      ["garbage token", { token: "ory_st_garbage", json: {} }],
      ["a JWT instead of a session", { json: {}, headers: { authorization: "Bearer eyJ.eyJ.sig" } }],
      ["invalid JSON", { token: u.sessionToken, body: "{", headers: { "content-type": "application/json" } }],
      ["JSON string", { token: u.sessionToken, body: '"x"', headers: { "content-type": "application/json" } }],
      ["unknown field", { token: u.sessionToken, json: { role: "owner" } }],
      ["organization not a UUID", { token: u.sessionToken, json: { organization_id: "x" } }],
      ["foreign organization", { token: u.sessionToken, json: { organization_id: crypto.randomUUID() } }],
      ["huge body", { token: u.sessionToken, json: { pad: "x".repeat(100_000) } }],
      ["text body", { token: u.sessionToken, body: "hi", headers: { "content-type": "text/plain" } }],
      [
        "charset utf-8",
        { token: u.sessionToken, body: "{}", headers: { "content-type": "application/json; charset=utf-8" } },
      ],
    ];
    for (const [name, init] of cases) {
      const [lane, express] = [await call("/v1/token", init), await call("/v1/token/", init)];
      expect(lane.status, name).toBe(express.status);
      expect(lane.body.error, name).toBe(express.body.error);
      expect(lane.body.message, name).toBe(express.body.message);
      for (const h of COMPARED) expect(lane.headers.get(h), `${name}: ${h}`).toBe(express.headers.get(h));
      expect(lane.headers.get("x-request-id"), name).toMatch(/^[0-9a-f-]{36}$/);
      if (lane.status === 200) {
        expect(lane.body.token_type).toBe("Bearer");
        // The same cached token through both doors: one session, one mint.
        expect(lane.body.access_token, name).toBe(express.body.access_token);
      } else {
        expectErrorShape(lane.body, String(express.body.error));
        expect(lane.body.request_id).toBe(lane.headers.get("x-request-id"));
      }
    }
    // The security headers are really there (not merely equally absent).
    const ok = await call("/v1/token", { token: u.sessionToken, json: {}, headers: { origin: appOrigin } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
    expect(ok.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect(ok.headers.get("access-control-allow-origin")).toBe(appOrigin);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
  });

  it("a compressed body (left to Express) and a query-string organization work as on the lane", async () => {
    const u = await newUser("lanegz");
    const gz = await fetch(`${auth().url}/v1/token`, {
      method: "POST",
      headers: { "x-session-token": u.sessionToken, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(Buffer.from(JSON.stringify({ organization_id: "nope" }))),
    });
    expect(gz.status).toBe(400);
    expect(((await gz.json()) as { message: string }).message).toMatch(/organization_id/);
    const q = await call(`/v1/token?organization_id=${crypto.randomUUID()}`, { token: u.sessionToken, json: {} });
    expect(q.status).toBe(403);
    expectErrorShape(q.body, "forbidden");
    const echoed = await call("/v1/token", { json: {}, headers: { "x-request-id": "trace-lane-1" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-lane-1");
    expect(echoed.body.request_id).toBe("trace-lane-1");
  });
});

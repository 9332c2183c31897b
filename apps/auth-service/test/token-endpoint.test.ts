// POST /v1/token has one front door (src/http/token.ts), on plain node:http in front
// of the Express app: every spelling of the path Express would route there, every
// body (plain, compressed, other JSON types), every answer with the public listener's
// security and CORS headers.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { Ajv2020 } from "ajv/dist/2020.js";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { stack } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, newUser } from "./support.ts";

// helmet's headers: the door computes them once, the Express app sets them on every answer.
const SECURITY = [
  "content-security-policy",
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
];

describe("the published token claims schema (schemas/token-claims.v1.json)", () => {
  it("accepts the claims of a token the real service mints, and refuses them with a claim missing", async () => {
    const schema = JSON.parse(readFileSync(resolve(import.meta.dirname, "../schemas/token-claims.v1.json"), "utf8"));
    const validate = new Ajv2020({ strict: true }).compile(schema);
    const u = await newUser("claims-schema");
    const r = await call("/v1/token", { token: u.sessionToken, json: {} });
    const claims = decodeJwt(r.body.access_token as string);
    expect(validate(claims), JSON.stringify(validate.errors)).toBe(true);
    const { sid: _, ...withoutSid } = claims;
    expect(validate(withoutSid)).toBe(false);
  });
});

describe("POST /v1/token: one door, every answer", () => {
  it("answers each request as the endpoint should, with the security headers of the rest of the service", async () => {
    const u = await newUser("door");
    const s = stack();
    const appOrigin = `http://app.${s.domain}:${Number(s.env.GATEHOUSE_PORT_BASE) + 1}`;
    const ct = { "content-type": "application/json" };
    const cases: [string, Parameters<typeof call>[1], number, string?][] = [
      ["session token, empty body", { token: u.sessionToken, json: {} }, 200],
      ["session token, no body", { token: u.sessionToken, method: "POST" }, 200],
      ["allowed origin", { token: u.sessionToken, json: {}, headers: { origin: appOrigin } }, 200],
      ["foreign origin", { token: u.sessionToken, json: {}, headers: { origin: "https://evil.example" } }, 200],
      ["no credential", { json: {} }, 401, "unauthenticated"],
      ["garbage token", { token: "ory_st_garbage", json: {} }, 401, "unauthenticated"],
      [
        "a JWT instead of a session",
        { json: {}, headers: { authorization: "Bearer eyJ.eyJ.sig" } },
        401,
        "unauthenticated",
      ],
      ["invalid JSON", { token: u.sessionToken, body: "{", headers: ct }, 400, "invalid_json"],
      ["JSON string", { token: u.sessionToken, body: '"x"', headers: ct }, 400, "invalid_json"],
      ["unknown field", { token: u.sessionToken, json: { role: "owner" } }, 400, "bad_request"],
      ["organization not a UUID", { token: u.sessionToken, json: { organization_id: "x" } }, 400, "bad_request"],
      [
        "foreign organization",
        { token: u.sessionToken, json: { organization_id: crypto.randomUUID() } },
        403,
        "forbidden",
      ],
      ["huge body", { token: u.sessionToken, json: { pad: "x".repeat(100_000) } }, 413, "payload_too_large"],
      [
        "text body",
        { token: u.sessionToken, body: "hi", headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      [
        "charset utf-8",
        { token: u.sessionToken, body: "{}", headers: { "content-type": "application/json; charset=utf-8" } },
        200,
      ],
      [
        "a +json type (body-parser's path)",
        { token: u.sessionToken, body: "{}", headers: { "content-type": "application/vnd.api+json" } },
        200,
      ],
    ];
    const jwks = await call("/.well-known/jwks.json");
    expect(jwks.status).toBe(200);
    for (const h of SECURITY) expect(jwks.headers.get(h), h).toBeTruthy();
    for (const [name, init, status, code] of cases) {
      const r = await call("/v1/token", init);
      expect(r.status, name).toBe(status);
      for (const h of SECURITY) expect(r.headers.get(h), `${name}: ${h}`).toBe(jwks.headers.get(h));
      expect(r.headers.get("x-request-id"), name).toMatch(/^[0-9a-f-]{36}$/);
      if (status === 200) {
        expect(r.body.token_type, name).toBe("Bearer");
        expect(r.headers.get("cache-control"), name).toBe("no-store");
      } else {
        expectErrorShape(r.body, code ?? "");
        expect(r.body.request_id, name).toBe(r.headers.get("x-request-id"));
      }
    }
    // CORS as the cors middleware answers anywhere else: an allowed Origin is echoed with credentials, no other.
    const ok = await call("/v1/token", { token: u.sessionToken, json: {}, headers: { origin: appOrigin } });
    expect(ok.headers.get("access-control-allow-origin")).toBe(appOrigin);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    expect(ok.headers.get("vary")).toMatch(/origin/i);
    const foreign = await call("/v1/token", {
      token: u.sessionToken,
      json: {},
      headers: { origin: "https://evil.example" },
    });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    expect(foreign.headers.get("access-control-allow-credentials")).toBeNull();
    const refused = await call("/v1/token", { json: {}, headers: { origin: appOrigin } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(appOrigin);
  });

  it("every spelling Express would route, a compressed body, a query-string organization, the caller's request id", async () => {
    const u = await newUser("doorgz");
    for (const path of ["/v1/token/", "/V1/Token", "/v1/token?x=1"]) {
      const r = await call(path, { token: u.sessionToken, json: {} });
      expect(r.status, path).toBe(200);
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    expect((await call("/v1/token", { token: u.sessionToken, method: "GET" })).status).toBe(404);
    const gz = await fetch(`${auth().url}/v1/token`, {
      method: "POST",
      headers: { "x-session-token": u.sessionToken, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(Buffer.from(JSON.stringify({ organization_id: "nope" }))),
    });
    expect(gz.status).toBe(400);
    expect(((await gz.json()) as { message: string }).message).toMatch(/organization_id/);
    const gzOk = await fetch(`${auth().url}/v1/token`, {
      method: "POST",
      headers: { "x-session-token": u.sessionToken, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(Buffer.from("{}")),
    });
    expect(gzOk.status).toBe(200);
    const q = await call(`/v1/token?organization_id=${crypto.randomUUID()}`, { token: u.sessionToken, json: {} });
    expect(q.status).toBe(403);
    expectErrorShape(q.body, "forbidden");
    const echoed = await call("/v1/token", { json: {}, headers: { "x-request-id": "trace-door-1" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-door-1");
    expect(echoed.body.request_id).toBe("trace-door-1");
  });
});

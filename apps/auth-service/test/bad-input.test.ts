import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { auth, call, expectErrorShape, newUser } from "./support.ts";

/** A raw HTTP/1.1 request, for what fetch refuses to send (duplicate or huge headers). */
function raw(base: string, lines: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => sock.end(lines));
    let data = "";
    sock.on("data", (d: Buffer) => {
      data += d.toString();
    });
    sock.on("end", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    sock.on("error", reject);
  });
}

describe("the auth-service answers bad input with a 4xx JSON error, never a 500", () => {
  it("unknown routes and methods", async () => {
    const r = await call("/v1/nope");
    expect(r.status).toBe(404);
    expectErrorShape(r.body, "not_found");
    const put = await call("/v1/token", { method: "PUT", json: {} });
    expect(put.status).toBe(404);
  });

  it("wrong content type, invalid JSON, wrong shape, unknown fields, oversized body", async () => {
    const u = await newUser("badinput");
    const cases: [string, Parameters<typeof call>[1], number, string][] = [
      [
        "form body",
        { token: u.sessionToken, body: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } },
        415,
        "unsupported_media_type",
      ],
      [
        "text body",
        { token: u.sessionToken, body: "hello", headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      [
        "invalid JSON",
        { token: u.sessionToken, body: '{"organization_id":', headers: { "content-type": "application/json" } },
        400,
        "invalid_json",
      ],
      [
        "JSON string",
        { token: u.sessionToken, body: '"x"', headers: { "content-type": "application/json" } },
        400,
        "invalid_json",
      ],
      ["wrong type", { token: u.sessionToken, json: { organization_id: 42 } }, 400, "bad_request"],
      [
        "unknown field",
        { token: u.sessionToken, json: { organization_id: undefined, role: "owner" } },
        400,
        "bad_request",
      ],
      ["huge body", { token: u.sessionToken, json: { pad: "x".repeat(100_000) } }, 413, "payload_too_large"],
    ];
    for (const [name, init, status, code] of cases) {
      const r = await call("/v1/token", init);
      expect(r.status, name).toBe(status);
      expectErrorShape(r.body, code);
    }
    const onboard = await call("/v1/onboarding", { token: u.sessionToken, json: { name: "", plan: "platinum" } });
    expect(onboard.status).toBe(400);
    expect(onboard.body.message).toMatch(/name|plan/);
  });

  it("duplicated, oversized and garbage credentials", async () => {
    const u = await newUser("dupcookie");
    const base = auth().url;
    // Two different session cookies: ambiguous, refused rather than guessed.
    const dup = await raw(
      base,
      `POST /v1/token HTTP/1.1\r\nHost: x\r\nCookie: ory_kratos_session=aaa; ory_kratos_session=bbb\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(dup.status).toBe(401);
    expect(JSON.parse(dup.body).error).toBe("unauthenticated");
    // X-Session-Token twice (Node joins the copies with ", "): not a valid token, so no token.
    const twice = await raw(
      base,
      `POST /v1/token HTTP/1.1\r\nHost: x\r\nX-Session-Token: ${u.sessionToken}\r\nX-Session-Token: other\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(twice.status).toBe(401);
    expect(JSON.parse(twice.body).error).toBe("unauthenticated");
    // Headers beyond Node's limit: JSON 431, not an empty socket.
    const huge = await raw(
      base,
      `POST /v1/token HTTP/1.1\r\nHost: x\r\nCookie: ory_kratos_session=${"a".repeat(40_000)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body)).toMatchObject({ error: "headers_too_large" });
    // A cookie just under the limit but too big for a Kratos cookie: treated as absent.
    const big = await call("/v1/token", { headers: { cookie: `ory_kratos_session=${"b".repeat(6_000)}` }, json: {} });
    expect(big.status).toBe(401);
    // Binary junk in the token.
    const junk = await call("/v1/token", { headers: { "x-session-token": "\u00ff\u00fe\u00fd" }, json: {} });
    expect(junk.status).toBe(401);
    // Both Content-Length and Transfer-Encoding: rejected as malformed by the HTTP parser.
    const smuggle = await raw(
      base,
      `POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    );
    expect(smuggle.status).toBe(400);
    expect(JSON.parse(smuggle.body).error).toBe("bad_request");
  });

  it("request ids: a well-formed X-Request-Id is echoed, a malicious one replaced", async () => {
    const ok = await call("/v1/nope", { headers: { "x-request-id": "trace-123" } });
    expect(ok.headers.get("x-request-id")).toBe("trace-123");
    expect(ok.body.request_id).toBe("trace-123");
    const bad = await call("/v1/nope", { headers: { "x-request-id": "x".repeat(500) } });
    expect(bad.headers.get("x-request-id")).not.toBe("x".repeat(500));
    expect(bad.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

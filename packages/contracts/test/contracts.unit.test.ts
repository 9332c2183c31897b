import { describe, expect, it } from "vitest";
import {
  apiKeySessionId,
  ERROR_CODES,
  ERRORS,
  errorBody,
  errorStatus,
  INVALIDATION_CHANNEL,
  type Invalidation,
  isErrorCode,
  parseInvalidation,
  REQUEST_ID_PATTERN,
  REVOKED_KEY_PREFIX,
  requestIdFrom,
  revokedKey,
} from "../src/index.ts";

describe("invalidation messages", () => {
  it("every message survives JSON and parses back to itself", () => {
    const messages: Invalidation[] = [
      { t: "identity", id: "0b3d0c8e-4a5c-4e0a-9d1e-6f1f8a0e2c11" },
      { t: "identity", id: apiKeySessionId("k1") },
      { t: "session", sid: "s1", until: 1_800_000_000_000 },
      { t: "keys" },
    ];
    for (const m of messages) expect(parseInvalidation(JSON.stringify(m))).toEqual(m);
  });

  it("anything else is not ours: undefined, never a throw", () => {
    for (const raw of [
      "",
      "{",
      "null",
      "[]",
      '"identity"',
      "{}",
      '{"t":"identity"}',
      '{"t":"identity","id":5}',
      '{"t":"session","sid":"s1"}',
      '{"t":"session","sid":"s1","until":"soon"}',
      '{"t":"session","sid":"s1","until":1e999}',
      '{"t":"session","until":1}',
      '{"t":"roles","id":"x"}',
    ]) {
      expect(parseInvalidation(raw), raw).toBeUndefined();
    }
  });

  it("keeps only the contract's fields", () => {
    expect(parseInvalidation('{"t":"identity","id":"u","extra":{"__proto__":1}}')).toEqual({ t: "identity", id: "u" });
  });

  it("the names every process agrees on", () => {
    // Changing any of these breaks running guards and instances mid-deploy: they are the wire format.
    expect(INVALIDATION_CHANNEL).toBe("gatehouse:invalidate");
    expect(REVOKED_KEY_PREFIX).toBe("gh:rv:");
    expect(revokedKey("s1")).toBe("gh:rv:s1");
    expect(apiKeySessionId("k1")).toBe("api_key:k1");
    expect(revokedKey(apiKeySessionId("k1")).startsWith(REVOKED_KEY_PREFIX)).toBe(true);
  });
});

describe("the error catalogue", () => {
  it("stable snake_case names, a 4xx/5xx status and a message each", () => {
    expect(ERROR_CODES.length).toBeGreaterThan(20);
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      expect(ERRORS[code].status, code).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].status, code).toBeLessThan(600);
      expect(ERRORS[code].message.length, code).toBeGreaterThan(0);
      expect(errorStatus(code)).toBe(ERRORS[code].status);
    }
  });

  it("one spelling for the second factor", () => {
    expect(isErrorCode("aal2_required")).toBe(true);
    expect(isErrorCode("aal_required")).toBe(false);
  });

  it("isErrorCode knows only the catalogue (not Object's own properties)", () => {
    for (const v of ["toString", "__proto__", "constructor", "", 401, undefined, null])
      expect(isErrorCode(v)).toBe(false);
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
  });

  it("errorBody is {error, message, request_id}, the code's message by default", () => {
    expect(JSON.parse(errorBody("not_found", "no such team", "r1"))).toEqual({
      error: "not_found",
      message: "no such team",
      request_id: "r1",
    });
    expect(JSON.parse(errorBody("payload_too_large", undefined, "r2"))).toEqual({
      error: "payload_too_large",
      message: ERRORS.payload_too_large.message,
      request_id: "r2",
    });
  });
});

describe("request ids", () => {
  it("keeps a sane caller id and replaces anything else with a UUID", () => {
    expect(requestIdFrom("trace-1.a:b_C")).toBe("trace-1.a:b_C");
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const bad of [undefined, null, "", "a b", "x".repeat(129), "<script>", "id\r\nx-evil: 1", ["a", "b"]]) {
      const id = requestIdFrom(bad);
      expect(id, String(bad)).toMatch(uuid);
      expect(REQUEST_ID_PATTERN.test(id)).toBe(true);
    }
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });
});

// Every error code the auth-service, the gateway and the guard can answer with is in
// the one catalogue (@gatehouse/contracts), with the catalogue's status. The types
// hold it where the code is typed (checked by `pnpm typecheck`); the scan below holds
// it for what a type cannot see (a literal written straight into a body).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { DomainError, type DomainErrorCode } from "../../apps/auth-service/src/domain/errors.ts";
import { type ApiError, toApiError } from "../../apps/auth-service/src/http/errors.ts";
import { ERRORS, type ErrorCode, isErrorCode } from "../../packages/contracts/src/index.ts";
import { GUARD_ERROR_CODES } from "../../packages/guard/src/core/types.ts";
import type { DenyDecision, GuardErrorCode } from "../../packages/guard/src/index.ts";
import type { errorAnswer, sendError } from "../../packages/guard/src/node.ts";
import { KRATOS_ERROR_CODES, KratosError, type KratosErrorCode } from "../../packages/kratos/src/index.ts";

const REPO = resolve(import.meta.dirname, "../..");

describe("the codes are the catalogue's, by type", () => {
  it("auth-service ApiError, the guard's sendError/errorAnswer (every entry point's refusals), guard DenyDecision", () => {
    expectTypeOf<ApiError["code"]>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<Parameters<typeof sendError>[2]>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<Parameters<typeof errorAnswer>[1]>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<DenyDecision["error"]>().toExtend<ErrorCode>();
    expectTypeOf<Exclude<GuardErrorCode, "invalid_options">>().toEqualTypeOf<DenyDecision["error"]>();
  });
});

describe("the codes are the catalogue's, at run time", () => {
  it("every guard code but invalid_options (thrown, never answered)", () => {
    for (const code of GUARD_ERROR_CODES) expect(isErrorCode(code) || code === "invalid_options", code).toBe(true);
  });

  it("the auth-service maps every domain and Kratos error to a catalogue code with its status", () => {
    const domain = {
      not_found: 1,
      conflict: 1,
      last_owner: 1,
      invalid_input: 1,
      unauthenticated: 1,
      forbidden: 1,
      email_unverified: 1,
      user_deactivated: 1,
      gone: 1,
    } satisfies Record<DomainErrorCode, 1>;
    const errors = [
      ...(Object.keys(domain) as DomainErrorCode[]).map((c) => new DomainError(c, "m")),
      ...KRATOS_ERROR_CODES.map((c: KratosErrorCode) => new KratosError(c, "m")),
      Object.assign(new Error("too big"), { type: "entity.too.large", status: 413 }),
      Object.assign(new Error("odd"), { type: "entity.verify.failed", status: 403 }),
      Object.assign(new Error("refused"), { code: "ECONNREFUSED" }),
      new Error("anything else"),
      null,
      "a string",
    ];
    for (const e of errors) {
      const err = toApiError(e);
      expect(isErrorCode(err.code), String(e)).toBe(true);
      expect(err.status, `${String(e)} → ${err.code}`).toBe(ERRORS[err.code].status);
    }
    expect(toApiError(new KratosError("aal2_required", "m")).code).toBe("aal2_required");
  });

  // Where a code can appear in the services' and the guard's source as a literal.
  const EMITTING = [
    /new ApiError\(\s*"([a-z0-9_]+)"/g,
    /new GuardError\(\s*"([a-z0-9_]+)"/g,
    /errorBody\(\s*"([a-z0-9_]+)"/g,
    /\b(?:sendError|refuse|errorAnswer)\((?:[^()"]*?,\s*)?\d{3},\s*"([a-z0-9_]+)"/g,
    /\berror:\s*"([a-z0-9_]+)"/g,
  ];
  const SOURCES = ["apps/auth-service/src", "apps/gateway/src", "packages/guard/src", "packages/contracts/src"];

  function codesIn(text: string): string[] {
    const out: string[] = [];
    for (const re of EMITTING) for (const m of text.matchAll(re)) if (m[1]) out.push(m[1]);
    return out;
  }

  function* files(dir: string): Generator<string> {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) yield* files(p);
      else if (p.endsWith(".ts")) yield p;
    }
  }

  it("the scan finds the forms it looks for", () => {
    expect(
      codesIn(
        'throw new ApiError("gone"); new GuardError("forbidden", "x"); sendError(res, 404, "not_found", "m"); ' +
          'refuse(400, "bad_request", "m"); errorBody("internal", undefined, id); {error: "bad_gateway"}',
      ),
    ).toEqual(["gone", "forbidden", "internal", "not_found", "bad_request", "bad_gateway"]);
  });

  it("every code literal the auth-service, the gateway and the guard write is in the catalogue", () => {
    const found = new Map<string, string>();
    for (const dir of SOURCES) {
      for (const file of files(resolve(REPO, dir))) {
        for (const code of codesIn(readFileSync(file, "utf8"))) found.set(code, relative(REPO, file));
      }
    }
    // Not an answer: the guard throws it at a bad option, it never becomes a decision.
    const notAnswers = new Set(["invalid_options"]);
    const unknown = [...found].filter(([code]) => !isErrorCode(code) && !notAnswers.has(code));
    expect(unknown).toEqual([]);
    expect(found.size).toBeGreaterThan(20); // the scan saw the services' codes
  });
});

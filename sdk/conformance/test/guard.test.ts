// The Node side of the conformance table: the guard (status and error code, what a
// client sees) and the verifier underneath it (the reason) must reach every case's
// expected outcome. sdk/go and sdk/python run the same file.
import { createGuard, type Rule } from "@gatehouse/guard";
import { createLocalJwks, createVerifier, isTokenError, type SigningAlg } from "@gatehouse/tokens";
import { describe, expect, it } from "vitest";
import { buildVectors } from "../src/generate.ts";
import { loadVectors } from "../src/vectors.ts";

const v = loadVectors();
const AUTH = "http://auth.conformance.test";

const guard = createGuard({
  authServiceUrl: AUTH,
  issuer: v.issuer,
  audience: v.audience,
  algorithms: v.algorithms as SigningAlg[],
  clockToleranceSec: v.leeway_sec,
  now: () => v.now * 1000,
  // The JWT path only ever fetches the key set; anything else would be a bug here.
  fetch: async (input) => {
    if (String(input) !== `${AUTH}/.well-known/jwks.json`) throw new Error(`unexpected fetch ${String(input)}`);
    return new Response(JSON.stringify(v.jwks), { headers: { "content-type": "application/json" } });
  },
});

const verifier = createVerifier({
  jwks: createLocalJwks(v.jwks.keys),
  issuer: v.issuer,
  audience: v.audience,
  algorithms: v.algorithms as SigningAlg[],
  clockToleranceSec: v.leeway_sec,
  now: () => v.now,
});

async function reasonOf(token: string): Promise<string | undefined> {
  try {
    await verifier.verify(token);
    return undefined;
  } catch (error) {
    return isTokenError(error) ? error.code : `not a TokenError: ${String(error)}`;
  }
}

describe("conformance vectors: the Node guard", () => {
  it("is what the generator writes today (regenerate after changing a case)", async () => {
    const shape = (c: (typeof v.cases)[number]) => ({ name: c.name, rule: c.rule, expect: c.expect });
    const fresh = await buildVectors();
    expect(fresh.cases.map(shape)).toEqual(v.cases.map(shape));
    expect({ ...fresh, cases: [], jwks: undefined }).toEqual({ ...v, cases: [], jwks: undefined });
  });

  it("covers every outcome", () => {
    const statuses = new Set(v.cases.map((c) => c.expect.status));
    expect([...statuses].sort()).toEqual([200, 401, 403]);
  });

  it.each(v.cases)("$name", async (c) => {
    const request = {
      method: "GET",
      url: "http://app.test/x",
      headers: new Headers({ authorization: `Bearer ${c.token}` }),
    };
    const decision = await guard.check(request, (c.rule ?? {}) as Rule);
    const outcome =
      decision.kind === "allow"
        ? { status: 200 }
        : decision.kind === "deny"
          ? { status: decision.status, error: decision.error }
          : { status: decision.status };
    const { reason, ...visible } = c.expect;
    expect(outcome).toEqual(visible);
    if (reason !== undefined) expect(await reasonOf(c.token)).toBe(reason);
  });
});

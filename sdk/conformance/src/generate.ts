// Writes vectors.json: a key set, a fixed clock, and tokens (valid ones and every
// kind of forgery or misfit) with the outcome each SDK must reach for a route rule.
// The Node guard, sdk/go and sdk/python all read the same file, so they agree case by
// case. Keys are fresh on every run (the public half ships in the file; the private
// halves are thrown away), so rerun it after changing a case and commit the result:
//   pnpm --filter @gatehouse/conformance generate
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ACCESS_TOKEN_TYP, type AccessTokenClaims, type SigningAlg } from "@gatehouse/tokens";
import { base64url, CompactSign, exportJWK, exportSPKI, generateKeyPair, type JWK } from "jose";
import { type Case, type Expectation, VECTORS_PATH, type Vectors } from "./vectors.ts";

const NOW = 1_800_000_000; // 2027-01-15; every SDK verifies with this clock
const LEEWAY = 10; // the Node guard's default clockToleranceSec
const ISSUER = "http://127.0.0.1:7430";
const AUDIENCE = "gatehouse";
const ORG = "0b9c1a52-6a57-4f0e-9a7e-3c1d2b4e5f60";

interface Key {
  kid: string;
  alg: SigningAlg | "RS384";
  privateKey: CryptoKey;
  publicJwk: JWK;
  spki: string;
}

async function makeKey(kid: string, alg: SigningAlg): Promise<Key> {
  const options = alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true };
  const { privateKey, publicKey } = await generateKeyPair(alg, options);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk, spki: await exportSPKI(publicKey) };
}

function claims(overrides: Partial<Record<keyof AccessTokenClaims, unknown>> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: [AUDIENCE],
    sub: "6f1c2d3e-4b5a-4968-8776-655443322110",
    sid: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    jti: "conformance",
    iat: NOW - 60,
    nbf: NOW - 60,
    exp: NOW + 240,
    ver: 1,
    email: "member@example.com",
    email_verified: true,
    org: ORG,
    plan: "pro",
    role: "member",
    teams: [{ id: "c3d4e5f6-a7b8-4c9d-8e0f-112233445566", role: "member" }],
    perms: ["companies:read", "teams:read"],
    aal: "aal1",
    amr: ["password"],
    ...overrides,
  };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function sign(key: Key, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader = { alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP, ...header };
  // `crit` names a parameter jose must be told it understands, or it refuses to sign.
  const crit = Array.isArray(header.crit) ? Object.fromEntries(header.crit.map((c: string) => [c, true])) : undefined;
  return new CompactSign(json(payload))
    .setProtectedHeader(protectedHeader as Parameters<CompactSign["setProtectedHeader"]>[0])
    .sign(key.privateKey, crit === undefined ? undefined : { crit });
}

/** A token assembled by hand: for headers no JOSE library will sign (alg none, HS256 with a public key). */
async function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, secret?: string) {
  const input = `${base64url.encode(json(header))}.${base64url.encode(json(payload))}`;
  if (secret === undefined) return `${input}.`;
  const { createHmac } = await import("node:crypto");
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const ok: Expectation = { status: 200 };
const rejected = (reason: string): Expectation => ({ status: 401, error: "invalid_token", reason });

/** The table with fresh keys and tokens (names, rules and expectations are fixed). */
export async function buildVectors(): Promise<Vectors> {
  const es = await makeKey("conformance-es256", "ES256");
  const rs = await makeKey("conformance-rs256", "RS256");
  const ed = await makeKey("conformance-eddsa", "EdDSA");
  // The attacker's keys: never in the published set.
  const evil = await makeKey("attacker-es256", "ES256");
  const { privateKey: rs384Private } = await generateKeyPair("RS384", { extractable: true });
  const rs384: Key = { ...rs, alg: "RS384", privateKey: rs384Private };

  const valid = await sign(es, claims());
  const [vh, vp] = valid.split(".") as [string, string, string];
  const admin = claims({ role: "admin", perms: ["companies:read", "companies:write", "teams:read", "teams:write"] });
  const adminAal2 = { ...admin, aal: "aal2", amr: ["password", "totp"] };
  const noOrg = claims({ org: undefined, plan: undefined, role: undefined, teams: [], perms: [] });
  // A member of an organization that requires a second factor (the claim auth-service mints).
  const mfaOrg = claims({ plan: "enterprise", mfa_required: true });

  const cases: Case[] = [
    { name: "valid ES256 token", token: valid, expect: ok },
    { name: "valid RS256 token", token: await sign(rs, claims()), expect: ok },
    { name: "valid EdDSA token", token: await sign(ed, claims()), expect: ok },
    {
      name: "typ with the application/ prefix",
      token: await sign(es, claims(), { typ: "application/at+jwt" }),
      expect: ok,
    },
    { name: "expired, but within the leeway", token: await sign(es, claims({ exp: NOW - 5 })), expect: ok },
    { name: "not yet valid, but within the leeway", token: await sign(es, claims({ nbf: NOW + 5 })), expect: ok },
    { name: "aud as a single string", token: await sign(es, claims({ aud: AUDIENCE })), expect: ok },
    // Forgeries.
    {
      name: "alg none, no signature",
      token: await handMade({ alg: "none", kid: es.kid, typ: ACCESS_TOKEN_TYP }, claims()),
      expect: rejected("token_alg_not_allowed"),
    },
    {
      name: "HS256 signed with the RSA public key (key confusion)",
      token: await handMade({ alg: "HS256", kid: rs.kid, typ: ACCESS_TOKEN_TYP }, claims(), rs.spki),
      expect: rejected("token_alg_not_allowed"),
    },
    {
      name: "RS384 with a published RS256 key (alg outside the allowlist)",
      token: await sign(rs384, claims()),
      expect: rejected("token_alg_not_allowed"),
    },
    {
      name: "embedded jwk header carrying the attacker's key",
      token: await sign({ ...evil, kid: es.kid }, claims(), { jwk: evil.publicJwk }),
      expect: rejected("token_header_forbidden"),
    },
    {
      name: "jku header pointing at the attacker's key set",
      token: await sign({ ...evil, kid: es.kid }, claims(), { jku: "https://attacker.example/jwks.json" }),
      expect: rejected("token_header_forbidden"),
    },
    {
      name: "x5u header",
      token: await sign({ ...evil, kid: es.kid }, claims(), { x5u: "https://attacker.example/cert.pem" }),
      expect: rejected("token_header_forbidden"),
    },
    {
      name: "crit header",
      token: await sign(es, claims(), { crit: ["gh-ext"], "gh-ext": true }),
      expect: rejected("token_header_forbidden"),
    },
    { name: "unknown kid", token: await sign(evil, claims()), expect: rejected("token_key_unknown") },
    { name: "no kid", token: await sign(es, claims(), { kid: undefined }), expect: rejected("token_key_unknown") },
    {
      name: "attacker's signature under a published kid",
      token: await sign({ ...evil, kid: es.kid }, claims()),
      expect: rejected("token_signature_invalid"),
    },
    {
      name: "tampered payload (role raised to owner)",
      token: `${vh}.${base64url.encode(json(claims({ role: "owner" })))}.${valid.split(".")[2]}`,
      expect: rejected("token_signature_invalid"),
    },
    { name: "stripped signature", token: `${vh}.${vp}.`, expect: rejected("token_signature_invalid") },
    { name: "not a JWT", token: "not-a-jwt", expect: rejected("token_malformed") },
    // Well signed, but not for us or not now.
    {
      name: "expired beyond the leeway",
      token: await sign(es, claims({ exp: NOW - 60 })),
      expect: rejected("token_expired"),
    },
    {
      name: "not yet valid beyond the leeway",
      token: await sign(es, claims({ nbf: NOW + 60 })),
      expect: rejected("token_not_yet_valid"),
    },
    {
      name: "wrong iss",
      token: await sign(es, claims({ iss: "https://evil.example" })),
      expect: rejected("token_issuer_invalid"),
    },
    {
      name: "wrong aud",
      token: await sign(es, claims({ aud: ["billing"] })),
      expect: rejected("token_audience_invalid"),
    },
    { name: "typ JWT", token: await sign(es, claims(), { typ: "JWT" }), expect: rejected("token_type_invalid") },
    { name: "no typ", token: await sign(es, claims(), { typ: undefined }), expect: rejected("token_type_invalid") },
    {
      name: "unknown claims version",
      token: await sign(es, claims({ ver: 2 })),
      expect: rejected("token_claims_invalid"),
    },
    // Authenticated, but the route asks for more.
    {
      name: "member on an admin route",
      token: valid,
      rule: { roles: ["admin", "owner"] },
      expect: { status: 403, error: "forbidden" },
    },
    {
      name: "member without the write permission",
      token: valid,
      rule: { permissions: ["teams:write"] },
      expect: { status: 403, error: "forbidden" },
    },
    { name: "member with the read permission", token: valid, rule: { permissions: ["teams:read"] }, expect: ok },
    {
      name: "aal1 on an aal2 route",
      token: valid,
      rule: { aal: "aal2" },
      expect: { status: 403, error: "aal2_required" },
    },
    {
      name: "admin at aal1 on an admin aal2 route (role passes, aal does not)",
      token: await sign(es, admin),
      rule: { roles: ["admin"], aal: "aal2" },
      expect: { status: 403, error: "aal2_required" },
    },
    {
      name: "admin at aal2 on an admin aal2 route",
      token: await sign(es, adminAal2),
      rule: { roles: ["admin"], permissions: ["teams:write"], aal: "aal2" },
      expect: ok,
    },
    {
      name: "no organization on a role route",
      token: await sign(es, noOrg),
      rule: { roles: ["member"] },
      expect: { status: 403, error: "forbidden" },
    },
    { name: "no organization on an open route", token: await sign(es, noOrg), expect: ok },
    // The organization's requirement applies on every route, whatever the route asks.
    {
      name: "aal1 in an organization that requires a second factor, on an open route",
      token: await sign(es, mfaOrg),
      expect: { status: 403, error: "aal2_required" },
    },
    {
      name: "aal2 in an organization that requires a second factor",
      token: await sign(es, { ...mfaOrg, aal: "aal2", amr: ["password", "totp"] }),
      rule: { permissions: ["teams:read"] },
      expect: ok,
    },
    {
      name: "mfa_required other than true",
      token: await sign(es, claims({ mfa_required: false })),
      expect: rejected("token_claims_invalid"),
    },
    {
      name: "mfa_required without an organization",
      token: await sign(es, { ...noOrg, mfa_required: true }),
      expect: rejected("token_claims_invalid"),
    },
  ];

  return {
    description:
      "Gatehouse SDK conformance vectors: verify each token with `jwks`, `issuer`, `audience`, `algorithms`, " +
      "`leeway_sec`, and the clock at `now`, then apply `rule`; the outcome must be `expect` " +
      "(status, the error body's `error`, and for invalid tokens the verifier's `reason`).",
    generator: "sdk/conformance/src/generate.ts",
    now: NOW,
    leeway_sec: LEEWAY,
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ["RS256", "ES256", "EdDSA"],
    jwks: { keys: [es.publicJwk, rs.publicJwk, ed.publicJwk] },
    cases,
  };
}

if (import.meta.main) {
  const vectors = await buildVectors();
  writeFileSync(resolve(VECTORS_PATH), `${JSON.stringify(vectors, null, 2)}\n`);
  console.log(`wrote ${vectors.cases.length} cases to ${VECTORS_PATH}`);
}

import { CompactSign, importJWK, type JWK } from "jose";
import {
  type AccessTokenClaims,
  createLocalJwks,
  createSigner,
  createVerifier,
  generateSigningKey,
  type JwksSource,
  type MintInput,
  mintClaims,
  type SigningAlg,
  type SigningKey,
  TokenError,
  type VerifierOptions,
} from "../src/index.ts";

export const ISSUER = "https://auth.gatehouse.test";
export const AUDIENCE = "app.gatehouse.test";
/** A fixed "now" (seconds) so time edges are exact. */
export const NOW = 1_800_000_000;

export const baseInput: MintInput = {
  iss: ISSUER,
  aud: AUDIENCE,
  sub: "0b6c2a3e-1f2d-4c5b-9a8e-7d6c5b4a3f21",
  sid: "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
  email: "ada@example.com",
  email_verified: true,
  name: { first: "Ada", last: "Lovelace" },
  org: "org_123",
  plan: "pro",
  role: "admin",
  teams: [{ id: "team_core", role: "lead" }],
  perms: ["billing:read", "members:invite"],
  aal: "aal2",
  amr: ["password", "totp"],
};

export function claimsAt(now = NOW, lifetimeSec = 300, overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return { ...mintClaims(baseInput, { now, lifetimeSec, notAfter: now + 3600 }), ...overrides };
}

const keyCache = new Map<SigningAlg, Promise<SigningKey>>();
/** One key per algorithm per test file: RSA generation is slow enough to matter. */
export function keyFor(alg: SigningAlg): Promise<SigningKey> {
  let key = keyCache.get(alg);
  if (key === undefined) {
    key = generateSigningKey(alg);
    keyCache.set(alg, key);
  }
  return key;
}

export async function tokenFor(alg: SigningAlg, claims: AccessTokenClaims = claimsAt()): Promise<string> {
  const key = await keyFor(alg);
  return (await createSigner(key)).sign(claims);
}

export function verifierFor(
  jwks: JWK[] | JwksSource,
  options: Partial<VerifierOptions> = {},
): ReturnType<typeof createVerifier> {
  return createVerifier({
    jwks: Array.isArray(jwks) ? createLocalJwks(jwks) : jwks,
    issuer: ISSUER,
    audience: AUDIENCE,
    now: () => NOW,
    ...options,
  });
}

/**
 * Signs any header + payload with the real private key through jose's CompactSign,
 * bypassing our signer, to build tokens that are validly signed but otherwise hostile.
 */
export async function craft(
  key: SigningKey,
  header: Record<string, unknown>,
  payload: unknown = claimsAt(),
): Promise<string> {
  const imported = await importJWK(key.privateJwk, key.alg);
  if (imported instanceof Uint8Array) throw new Error("unexpected symmetric key");
  const fullHeader = { alg: key.alg, kid: key.kid, typ: "at+jwt", ...header };
  // jose refuses to sign a "crit" it does not know unless told the parameter is understood.
  const crit = Array.isArray(header.crit)
    ? Object.fromEntries(header.crit.map((name: unknown) => [String(name), true]))
    : undefined;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(fullHeader as Parameters<CompactSign["setProtectedHeader"]>[0])
    .sign(imported, crit === undefined ? {} : { crit });
}

/** Resolves to the TokenError code a promise rejects with (fails the test otherwise). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenError) return error.code;
    throw new Error(`expected a TokenError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a rejection, but the promise resolved");
}

export function b64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

import { base64url, CompactSign, importJWK, type JWK } from "jose";
import { type AccessTokenClaims, CLAIMS_VERSION, parseClaims } from "./claims.ts";
import { TokenError } from "./errors.ts";
import { isSigningAlg, jwkFitsAlg, type SigningAlg } from "./keys.ts";

/** RFC 9068 media type for JWT access tokens; verifiers require it (no token-type confusion). */
export const ACCESS_TOKEN_TYP = "at+jwt";

export interface SignerKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateJwk: JWK;
}

export interface Signer {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Validates the claims (never mint what a verifier would reject), then signs. */
  sign(claims: AccessTokenClaims): Promise<string>;
}

/**
 * Checks a signing key before any signer imports it, and returns the JWK members a
 * crypto API imports. Shared by createSigner and the Node signer (./node.ts).
 */
export function signerMaterial(key: SignerKey): JWK {
  const { kid, alg, privateJwk } = key;
  if (typeof kid !== "string" || kid.length === 0) throw new TokenError("key_invalid", "signing key needs a kid");
  if (!isSigningAlg(alg)) throw new TokenError("key_invalid", `unsupported signing algorithm ${String(alg)}`);
  if (typeof privateJwk !== "object" || privateJwk === null || typeof privateJwk.d !== "string") {
    throw new TokenError("key_invalid", "signing key must be a private JWK");
  }
  if (!jwkFitsAlg(privateJwk, alg) || (privateJwk.alg !== undefined && privateJwk.alg !== alg)) {
    throw new TokenError("key_invalid", `private JWK does not fit ${alg}`);
  }
  // A kid that disagrees with the JWK's own would publish one key and sign as another.
  if (privateJwk.kid !== undefined && privateJwk.kid !== kid) {
    throw new TokenError("key_invalid", "kid does not match the private JWK's kid");
  }
  // key_ops/use/ext are metadata that a crypto API may refuse; the alg check above is ours.
  const { key_ops: _ops, ext: _ext, use: _use, ...material } = privateJwk;
  return material;
}

/** The JWS protected header of every access token. */
export const protectedHeader = (key: Pick<SignerKey, "alg" | "kid">) => ({
  alg: key.alg,
  kid: key.kid,
  typ: ACCESS_TOKEN_TYP,
});

/**
 * Imports the private key once (importing per token would dominate signing time for
 * RSA) and returns a signer whose tokens carry `{alg, kid, typ: "at+jwt"}`. Web
 * Crypto, so it runs in any runtime; on Node, `@gatehouse/tokens/node` signs the
 * same tokens with less latency.
 */
export async function createSigner(key: SignerKey): Promise<Signer> {
  const material = signerMaterial(key);
  const { kid, alg } = key;
  let cryptoKey: CryptoKey;
  try {
    const imported = await importJWK(material, alg, { extractable: false });
    if (imported instanceof Uint8Array) throw new Error("symmetric key");
    cryptoKey = imported;
  } catch (cause) {
    throw new TokenError("key_invalid", `cannot import private key ${kid}`, { cause });
  }

  const header = protectedHeader(key);
  const encoder = new TextEncoder();
  return {
    kid,
    alg,
    async sign(claims: AccessTokenClaims): Promise<string> {
      const checked = parseClaims(claims);
      return new CompactSign(encoder.encode(JSON.stringify(checked))).setProtectedHeader(header).sign(cryptoKey);
    },
  };
}

export type MintInput = Omit<AccessTokenClaims, "iat" | "nbf" | "exp" | "jti" | "ver">;

export interface MintOptions {
  /** Current time, seconds since the epoch. Injectable for tests; defaults to the clock. */
  now?: number;
  /** Intended token lifetime in seconds (e.g. 300). */
  lifetimeSec: number;
  /** Upper bound for exp, seconds since the epoch: the Kratos session's expires_at. */
  notAfter: number;
}

/** 16 random bytes, base64url: unique enough to key a deny-list or replay cache. */
export function randomJti(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Completes claims with iat/nbf/exp/jti/ver. exp is capped at the session's expiry so a
 * token never outlives the session it was minted from.
 */
export function mintClaims(input: MintInput, opts: MintOptions): AccessTokenClaims {
  const now = Math.floor(opts.now ?? Date.now() / 1000);
  const { lifetimeSec, notAfter } = opts;
  if (!Number.isSafeInteger(lifetimeSec) || lifetimeSec <= 0) {
    throw new RangeError("lifetimeSec must be a positive integer number of seconds");
  }
  if (typeof notAfter !== "number" || !Number.isFinite(notAfter)) {
    throw new RangeError("notAfter must be seconds since the epoch");
  }
  const cap = Math.floor(notAfter);
  if (cap <= now) throw new TokenError("token_expired", "the session has already expired");
  return parseClaims({
    ...input,
    ver: CLAIMS_VERSION,
    jti: randomJti(),
    iat: now,
    // nbf = iat: verifiers allow clock skew through their tolerance, not through us.
    nbf: now,
    exp: Math.min(now + lifetimeSec, cap),
  });
}
